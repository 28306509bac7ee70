"""The export encoders without a database: what goes in batch by batch reads back exactly, in every format."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, datetime, timedelta, timezone

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from api.exports import PARQUET_ROW_GROUP_ROWS, Encoder, Format

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
NAMES = ["id", "at", "n", "x", "maybe", "day", "raw", "ok", "note"]
OIDS = [25, 1184, 20, 701, 701, 1082, 17, 16, 25]


def _rows(count: int) -> list[tuple]:
    notes = ["", None, 'say "hi", then\nleave', " padded ", "plain"]
    return [
        (f"item-{i:05d}", T0 + timedelta(minutes=i, microseconds=i), i - 5, i / 7.0, None if i % 3 else i * 0.1,
         date(2026, 1, 1) + timedelta(days=i % 40), bytes([i % 256, 0]), i % 2 == 0, notes[i % len(notes)])
        for i in range(count)
    ]  # fmt: skip


def _encode(fmt: Format, rows: list[tuple], batch: int = 2_000) -> bytes:
    encoder = Encoder(fmt, NAMES, OIDS)
    chunks = [encoder.header()]
    chunks += [encoder.batch(rows[k : k + batch]) for k in range(0, len(rows), batch)]
    return b"".join([*chunks, encoder.footer()])


def _typed(value, oid: int):  # noqa: ANN202 - a cell of any column type
    if value is None:
        return None
    return {
        1184: datetime.fromisoformat, 20: int, 701: float, 1082: date.fromisoformat, 17: base64.b64decode,
        16: {"true": True, "false": False, True: True, False: False}.__getitem__,
    }.get(oid, str)(value)  # fmt: skip


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_reads_back_exactly(fmt: Format) -> None:
    rows = _rows(PARQUET_ROW_GROUP_ROWS + 5_000 if fmt is Format.parquet else 5_000)  # parquet: two row groups
    body = _encode(fmt, rows)
    if fmt is Format.parquet:
        table = pq.read_table(io.BytesIO(body))
        assert pq.ParquetFile(io.BytesIO(body)).metadata.num_row_groups == 2
        got = [tuple(r.values()) for r in table.to_pylist()]
    elif fmt is Format.ndjson:
        got = [tuple(_typed(v, o) for v, o in zip(json.loads(line).values(), OIDS, strict=True))
               for line in body.decode().splitlines()]  # fmt: skip
    else:
        options = pacsv.ConvertOptions(column_types={n: "string" for n in NAMES}, strings_can_be_null=True,
                                       quoted_strings_can_be_null=False)  # fmt: skip
        table = pacsv.read_csv(io.BytesIO(body), convert_options=options)
        assert table.column_names == NAMES
        got = [tuple(_typed(r[n], o) for n, o in zip(NAMES, OIDS, strict=True)) for r in table.to_pylist()]
    assert got == rows


def test_csv_writes_null_and_empty_text_apart_and_instants_in_utc() -> None:
    rows = [("a", T0, 1, 0.1, None, date(2026, 1, 1), b"", False, "")]
    assert _encode(Format.csv, rows).decode().splitlines()[1] == 'a,2026-01-01T00:00:00Z,1,0.1,,2026-01-01,"",false,""'


def test_an_empty_export_is_still_a_valid_file() -> None:
    assert pq.read_table(io.BytesIO(_encode(Format.parquet, []))).column_names == NAMES
    assert _encode(Format.csv, []).decode() == ",".join(NAMES) + "\n" and _encode(Format.ndjson, []) == b""
