"""Bulk exports: rows of a PostgreSQL query streamed as CSV, NDJSON or Parquet, batch by batch.

Rows come from a server-side cursor (`DECLARE ... CURSOR`, fetched `BATCH_ROWS` at a time), and each batch is
encoded and handed to the client before the next is fetched: memory stays constant whatever the size. The
HTTP server only asks for the next chunk once the previous one was sent, so a slow client slows the query
down, and a client that disconnects cancels the task: the cursor's transaction is rolled back (psycopg
cancels a statement still running), which ends the query.
"""

from __future__ import annotations

import io
import re
from base64 import b64encode
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import AsyncConnection
from pydantic_core import to_json

BATCH_ROWS = 2_000  # per FETCH: a few milliseconds of encoding, so other requests interleave
PARQUET_ROW_GROUP_ROWS = 64_000


class Format(str, Enum):
    csv = "csv"
    ndjson = "ndjson"
    parquet = "parquet"


MEDIA_TYPES = {
    Format.csv: "text/csv; charset=utf-8",
    Format.ndjson: "application/x-ndjson",
    Format.parquet: "application/vnd.apache.parquet",
}

# PostgreSQL type OIDs -> Arrow types; anything else is written as its text.
_ARROW = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    1043: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


_NEEDS_QUOTES = re.compile(r'[",\r\n]|^\s|\s$')


def _csv_field(value: Any) -> str:  # noqa: ANN401 - a cell of any column type
    """One CSV field as PostgreSQL's `COPY ... CSV` writes it: NULL is nothing, an empty string is `""`."""
    if value is None:
        return ""
    text = _text(value)
    if text == "" or _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _text(value: Any) -> str:  # noqa: ANN401 - a cell of any column type
    """A cell as text: instants in RFC 3339 UTC with `Z` (as the JSON API writes them), bytes in base64."""
    if isinstance(value, datetime):
        text = value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back to the same double
    if isinstance(value, bytes | memoryview):
        return b64encode(bytes(value)).decode()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_instant(value: datetime | None) -> str:
    if value is None:
        return ""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else _csv_field(value)


def _csv_formatter(oid: int) -> Callable[[Any], str]:
    """The fastest exact formatter for a column type (numbers never need quotes); `_csv_field` for the rest."""
    if oid in (20, 21, 23):
        return lambda v: "" if v is None else str(v)
    if oid in (700, 701):
        return lambda v: "" if v is None else repr(v)
    if oid == 1184:
        return _csv_instant
    return _csv_field


class _Sink(io.RawIOBase):
    """A write-only file for pyarrow that hands over what was written since the last `take()`."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._position = 0  # Parquet's metadata records where each column chunk starts

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def take(self) -> bytes:
        out, self._chunks = b"".join(self._chunks), []
        return out


class Encoder:
    """Turns batches of rows into bytes of one format; `header()` first, `footer()` last."""

    def __init__(self, fmt: Format, names: Sequence[str], type_oids: Sequence[int]) -> None:
        self.fmt, self.names = fmt, list(names)
        self.csv_formatters = [_csv_formatter(oid) for oid in type_oids]
        self.binary = [i for i, oid in enumerate(type_oids) if oid == 17]  # bytea: standard base64 in JSON too
        if fmt is Format.parquet:
            self.types = [_ARROW.get(oid, pa.string()) for oid in type_oids]
            self.converters: list[Callable[[Any], Any]] = [
                (lambda v: v) if oid in _ARROW else (lambda v: None if v is None else str(v)) for oid in type_oids
            ]
            self.schema = pa.schema([pa.field(n, t) for n, t in zip(self.names, self.types, strict=True)])
            self.sink = _Sink()
            self.writer = pq.ParquetWriter(pa.PythonFile(self.sink, mode="w"), self.schema, compression="zstd")
            self.pending: list[pa.RecordBatch] = []
            self.pending_rows = 0

    def header(self) -> bytes:
        if self.fmt is Format.csv:
            return (",".join(_csv_field(n) for n in self.names) + "\n").encode()
        return self.sink.take() if self.fmt is Format.parquet else b""

    def batch(self, rows: list[tuple]) -> bytes:
        if self.fmt is Format.csv:
            fmts = self.csv_formatters
            return "".join(",".join([f(v) for f, v in zip(fmts, row, strict=True)]) + "\n" for row in rows).encode()
        if self.fmt is Format.ndjson:
            if self.binary:
                rows = [
                    tuple(_text(v) if i in self.binary and v is not None else v for i, v in enumerate(r)) for r in rows
                ]
            return b"".join(
                to_json(dict(zip(self.names, row, strict=True)), inf_nan_mode="strings") + b"\n" for row in rows
            )
        columns = [
            pa.array([conv(row[i]) for row in rows], type=t)
            for i, (conv, t) in enumerate(zip(self.converters, self.types, strict=True))
        ]
        self.pending.append(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.pending_rows += len(rows)
        if self.pending_rows >= PARQUET_ROW_GROUP_ROWS:
            return self._flush_row_group()
        return b""

    def footer(self) -> bytes:
        if self.fmt is not Format.parquet:
            return b""
        last_row_group = self._flush_row_group()
        self.writer.close()
        return last_row_group + self.sink.take()

    def _flush_row_group(self) -> bytes:
        if self.pending:
            self.writer.write_table(pa.Table.from_batches(self.pending), row_group_size=self.pending_rows)
            self.pending, self.pending_rows = [], 0
        return self.sink.take()


async def stream_query(
    conn: AsyncConnection, sql: str, params: dict[str, Any], fmt: Format
) -> AsyncIterator[bytes]:  # fmt: skip
    """Run `sql` through a server-side cursor on `conn` (inside a transaction) and yield the encoded file.

    The first chunk is yielded once the query has started (so errors such as a missing table surface before
    the response begins); it may be empty."""
    async with conn.cursor(name="streampulse_export") as cur:
        await cur.execute(sql, params)
        description = cur.description or []
        encoder = Encoder(fmt, [c.name for c in description], [c.type_code for c in description])
        yield encoder.header()
        while rows := await cur.fetchmany(BATCH_ROWS):
            chunk = encoder.batch(rows)
            if chunk:
                yield chunk
        yield encoder.footer()
