"""A recorded session's spans as of a replay position: the rows of its span table that had ended by then.

The table (`spans.parquet`, or the journal of a session that never closed) is
read once, sorted by end time; a `SpanStatistics` takes the rows that ended up to
the position, so the totals (count, success rate, duration percentiles) are
computed exactly as live.  Moving forward adds rows; moving back starts new
statistics.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Any

import polars as pl

from collectors.span_stats import SpanStatistics
from collectors.timeutil import iso_from_us
from recordings.spans import read_spans

# What the dashboard shows of a span, and what the tracker's totals need.
SHOWN = ("request_id", "name", "parent_id", "start_time", "total_duration_s", "rtf", "tokens_per_second", "peak_memory_mb",
         "peak_gpu_memory_mb", "energy_j", "success", "error_message")


class ReplaySpans:
    def __init__(self, rows: list[dict[str, Any]], end_us: list[int]) -> None:
        self._rows, self._end_us = rows, end_us  # ascending end times
        self.tracker = SpanStatistics()  # what the dashboard's feed watches, as it watches the live tracker
        self._upto = 0

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

    def advance_to(self, ts_us: int) -> bool:
        """Take the spans that ended at or before `ts_us`; True when `tracker` was replaced (the position went back)."""
        upto = bisect_right(self._end_us, ts_us)
        replaced = upto < self._upto
        if replaced:
            self.tracker = SpanStatistics()
            self._upto = 0
        for row in self._rows[self._upto:upto]:
            self.tracker.add(row)
        self._upto = upto
        return replaced
