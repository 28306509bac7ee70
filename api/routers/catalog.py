"""The content catalog the generator publishes: search by title, one item by id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import responses
from api.params import Limit, after_cursor, cursor_query, page

router = APIRouter(prefix="/catalog", tags=["catalog"])


class CatalogItem(BaseModel):
    content_id: str = Field(examples=["mov-000123"])
    title: str = Field(examples=["The Quiet Harbor"])
    content_type: str = Field(examples=["movie"])
    genre: str = Field(examples=["drama"])
    released_at: datetime = Field(examples=["2025-11-20T00:00:00Z"])
    price_usd_cents: int = Field(ge=0, examples=[399])


class CatalogPage(BaseModel):
    items: list[CatalogItem] = Field(description="By title, then id.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


_COLUMNS = "content_id, title, content_type, genre, released_at, price_usd_cents"
_FIELDS = list(CatalogItem.model_fields)
TEXT = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@router.get(
    "", response_model=CatalogPage, summary="Search the catalog by title", responses=responses(401, 403, 422, 429)
)
async def search(
    conn: DbConn,
    _key: ReadKey,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=TEXT,
            description="Case-insensitive substring of the title.",
            examples=["harbor"],
        ),
    ] = None,
    content_type: Annotated[str | None, Query(pattern=r"^[A-Za-z_]{1,32}$", examples=["MOVIE"])] = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, cursor_query((str, str))] = None,
) -> CatalogPage:
    """Items whose title contains `q` (any case), optionally of one content type, by title. Keyset pagination."""
    where, params = ["true"], {"limit": limit + 1}
    if q:
        where.append("title ilike %(q)s")
        params["q"] = _like(q)
    if content_type:
        where.append("content_type = %(type)s")
        params["type"] = content_type
    after, after_params = after_cursor(cursor, ["title", "content_id"], (str, str))
    where.append(after)
    params |= after_params
    sql = (
        f"select {_COLUMNS} from catalog.content where {' and '.join(where)} order by title, content_id limit %(limit)s"
    )
    cur = await conn.execute(sql, params)
    rows = await cur.fetchall()
    items, next_cursor = page(
        [CatalogItem(**dict(zip(_FIELDS, r, strict=True))) for r in rows], limit, lambda i: [i.title, i.content_id]
    )
    return CatalogPage(items=items, next_cursor=next_cursor)


@router.get("/{content_id}", response_model=CatalogItem, summary="One catalog item",
            responses=responses(401, 403, 404, 422, 429))  # fmt: skip
async def item(
    conn: DbConn,
    _key: ReadKey,
    content_id: Annotated[
        str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["mov-000123"])
    ],  # fmt: skip
) -> CatalogItem:
    """One item by id; `404` when it is not in the catalog."""
    cur = await conn.execute(f"select {_COLUMNS} from catalog.content where content_id = %s", (content_id,))
    row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"content_id: no catalog item '{content_id}'")
    return CatalogItem(**dict(zip(_FIELDS, row, strict=True)))
