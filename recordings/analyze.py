"""Offline recompute of every derived signal (SIGNALS.md §7), behind `rigscope analyze`.

Samples are read from a session directory or a samples CSV/Parquet file, fed
through the same `SignalPipeline` the live sampler uses (column by column), and
written back with the derived columns.  A session goes through in chunks of
`CHUNK_ROWS`, read, derived and written one at a time (`Analysis`), so memory
stays flat however long it is.  Bad input raises `InputError` with one line for
the user.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import polars as pl

from collectors.clock import ClockShifts
from collectors.event_kinds import EventKind
from collectors.schema import column, derived_columns, gpu_indices_of, gpu_prefix, session_columns
from collectors.signals import SignalPipeline
from collectors.signals.session_time import tag_time
from collectors.timeutil import us_from_iso
from recordings.errors import InputError, first_line
from recordings.frames import UTC_US, polars_schema, write_csv_chunks
from recordings.safe_files import require_regular

REQUIRED_COLUMNS = ("ts", "elapsed_s", "cpu_util_pct")
# Per GPU found; its temperature limit and throttle bitmask are optional (83 °C, no throttling).
REQUIRED_GPU_COLUMNS = ("{p}_util_pct", "{p}_temp_c", "{p}_power_w", "{p}_power_limit_w")
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%.f%#z")
_OUTPUT_TYPES = {"f64": pl.Float64, "i8": pl.Int8, "str": pl.String}
CHUNK_ROWS = 16_384
OUTPUT_ROW_GROUP_ROWS = 65_536  # polars' Parquet sink keeps about 1 MB a row group (231 columns) until it closes

Tag = tuple[int, str]


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


def prepare_samples(frame: pl.DataFrame, source: str, first_row: int = 0,
                    previous_elapsed: float | None = None) -> pl.DataFrame:
    """Check the required columns and the time order; cast schema columns to their types, NaN to null.

    A chunk of a longer table gives the number of rows before it (`first_row`, for the row numbers of
    errors) and the last `elapsed_s` before it."""
    indices = gpu_indices_of(frame.columns)
    required = [*REQUIRED_COLUMNS, *(name.format(p=gpu_prefix(i)) for i in indices for name in REQUIRED_GPU_COLUMNS)]
    missing = [name for name in required if name not in frame.columns]
    if missing:
        foreign = "ts" in missing and "elapsed_s" in missing  # another tool's trace, not rigscope's samples
        hint = "; not rigscope samples: rigscope import reads nvidia-smi logs, RLE lab and TTS CSVs" if foreign else ""
        raise InputError(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hint}")

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
            raise InputError(f"{source}: row {first_row + int(nulls.arg_true()[0]) + 1} has no {name}")
    # Samples are in the order of the monotonic `elapsed_s`; `ts` may step back with the wall clock.
    elapsed = frame["elapsed_s"]
    if previous_elapsed is not None:
        elapsed = pl.concat([pl.Series("elapsed_s", [previous_elapsed], dtype=elapsed.dtype), elapsed])
        first_row -= 1  # the row before this chunk comes first
    backwards = elapsed.diff() < 0
    if backwards.any():
        row = int(backwards.arg_true()[0])
        previous, current = elapsed[row - 1], elapsed[row]
        raise InputError(f"{source}: elapsed_s goes backwards at row {first_row + row + 1} ({current} after {previous})")
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


class Analysis:
    """The derived columns of checked samples (see `prepare_samples`), one chunk after the other in time order.

    The pipeline streams, so a session goes through in chunks: Python objects for one chunk at a time
    instead of a whole day's worth (less memory, less GC work)."""

    def __init__(self, gpu_indices: list[int], tags: Iterable[Tag], shifts: ClockShifts | None = None) -> None:
        """`shifts`: the session's wall-clock steps; the pipeline then sees `ts` less them (tags too), so a
        tag keeps its place among the samples (its events' `ts` are on that time as well)."""
        self.derived = derived_columns(gpu_indices)
        self.pipeline = SignalPipeline(gpu_indices)
        self.shifts = shifts or ClockShifts()
        self._tags = list(tags)
        if not self.shifts:
            for ts_us, state in self._tags:
                self.pipeline.add_tag(ts_us, state)
        self._origin: tuple[int, float] | None = None  # ts and elapsed_s of the first sample
        self.events: list[dict[str, Any]] = []
        wanted = ["elapsed_s", "mem_util_pct", "disk_write_bps", "cpu_util_pct"]
        for prefix in self.pipeline.prefixes:
            wanted += [column(prefix, suffix) for suffix in ("util_pct", "temp_c", "power_w", "power_limit_w", "temp_limit_c")]
            if prefix != "cpu":
                wanted += [column(prefix, suffix) for suffix in ("throttle_reasons", "violation_power_s",
                                                                "violation_thermal_s", "sm_active_pct", "energy_j")]
        self.inputs = list(dict.fromkeys(wanted))  # the raw columns the pipeline reads (besides `ts`)

    def add(self, chunk: pl.DataFrame) -> pl.DataFrame:
        """The chunk's columns (less any old derived ones) and its derived columns, in schema order."""
        base = chunk.drop([name for name in chunk.columns if name in self.derived])
        columns: dict[str, list[Any]] = {}
        for name in self.inputs:
            if name in base.columns:
                series = base[name]
                if name.endswith("_throttle_reasons"):
                    series = series if series.dtype.is_integer() else series.cast(pl.Int64, strict=False)
                elif series.dtype.is_float():
                    series = series.fill_nan(None)
                columns[name] = series.to_list()
        ts = base["ts"].dt.epoch("us")
        if self.shifts and base.height:
            ts = self._unstepped(ts, base["elapsed_s"])
        values, events = self.pipeline.process_columns(ts.to_list(), columns)
        self.events += events
        return base.with_columns(pl.Series(name, values[name], dtype=_OUTPUT_TYPES[kind])
                                 for name, kind in self.derived.items())

    def add_all(self, frame: pl.DataFrame, on_progress: Callable[[float], None] | None = None) -> pl.DataFrame:
        """`add` over a whole table, CHUNK_ROWS at a time, telling `on_progress` the fraction done."""
        parts = []
        for offset in range(0, max(frame.height, 1), CHUNK_ROWS):
            parts.append(self.add(frame.slice(offset, CHUNK_ROWS)))
            if on_progress is not None and frame.height:
                on_progress(min(offset + CHUNK_ROWS, frame.height) / frame.height)
        return pl.concat(parts)

    def _unstepped(self, ts: pl.Series, elapsed: pl.Series) -> pl.Series:
        """`ts` less the wall clock's lead at each sample; the tags go on that time with the first chunk."""
        if self._origin is None:
            self._origin = first_us, first_s = int(ts[0]), float(elapsed[0])
            for tag_us, state in self._tags:
                self.pipeline.add_tag(tag_time(self.shifts, first_us, first_s, tag_us), state)
        stretch = (pl.Series(self.shifts.starts).search_sorted(elapsed, side="right").cast(pl.Int64) - 1).clip(0)
        return ts - (pl.Series(self.shifts.shifts).gather(stretch) * 1e6).round().cast(pl.Int64)

    def finish(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session summary, and the events (collapse and alert) of every chunk."""
        self.events += self.pipeline.finish()
        return self.pipeline.summary(), self.events


def analyze_frame(frame: pl.DataFrame, tags: Iterable[Tag], on_progress: Callable[[float], None] | None = None,
                  ) -> tuple[pl.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    """Recompute the derived columns of checked samples in memory (see `read_samples_file`).

    `on_progress` is told the fraction of rows done after each chunk (for a progress bar).

    Returns the input columns (less any old derived ones) plus the derived columns
    in schema order, the session summary, and the events (collapse and alert).
    """
    analysis = Analysis(gpu_indices_of(frame.columns), tags)
    out = analysis.add_all(frame, on_progress)
    summary, events = analysis.finish()
    return out, summary, events


def read_tags(path: str | Path) -> list[Tag]:
    """Tags (`kind` == "tag") of an events JSONL file; invalid lines are skipped with a warning."""
    return tags_of(read_events_file(path))


def read_events_file(path: str | Path) -> list[dict[str, Any]]:
    """The events of an events JSONL file (`--events`); invalid lines are skipped with a warning."""
    from recordings.events import read_events

    path = Path(path)
    require_regular(path)
    return read_events(path)


def tags_of(events: Iterable[dict[str, Any]]) -> list[Tag]:
    tags: list[Tag] = []
    for event in events:
        if event.get("kind") != EventKind.TAG or not isinstance(event.get("state"), str):
            continue
        try:
            tags.append((us_from_iso(str(event["ts"])), event["state"]))
        except (KeyError, ValueError):
            continue
    return tags


def _chunks(source: Path) -> tuple[Iterator[pl.DataFrame], list[dict[str, Any]]]:
    """The samples of a session or samples file, a chunk at a time, and the session's events."""
    from recordings.events import read_events
    from recordings.reader import iter_samples, parquet_chunks

    if source.is_dir():
        return iter_samples(source, CHUNK_ROWS), read_events(source / "events.jsonl")
    if source.suffix.lower() in (".parquet", ".pq"):
        return parquet_chunks(source, CHUNK_ROWS), []
    frame = read_samples_file(source)  # a CSV: parsed whole (its ts may need a row-by-row parse)
    return (frame.slice(offset, CHUNK_ROWS) for offset in range(0, max(frame.height, 1), CHUNK_ROWS)), []


def _with_samples(chunks: Iterator[pl.DataFrame], source: Path) -> Iterator[pl.DataFrame]:
    """The chunks that hold rows; InputError when none does (a summary of no samples would say 0 collapses)."""
    full = (chunk for chunk in chunks if chunk.height)
    first = next(full, None)
    if first is None:
        raise InputError(f"cannot read {source}: no samples")
    return chain((first,), full)


class _Derived:
    """The checked and derived chunks of a source, in order; `analysis` has the summary once all went through."""

    def __init__(self, chunks: Iterator[pl.DataFrame], source: str, tags: list[Tag], shifts: ClockShifts) -> None:
        self.chunks, self.source, self.tags, self.shifts = chunks, source, tags, shifts
        self.analysis: Analysis | None = None

    def __iter__(self) -> Iterator[pl.DataFrame]:
        rows, previous = 0, None
        for raw in self.chunks:
            chunk = prepare_samples(raw, self.source, rows, previous)
            if self.analysis is None:
                self.analysis = Analysis(gpu_indices_of(chunk.columns), self.tags, self.shifts)
            yield self.analysis.add(chunk)
            rows += chunk.height
            previous = chunk["elapsed_s"][-1] if chunk.height else previous


def _write_parquet(chunks: Iterable[pl.DataFrame], target: Path) -> None:
    """The chunks streamed into one Parquet file (a temp name, renamed), as polars' sink pulls them.

    polars' streaming scan of Parquet reads ahead of a slow sink with no bound (a whole 4 h session
    decoded in memory), so the chunks are handed to the sink from Python, one when it asks."""
    from polars.io.plugins import register_io_source

    produced = iter(chunks)
    first = next(produced)

    def source(with_columns: list[str] | None, *_: Any) -> Iterator[pl.DataFrame]:
        for chunk in chain((first,), produced):
            yield chunk if with_columns is None else chunk.select(with_columns)

    tmp = target.with_name(f".{target.name}.tmp")
    try:
        register_io_source(source, schema=first.schema).sink_parquet(tmp, compression="zstd",
                                                                     row_group_size=OUTPUT_ROW_GROUP_ROWS)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def analyze(input_path: str | Path, out_path: str | Path, events_path: str | Path | None = None) -> dict[str, Any]:
    """Recompute a session or samples file into OUT (CSV or Parquet by extension); return the summary.

    The samples are read, derived and written a chunk at a time."""
    source, target = Path(input_path), Path(out_path)
    kind = OUTPUT_FORMATS.get(target.suffix.lower())
    if kind is None:
        raise InputError(f"cannot write {target}: unknown output format (use .csv or .parquet)")
    if not source.exists():
        raise InputError(f"cannot read {source}: no such file or directory")
    chunks, events = _chunks(source)
    if events_path is not None:  # its tags, and the clock steps that place them among the samples
        events = read_events_file(events_path)

    derived = _Derived(_with_samples(chunks, source), str(source), tags_of(events), ClockShifts.of_events(events))
    try:
        (write_csv_chunks if kind == "csv" else _write_parquet)(derived, target)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot write {target}: {first_line(error)}") from None
    assert derived.analysis is not None  # _with_samples gives at least one chunk
    summary, _events = derived.analysis.finish()
    return summary
