"""Helpers the importers share: CSV read as text, numbers checked, times parsed to UTC."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recordings.errors import InputError
from recordings.frames import UTC_US

# Naive times are UTC (the lab wrote them so); nvidia-smi writes `2024/01/15 10:00:00.123`.
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def read_text_csv(path: Path, has_header: bool = True, names: list[str] | None = None) -> pl.DataFrame:
    """Every column as text, cells stripped; short (torn) rows padded with nulls."""
    try:
        frame = pl.read_csv(path, infer_schema_length=0, has_header=has_header, new_columns=names,
                            truncate_ragged_lines=True, encoding="utf8-lossy", glob=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot read {path}: {str(error).strip().splitlines()[0]}") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_columns(pl.all().str.strip_chars())


def numbers(frame: pl.DataFrame, name: str, source: Path) -> pl.Expr:
    """The text column as Float64 (empty: null); a value that is not a number is an error."""
    text = frame[name]
    bad = text.cast(pl.Float64, strict=False).is_null() & text.is_not_null() & (text != "")
    if bad.any():
        raise InputError(f"{source}: column {name} holds {text.filter(bad)[0]!r}, not a number")
    return pl.col(name).cast(pl.Float64, strict=False)


def parse_times(text: pl.Series) -> pl.Series:
    """ISO 8601 (with or without Z) or nvidia-smi times as datetime[µs, UTC]; null where unreadable."""
    bare = text.str.strip_suffix("Z").str.replace(r"\+00:?00$", "")
    parsed = [bare.str.to_datetime(fmt, time_unit="us", strict=False, exact=True) for fmt in _TIME_FORMATS]
    return pl.select(pl.coalesce(parsed)).to_series().dt.replace_time_zone("UTC").cast(UTC_US).alias(text.name)
