"""Reading sessions as they are on disk: complete, interrupted (crashed) or still recording.

Sessions are untrusted input: files are opened through `recordings.safe_files` and the sample tables'
column types checked (`checked_samples`), so a damaged or foreign session is one InputError line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import ColumnTypes, gpu_indices_of, session_columns
from recordings import segments
from recordings.errors import InputError, first_line
from recordings.frames import KINDS, Table, conform, polars_schema
from recordings.safe_files import is_regular
from recordings.session import read_meta


def session_columns_of(meta: dict[str, Any]) -> ColumnTypes:
    """The session's column types: as recorded in meta.json (when it names known types), else the schema
    for its GPUs."""
    columns = meta.get("columns")
    if isinstance(columns, dict) and columns and all(isinstance(k, str) and k in KINDS for k in columns.values()):
        return columns
    gpus = found if isinstance(found := meta.get("gpus"), list) else []
    return session_columns([g.get("index", i) if isinstance(g, dict) else i for i, g in enumerate(gpus)])


def sample_types(names: list[str]) -> dict[str, pl.DataType]:
    """The types the session schema gives the columns of a samples table (its GPUs found from the names)."""
    return polars_schema(session_columns(gpu_indices_of(names)))


def checked_samples(table: Table, source: Path) -> Table:
    """A samples table (or scan) of a file that may come from elsewhere, its schema columns in their types
    (see `frames.conform`); else one InputError line."""
    names = table.collect_schema().names() if isinstance(table, pl.LazyFrame) else table.columns
    return conform(table, sample_types(names), source)


def read_samples(session: Path) -> pl.DataFrame:
    """Every sample of the session: samples.parquet when it landed, else the segments and journals.

    InputError when a row has no `ts` (nothing places it in time)."""
    target = session / segments.SAMPLES_PARQUET
    try:
        if is_regular(target):
            table = checked_samples(segments.read_parquet(target), target)
        else:
            table = segments.read_segments(session, session_columns_of(read_meta(session)))
        nulls = table.get_column("ts").is_null() if "ts" in table.columns else pl.Series([], dtype=pl.Boolean)
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {session}: {first_line(error)}") from None
    if nulls.any():
        raise InputError(f"{session}: sample row {int(nulls.arg_true()[0]) + 1} has no ts")
    return table


def scan_samples(session: Path) -> pl.LazyFrame:
    """Every sample of the session, lazily: a scan of samples.parquet when it landed (a query reads only
    its columns and row groups), else the segments and journals (read whole)."""
    target = session / segments.SAMPLES_PARQUET
    if is_regular(target):
        return checked_samples(pl.scan_parquet(target, glob=False), target)
    return read_samples(session).lazy()


def lazy_chunks(frame: pl.LazyFrame, rows: int) -> Iterator[pl.DataFrame]:
    """A lazy table `rows` at a time, in order; at least one chunk, maybe empty.

    Slices, not polars' streaming engine: its Parquet scan reads ahead of a slow consumer without
    bound, while a slice of a scan reads only the row groups (and columns) it needs."""
    total = frame.select(pl.len()).collect().item()
    for offset in range(0, max(total, 1), rows):
        yield frame.slice(offset, rows).collect()


def parquet_chunks(path: Path, rows: int) -> Iterator[pl.DataFrame]:
    """A samples Parquet file `rows` at a time (see `lazy_chunks`), its columns in their types."""
    try:
        yield from lazy_chunks(checked_samples(pl.scan_parquet(path, glob=False), path), rows)
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {path}: {first_line(error)}") from None


def iter_samples(session: Path, rows: int) -> Iterator[pl.DataFrame]:
    """Every sample of the session as `read_samples` gives them, in chunks of at most `rows` (a segment
    of an unfinished session may be a chunk of its own); at least one chunk, maybe empty."""
    target = session / segments.SAMPLES_PARQUET
    if is_regular(target):
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
