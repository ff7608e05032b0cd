"""Reading sessions as they are on disk: complete, interrupted (crashed) or still recording."""

from __future__ import annotations

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
