"""Reading sessions as they are on disk: complete, interrupted (crashed) or still recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import ColumnTypes, session_columns
from recordings import segments
from recordings.errors import InputError, first_line
from recordings.session import read_meta


def session_columns_of(meta: dict[str, Any]) -> ColumnTypes:
    """The session's column types: as recorded in meta.json, else the schema for its GPUs."""
    columns = meta.get("columns")
    if isinstance(columns, dict) and columns:
        return columns
    gpus = meta.get("gpus") if isinstance(meta.get("gpus"), list) else []
    return session_columns([g.get("index", i) if isinstance(g, dict) else i for i, g in enumerate(gpus)])


def read_samples(session: Path) -> pl.DataFrame:
    """Every sample of the session: samples.parquet when it landed, else the segments and journals."""
    target = session / segments.SAMPLES_PARQUET
    try:
        if target.is_file():
            return segments.read_parquet(target)
        return segments.read_segments(session, session_columns_of(read_meta(session)))
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {session}: {first_line(error)}") from None


def scan_samples(session: Path) -> pl.LazyFrame:
    """Every sample of the session, lazily: a scan of samples.parquet when it landed (a query reads only
    its columns and row groups), else the segments and journals (read whole)."""
    target = session / segments.SAMPLES_PARQUET
    if target.is_file():
        return pl.scan_parquet(target, glob=False)
    return read_samples(session).lazy()


def lazy_chunks(frame: pl.LazyFrame, rows: int) -> Iterator[pl.DataFrame]:
    """A lazy table `rows` at a time, in order; at least one chunk, maybe empty.

    Slices, not polars' streaming engine: its Parquet scan reads ahead of a slow consumer without
    bound, while a slice of a scan reads only the row groups (and columns) it needs."""
    total = frame.select(pl.len()).collect().item()
    for offset in range(0, max(total, 1), rows):
        yield frame.slice(offset, rows).collect()


def parquet_chunks(path: Path, rows: int) -> Iterator[pl.DataFrame]:
    """A Parquet file `rows` at a time (see `lazy_chunks`)."""
    try:
        yield from lazy_chunks(pl.scan_parquet(path, glob=False), rows)
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {path}: {first_line(error)}") from None


def iter_samples(session: Path, rows: int) -> Iterator[pl.DataFrame]:
    """Every sample of the session as `read_samples` gives them, in chunks of at most `rows` (a segment
    of an unfinished session may be a chunk of its own); at least one chunk, maybe empty."""
    target = session / segments.SAMPLES_PARQUET
    if target.is_file():
        yield from parquet_chunks(target, rows)
        return
    try:
        columns = session_columns_of(read_meta(session))
        files = segments.segment_files(session)
        if not files:
            yield segments.read_segments(session, columns)
        for path in files:
            table = segments.read_segment(path, columns)
            for offset in range(0, max(table.height, 1), rows):
                yield table.slice(offset, rows)
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {session}: {first_line(error)}") from None
