"""A session's summary recomputed from its samples a slice at a time: what `repair` writes, and what a
report or comparison of a session that never closed (its recorder killed, or still running) shows.

The same streaming `SignalPipeline` the recorder runs live goes through the file in slices of
`SLICE_ROWS`, so memory stays flat in the session's length.  The pipeline asks for the columns it
needs; the first slice finds out which, and every later one reads only those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import gpu_indices_of
from collectors.signals import SignalPipeline
from recordings.analyze import tags_of
from recordings.spans import SPANS_JOURNAL, read_journal_rows, summarize_rows

SLICE_ROWS = 16_384  # as Python lists, about 75 columns of it (8 GPUs) hold some 40 MB


class _Columns(Mapping[str, Sequence[Any]]):
    """One slice's columns as lists, made when the pipeline asks; it notes which it asked for."""

    def __init__(self, table: pl.DataFrame, asked: set[str]) -> None:
        self._table, self._asked = table, asked

    def __getitem__(self, name: str) -> Sequence[Any]:
        if name not in self._table.columns:
            raise KeyError(name)
        self._asked.add(name)
        return self._table.get_column(name).to_list()

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.columns)

    def __len__(self) -> int:
        return self._table.width


def summary_of(samples: Path | pl.LazyFrame, gpu_indices: Sequence[int],
               tags: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """The summary of SIGNALS.md §6 from a samples Parquet file (or a lazy samples table) and the session's tags."""
    pipeline = SignalPipeline(gpu_indices)
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    scan = samples if isinstance(samples, pl.LazyFrame) else pl.scan_parquet(samples, glob=False)
    rows = scan.select(pl.len()).collect().item()
    asked: set[str] | None = None
    for offset in range(0, rows, SLICE_ROWS):
        part = scan.slice(offset, SLICE_ROWS)
        if asked is not None:
            part = part.select("ts", *sorted(asked))
        table = part.collect()
        seen: set[str] = set()
        pipeline.process_columns(table.get_column("ts").dt.epoch("us").to_list(), _Columns(table, seen))
        asked = seen if asked is None else asked
    pipeline.finish()
    return pipeline.summary()


def session_summary(session: Path, samples: pl.LazyFrame, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary a close writes into meta.json, from the session's samples, its tags (in `events`) and
    the spans that finished (the spans journal, when the session was never closed)."""
    summary = summary_of(samples, gpu_indices_of(samples.collect_schema().names()), tags_of(events))
    journal = session / SPANS_JOURNAL
    if journal.exists():
        summary["spans"] = summarize_rows(read_journal_rows(journal))
    return summary
