"""A session's summary recomputed from its samples a slice at a time: what `repair` writes, and what a
report or comparison of a session that never closed (its recorder killed, or still running) shows.

The same streaming `SignalPipeline` the recorder runs live goes through the file in slices of
`SLICE_ROWS`, so memory stays flat in the session's length, by way of `rigscope analyze`'s `Analysis`
(its columns only, the wall clock's steps taken out of `ts` as it does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from collectors.clock import ClockShifts
from collectors.schema import gpu_indices_of
from recordings.analyze import Analysis, tags_of
from recordings.spans import SPANS_JOURNAL, read_journal_rows, summarize_rows

SLICE_ROWS = 16_384  # as Python lists, about 75 columns of it (8 GPUs) hold some 40 MB


def summary_of(samples: Path | pl.LazyFrame, gpu_indices: Sequence[int], tags: Sequence[tuple[int, str]],
               shifts: ClockShifts | None = None) -> dict[str, Any]:
    """The summary of SIGNALS.md §6 from a samples Parquet file (or a lazy samples table), the session's tags
    and its wall-clock steps (`shifts`: the tags keep their place among the samples, as `rigscope analyze`
    places them)."""
    analysis = Analysis(list(gpu_indices), tags, shifts)
    scan = samples if isinstance(samples, pl.LazyFrame) else pl.scan_parquet(samples, glob=False)
    present = set(scan.collect_schema().names())
    scan = scan.select("ts", *(name for name in analysis.inputs if name in present))
    rows = scan.select(pl.len()).collect().item()
    for offset in range(0, rows, SLICE_ROWS):
        analysis.add(scan.slice(offset, SLICE_ROWS).collect())
    summary, _ = analysis.finish()
    return summary


def session_summary(session: Path, samples: pl.LazyFrame, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary a close writes into meta.json, from the session's samples, its tags and clock steps (in
    `events`) and the spans that finished (the spans journal, when the session was never closed)."""
    events = list(events)
    summary = summary_of(samples, gpu_indices_of(samples.collect_schema().names()), tags_of(events),
                         ClockShifts.of_events(events))
    journal = session / SPANS_JOURNAL
    if journal.exists():
        summary["spans"] = summarize_rows(read_journal_rows(journal))
    return summary
