"""A session's summary recomputed from its samples.parquet a slice at a time (what `repair` needs).

The same streaming `SignalPipeline` the recorder runs live goes through the file in slices of
`SLICE_ROWS`, so memory stays flat in the session's length.  The pipeline asks for the columns it
needs; the first slice finds out which, and every later one reads only those.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from collectors.signals import SignalPipeline

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


def summary_of(samples: Path, gpu_indices: Sequence[int], tags: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """The summary of SIGNALS.md §6 from a samples Parquet file and the session's tags."""
    pipeline = SignalPipeline(gpu_indices)
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    scan = pl.scan_parquet(samples, glob=False)
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
