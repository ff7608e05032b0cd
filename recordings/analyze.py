"""Offline recompute of every derived signal (SIGNALS.md §7), behind `rigscope analyze`.

Samples are read from a session directory or a samples CSV/Parquet file, fed
through the same `SignalPipeline` the live sampler uses (column by column), and
written back with the derived columns.  Bad input raises `InputError` with one
line for the user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import derived_columns, session_columns
from collectors.signals import SignalPipeline
from collectors.timeutil import us_from_iso
from recordings.errors import InputError, first_line
from recordings.frames import UTC_US, polars_schema, write_csv

REQUIRED_COLUMNS = ("ts", "elapsed_s", "cpu_util_pct")
# Per GPU found; its temperature limit and throttle bitmask are optional (83 °C, no throttling).
REQUIRED_GPU_COLUMNS = ("{p}_util_pct", "{p}_temp_c", "{p}_power_w", "{p}_power_limit_w")
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_GPU_UTIL = re.compile(r"^gpu(\d+)_util_pct$")
_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%.f%#z")
_OUTPUT_TYPES = {"f64": pl.Float64, "i8": pl.Int8, "str": pl.String}
CHUNK_ROWS = 65_536

Tag = tuple[int, str]


def gpu_indices_of(columns: Iterable[str]) -> list[int]:
    """GPU indices present in a table, from its `gpuN_util_pct` columns."""
    return sorted(int(match.group(1)) for name in columns if (match := _GPU_UTIL.match(name)))


def read_samples_file(path: str | Path) -> pl.DataFrame:
    """Samples from a CSV or Parquet file in the session schema, checked and typed.

    Empty cells and NaN are null; `ts` becomes datetime[µs, UTC].
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = _read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path, glob=False)
        else:
            raise InputError(f"cannot read {path}: not a .csv or .parquet file")
    except InputError:
        raise
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:
        raise InputError(f"cannot read {path}: {first_line(error)}") from None
    return prepare_samples(frame, str(path))


def _read_csv(path: Path) -> pl.DataFrame:
    header = pl.read_csv(path, n_rows=0, glob=False).columns
    known = session_columns(gpu_indices_of(header))
    overrides: dict[str, Any] = {}
    for name in header:
        kind = known.get(name)
        if name == "ts" or kind == "str":
            overrides[name] = pl.String
        elif kind in ("f64", "f32"):
            overrides[name] = pl.Float64
    return pl.read_csv(path, schema_overrides=overrides, infer_schema_length=10_000, glob=False)


