"""The span table on disk: `spans.journal` (JSON lines, one finished span a line, written live) and
`spans.parquet` / `spans.csv`, written from it when the session closes (or is repaired).

Known columns have fixed types (times as UTC datetimes with µs); a column of a
workload's own attribute takes the type its values share (bool, int, float or
string), and anything else (lists, objects, mixed types) is written as JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from collectors.span_stats import SpanStatistics
from collectors.spans import SPAN_COLUMNS
from collectors.values import finite
from recordings.frames import conform, finite_or_null
from recordings.safe_files import is_regular, loads, read_bytes
from recordings.segments import read_parquet, write_parquet_atomic
from recordings.session import replacing

SPANS_JOURNAL = "spans.journal"
SPANS_PARQUET = "spans.parquet"
SPANS_CSV = "spans.csv"

TYPES: dict[str, Any] = {
    "request_id": pl.Utf8, "name": pl.Utf8, "hardware_tier": pl.Utf8, "device_type": pl.Utf8,
    "cpu_model": pl.Utf8, "cpu_cores": pl.Int64, "total_memory_gb": pl.Float64, "gpu_name": pl.Utf8,
    "text_length_chars": pl.Int64, "text_length_tokens": pl.Int64,
    "start_time": pl.Datetime("us", "UTC"), "end_time": pl.Datetime("us", "UTC"),
    "total_duration_s": pl.Float64, "peak_memory_mb": pl.Float64, "peak_memory_percent": pl.Float64,
    "peak_gpu_memory_mb": pl.Float64, "peak_temperature_c": pl.Float64, "throttle_detected": pl.Boolean,
    "rtf": pl.Float64, "tokens_per_second": pl.Float64, "success": pl.Boolean, "error_message": pl.Utf8,
    "span_id": pl.Utf8, "parent_id": pl.Utf8, "samples": pl.Int64, "energy_j": pl.Float64,
    "gpu_energy_j": pl.Float64, "cpu_energy_j": pl.Float64, "joules_per_token": pl.Float64,
    "throttle_fraction": pl.Float64, "dominant_throttle": pl.Utf8, "mean_sm_active_pct": pl.Float64,
    "gpu_energy_method": pl.Utf8, "energy_uncertain": pl.Boolean,
}


def read_journal_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a spans journal; a cut or invalid line (a crash) is skipped."""
    rows: list[dict[str, Any]] = []
    try:
        text = read_bytes(path).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            row = loads(line, numbers=False)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _column(name: str, values: list[Any]) -> pl.Series:
    if name in ("start_time", "end_time"):
        return pl.Series(name, values, dtype=pl.Utf8).str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
    if name in TYPES:
        return pl.Series(name, [_as(TYPES[name], v) for v in values], dtype=TYPES[name], strict=False)
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Boolean)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Int64, strict=False)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
                     dtype=pl.Utf8)


def _as(dtype: Any, value: Any) -> Any:
    if value is None:
        return None
    if dtype == pl.Utf8:
        return value if isinstance(value, str) else json.dumps(value)
    if dtype == pl.Boolean:
        return value if isinstance(value, bool) else None
    if dtype == pl.Int64:
        return None if (number := finite(value)) is None else int(number)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def spans_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per span: the format's columns first, then rigscope's, then the attributes in order of appearance."""
    names = list(SPAN_COLUMNS)
    seen = set(names)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return pl.DataFrame([_column(name, [row.get(name) for row in rows]) for name in names])


def write_span_tables(session: Path, csv: bool = False) -> int:
    """spans.parquet (and spans.csv) from the session's spans journal, which is then removed; the row count.

    Without a journal (a session without spans, or one whose tables landed already) nothing is written."""
    journal = session / SPANS_JOURNAL
    if not journal.exists():
        return 0
    table = spans_table(read_journal_rows(journal))
    write_parquet_atomic(table, session / SPANS_PARQUET)
    if csv:
        with replacing(session / SPANS_CSV) as tmp:
            table.write_csv(tmp)
    if journal.exists():
        journal.unlink()
    return table.height


def read_spans(session: Path) -> pl.DataFrame:
    """The session's spans: spans.parquet when it landed, else the journal of a running or crashed session."""
    target = session / SPANS_PARQUET
    if is_regular(target):  # known columns in their types; NaN and inf are no measurement
        return finite_or_null(conform(read_parquet(target), TYPES, target))
    return spans_table(read_journal_rows(session / SPANS_JOURNAL))


def summarize_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`summary.spans` from finished rows (a repaired session's journal), by the statistics the live tracker keeps."""
    stats = SpanStatistics()
    for row in rows:
        if isinstance(row.get("total_duration_s"), (int, float)):
            stats.add(dict(row))
    return stats.summary()
