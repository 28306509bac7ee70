"""Daily reports written by the reports pipeline: `<reports_dir>/YYYY-MM-DD/report.html` and `*.csv` extracts."""

from __future__ import annotations

from datetime import date
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import ReadKey
from api.errors import responses
from api.params import Limit, cursor_query, decode_cursor, page

router = APIRouter(prefix="/reports", tags=["reports"])
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
FILE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.(html|csv)$"
MEDIA = {".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8"}


class ReportFile(BaseModel):
    name: str = Field(examples=["report.html"])
    size_bytes: int = Field(ge=0, examples=[48213])
    url: str = Field(description="Download path (send the API key).", examples=["/v1/reports/2026-01-01/report.html"])


class Report(BaseModel):
    day: date = Field(examples=["2026-01-01"])
    files: list[ReportFile]


class ReportPage(BaseModel):
    items: list[Report] = Field(description="Newest day first.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


def _root(request: Request) -> FsPath:
    return request.app.state.settings.reports_dir.resolve()


def _files(folder: FsPath, day: str) -> list[ReportFile]:
    import re

    return [
        ReportFile(name=f.name, size_bytes=f.stat().st_size, url=f"/v1/reports/{day}/{f.name}")
        for f in sorted(folder.iterdir())
        if f.is_file() and not f.is_symlink() and re.match(FILE, f.name)
    ]


@router.get("", response_model=ReportPage, summary="List daily reports", responses=responses(401, 403, 422, 429))
async def list_reports(
    request: Request, _key: ReadKey, limit: Limit = 30, cursor: Annotated[str | None, cursor_query((date,))] = None
) -> ReportPage:
    """The days that have a report folder, newest first, with their files. Keyset pagination by day."""
    root = _root(request)
    before = decode_cursor(cursor, (date,))[0] if cursor else None
    days = []
    if root.is_dir():
        for folder in root.iterdir():
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if folder.is_dir() and not folder.is_symlink() and (before is None or day < before):
                days.append(day)
    days.sort(reverse=True)
    days, next_cursor = page(days, limit, lambda d: [d])
    return ReportPage(items=[Report(day=d, files=_files(root / d.isoformat(), d.isoformat())) for d in days],
                      next_cursor=next_cursor)  # fmt: skip


@router.get(
    "/{day}/{filename}",
    response_class=FileResponse,
    summary="Download a report file",
    responses={
        200: {"description": "The file.", "content": {"text/html": {}, "text/csv": {}}},
        **responses(401, 403, 404, 422, 429),
    },
)
async def download(
    request: Request,
    _key: ReadKey,
    day: Annotated[str, Path(pattern=DAY, examples=["2026-01-01"])],
    filename: Annotated[str, Path(pattern=FILE, examples=["report.html"])],
) -> FileResponse:
    """One file of a day's report (`report.html` or a `.csv` extract). Names are checked against a strict
    pattern and the resolved path must stay inside the reports directory: no traversal, no symlinks out."""
    root = _root(request)
    path = (root / day / filename).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, f"filename: no report file '{day}/{filename}'")
    return FileResponse(path, media_type=MEDIA[path.suffix], filename=filename)
