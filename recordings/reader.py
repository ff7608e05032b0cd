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


def parquet_chunks(path: Path, rows: int) -> Iterator[pl.DataFrame]:
    """A Parquet file `rows` at a time (only the row groups of each slice are read); at least one, maybe empty."""
    try:
        scan = pl.scan_parquet(path, glob=False)
        total = scan.select(pl.len()).collect().item()
        for offset in range(0, max(total, 1), rows):
            yield scan.slice(offset, rows).collect()
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