def prepare_samples(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Check the required columns and the time order; cast schema columns to their types, NaN to null."""
    indices = gpu_indices_of(frame.columns)
    required = [*REQUIRED_COLUMNS, *(name.format(p=f"gpu{i}") for i in indices for name in REQUIRED_GPU_COLUMNS)]
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")

    floats = [name for name, dtype in frame.schema.items() if dtype in (pl.Float32, pl.Float64)]
    if floats:
        frame = frame.with_columns(pl.col(floats).fill_nan(None))
    schema = polars_schema(session_columns(indices))
    casts = []
    for name, dtype in frame.schema.items():
        target = schema.get(name)
        if name == "ts":
            casts.append(_ts_expr(frame, source))
        elif target is not None and target != dtype and not isinstance(target, pl.List):
            casts.append(pl.col(name).cast(target))
    try:
        frame = frame.with_columns(casts) if casts else frame
    except pl.exceptions.PolarsError as error:
        raise InputError(f"{source}: a column has values of the wrong type ({first_line(error)})") from None

    for name in ("ts", "elapsed_s"):
        nulls = frame[name].is_null()
        if nulls.any():
            raise InputError(f"{source}: row {int(nulls.arg_true()[0]) + 1} has no {name}")
        backwards = frame[name].to_physical().diff() < 0
        if backwards.any():
            row = int(backwards.arg_true()[0])
            previous, current = frame[name][row - 1], frame[name][row]
            raise InputError(f"{source}: {name} goes backwards at row {row + 1} ({current} after {previous})")
    return frame


def _ts_expr(frame: pl.DataFrame, source: str) -> pl.Expr:
    """`ts` as datetime[µs, UTC] from ISO strings, integers of µs, or a datetime of any zone/unit."""
    dtype = frame.schema["ts"]
    column = pl.col("ts")
    if dtype == pl.String:
        values = frame["ts"]
        for fmt in _TS_FORMATS:
            try:
                values.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=True)
            except pl.exceptions.PolarsError:
                continue
            return column.str.to_datetime(fmt, time_unit="us", time_zone="UTC")
        parsed = []
        for row, text in enumerate(values.to_list()):
            try:
                parsed.append(None if text is None else us_from_iso(text))
            except ValueError:
                raise InputError(f"{source}: row {row + 1}: ts {text!r} is not an ISO 8601 time") from None
        return pl.lit(pl.Series("ts", parsed, dtype=pl.Int64)).cast(UTC_US).alias("ts")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            column = column.dt.replace_time_zone("UTC")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype.is_integer():
        return column.cast(pl.Int64).cast(UTC_US)
    raise InputError(f"{source}: ts is neither an ISO time nor a datetime")


def analyze_frame(frame: pl.DataFrame, tags: Iterable[Tag], on_progress: Callable[[float], None] | None = None,
                  ) -> tuple[pl.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    """Recompute the derived columns of checked samples (see `read_samples_file`).

    `on_progress` is told the fraction of rows done after each chunk (for a progress bar).

    Returns the input columns (less any old derived ones) plus the derived columns
    in schema order, the session summary, and the events (collapse and alert).
    """
    pipeline = SignalPipeline(gpu_indices_of(frame.columns))
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    out, events = derive(pipeline, frame, on_progress)
    events += pipeline.finish()
    return out, pipeline.summary(), events


def derive(pipeline: SignalPipeline, frame: pl.DataFrame, on_progress: Callable[[float], None] | None = None,
           ) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The derived columns of checked samples that continue `pipeline`'s state (so a long table can go
    through piece by piece); the events they raised. `pipeline.finish()` and `.summary()` end it."""
    derived = derived_columns(gpu_indices_of(frame.columns))
    stale = [name for name in frame.columns if name in derived]
    base = frame.drop(stale)

    wanted = ["elapsed_s", "mem_util_pct", "disk_write_bps", "cpu_util_pct"]
    for prefix in pipeline.prefixes:
        wanted += [f"{prefix}_{suffix}" for suffix in ("util_pct", "temp_c", "power_w", "power_limit_w", "temp_limit_c")]
        if prefix != "cpu":
            wanted += [f"{prefix}_{suffix}" for suffix in ("throttle_reasons", "violation_power_s", "violation_thermal_s",
                                                           "sm_active_pct", "energy_j")]
    inputs: list[pl.Series] = []
    for name in dict.fromkeys(wanted):
        if name in base.columns:
            series = base[name]
            if name.endswith("_throttle_reasons"):
                series = series if series.dtype.is_integer() else series.cast(pl.Int64, strict=False)
            elif series.dtype.is_float():
                series = series.fill_nan(None)
            inputs.append(series)
    ts_us = base["ts"].dt.epoch("us")

    # The pipeline streams, so the session can go through in chunks: Python objects for
    # one chunk at a time instead of a whole day's worth (less memory, less GC work).
    chunks: dict[str, list[pl.Series]] = {name: [] for name in derived}
    events: list[dict[str, Any]] = []
    for offset in range(0, base.height, CHUNK_ROWS):
        columns = {series.name: series.slice(offset, CHUNK_ROWS).to_list() for series in inputs}
        values, chunk_events = pipeline.process_columns(ts_us.slice(offset, CHUNK_ROWS).to_list(), columns)
        events += chunk_events
        if on_progress is not None:
            on_progress(min(offset + CHUNK_ROWS, base.height) / base.height)
        for name, kind in derived.items():
            chunks[name].append(pl.Series(name, values[name], dtype=_OUTPUT_TYPES[kind]))
    out = base.with_columns(
        pl.concat(chunks[name]) if chunks[name] else pl.Series(name, [], dtype=_OUTPUT_TYPES[kind])
        for name, kind in derived.items()
    )
    return out, events


def read_tags(path: str | Path) -> list[Tag]:
    """Tags (`kind` == "tag") of an events JSONL file; invalid lines are skipped with a warning."""
    from recordings.events import read_events

    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    return tags_of(read_events(path))


def tags_of(events: Iterable[dict[str, Any]]) -> list[Tag]:
    tags: list[Tag] = []
    for event in events:
        if event.get("kind") != "tag" or not isinstance(event.get("state"), str):
            continue
        try:
            tags.append((us_from_iso(str(event["ts"])), event["state"]))
        except (KeyError, ValueError):
            continue
    return tags


def _read_session(session: Path) -> tuple[pl.DataFrame, list[Tag]]:
    from recordings.events import read_events
    from recordings.reader import read_samples

    frame = prepare_samples(read_samples(session), str(session))
    return frame, tags_of(read_events(session / "events.jsonl"))


def analyze(input_path: str | Path, out_path: str | Path, events_path: str | Path | None = None) -> dict[str, Any]:
    """Recompute a session or samples file into OUT (CSV or Parquet by extension); return the summary."""
    source, target = Path(input_path), Path(out_path)
    kind = OUTPUT_FORMATS.get(target.suffix.lower())
    if kind is None:
        raise InputError(f"cannot write {target}: unknown output format (use .csv or .parquet)")
    if source.is_dir():
        frame, tags = _read_session(source)
    elif source.exists():
        frame, tags = read_samples_file(source), []
    else:
        raise InputError(f"cannot read {source}: no such file or directory")
    if events_path is not None:
        tags = read_tags(events_path)

    result, summary, _events = analyze_frame(frame, tags)
    try:
        if kind == "csv":
            write_csv(result, str(target))
        else:
            result.write_parquet(target)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot write {target}: {first_line(error)}") from None
    return summary
