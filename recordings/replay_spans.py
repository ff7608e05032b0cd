"""A recorded session's finished spans by end time, for the replay player to publish when the position passes them.

The table (`spans.parquet`, or the journal of a session that never closed) is
read once, sorted by end time.  The player publishes the rows that ended within
each step of the position (after a seek: every row that ended by then) on its
stream, as the live span assembler tells its rows; the screen counts them as it
counts live ones, so the totals are computed exactly as live.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Any

import polars as pl

from collectors.timeutil import iso_from_us
from recordings.spans import read_spans

# What the dashboard shows of a span, and what the tracker's totals need.
SHOWN = ("request_id", "name", "parent_id", "start_time", "total_duration_s", "rtf", "tokens_per_second", "peak_memory_mb",
         "peak_gpu_memory_mb", "energy_j", "success", "error_message")


class ReplaySpans:
    def __init__(self, rows: list[dict[str, Any]], end_us: list[int]) -> None:
        self._rows, self._end_us = rows, end_us  # ascending end times

    @classmethod
    def read(cls, session: Path) -> ReplaySpans:
        """The session's finished spans (none when it has no span table); InputError on a damaged file."""
        table = read_spans(session)
        if table.height == 0:
            return cls([], [])
        table = (table.filter(pl.col("end_time").is_not_null() & pl.col("total_duration_s").is_not_null())
                 .with_columns(pl.col("end_time").dt.epoch("us").alias("_end_us"))
                 .sort("_end_us"))
        end_us = table["_end_us"].to_list()
        rows = []
        for found, end in zip(table.select([c for c in SHOWN if c in table.columns]).to_dicts(), end_us):
            row = {column: found.get(column) for column in SHOWN}  # a column the table lacks is null
            start = row["start_time"]
            row["start_time"] = start.isoformat().replace("+00:00", "Z") if start is not None else None
            row["end_time"] = iso_from_us(end)
            rows.append(row)
        return cls(rows, end_us)

    def __len__(self) -> int:
        return len(self._rows)

    def between(self, low_us: int | None, high_us: int) -> tuple[dict[str, Any], ...]:
        """The rows of the spans that ended with low_us < end <= high_us (from the start when low_us is None)."""
        low = 0 if low_us is None else bisect_right(self._end_us, low_us)
        return tuple(self._rows[low:bisect_right(self._end_us, high_us)])
