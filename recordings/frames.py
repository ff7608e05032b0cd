"""Frames (dicts keyed by column) to polars tables and CSV rows, with the session schema's types."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import polars as pl

from collectors.schema import ColumnTypes
from collectors.timeutil import iso_from_us
from recordings.errors import InputError

UTC_US = pl.Datetime("us", "UTC")

_POLARS_TYPES: dict[str, pl.DataType] = {
    "datetime": UTC_US,
    "f64": pl.Float64(),
    "f32": pl.Float32(),
    "i64": pl.Int64(),
    "u64": pl.UInt64(),
    "i8": pl.Int8(),
    "str": pl.String(),
    "bool": pl.Boolean(),
    "list_f32": pl.List(pl.Float32()),
}
KINDS = frozenset(_POLARS_TYPES)  # the column types a session's meta.json may name


def polars_schema(columns: ColumnTypes) -> dict[str, pl.DataType]:
    return {name: _POLARS_TYPES[kind] for name, kind in columns.items()}


def journal_schema(columns: ColumnTypes) -> dict[str, pl.DataType]:
    """As stored in a journal line: `ts` is an integer of µs; small integers read as Int64
    (polars' JSON reader cannot parse straight into Int8)."""
    schema = polars_schema(columns)
    schema["ts"] = pl.Int64()
    return {name: pl.Int64() if dtype == pl.Int8() else dtype for name, dtype in schema.items()}


def to_session_types(frame: pl.DataFrame, columns: ColumnTypes) -> pl.DataFrame:
    """Cast journal-typed columns (ts as µs) to the session schema, adding absent columns as null."""
    schema = polars_schema(columns)
    exprs = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            exprs.append(pl.lit(None, dtype).alias(name))
        elif name == "ts" and frame.schema[name] != UTC_US:
            exprs.append(pl.col(name).cast(pl.Int64).cast(UTC_US).alias(name))
        else:
            exprs.append(pl.col(name).cast(dtype).alias(name))
    return frame.select(exprs)


def frames_to_table(frames: Sequence[dict[str, Any]], columns: ColumnTypes) -> pl.DataFrame:
    rows = [[_clean(frame.get(name)) for name in columns] for frame in frames]
    table = pl.DataFrame(rows, schema=journal_schema(columns), orient="row")
    return to_session_types(table, columns)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def csv_header(columns: ColumnTypes, list_lengths: dict[str, int]) -> list[str]:
    """Column names with list columns flattened: cpu_core_util_pct -> cpu_core0_util_pct, ..."""
    header: list[str] = []
    for name, kind in columns.items():
        if kind == "list_f32":
            header.extend(flat_list_names(name, list_lengths.get(name, 0)))
        else:
            header.append(name)
    return header


def flat_list_names(name: str, length: int) -> list[str]:
    stem, _, rest = name.partition("_")  # cpu_core_util_pct -> cpu + core_util_pct
    head, _, tail = rest.partition("_")  # core + util_pct
    return [f"{stem}_{head}{i}_{tail}" for i in range(length)]


def csv_cells(frame: dict[str, Any], columns: ColumnTypes, list_lengths: dict[str, int]) -> Iterable[str]:
    for name, kind in columns.items():
        value = frame.get(name)
        if kind == "list_f32":
            values = list(value or ())
            length = list_lengths.get(name, 0)
            values = (values + [None] * length)[:length]
            yield from (_cell(v) for v in values)
        elif kind == "datetime":
            yield iso_from_us(value) if value is not None else ""
        else:
            yield _cell(value)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):  # no reading: no `nan`, no `inf`
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def list_lengths(frame: pl.DataFrame) -> dict[str, int]:
    """The longest list of each list column: how many columns it spreads into in a CSV."""
    return {name: int(frame.select(pl.col(name).list.len().max()).item() or 0) for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.List)}


def flatten_lists(frame: pl.DataFrame, lengths: dict[str, int] | None = None) -> pl.DataFrame:
    """A table with each list column spread into numbered columns (`lengths` of them, default the longest), for CSV."""
    lengths = list_lengths(frame) if lengths is None else lengths
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            length = lengths.get(name, 0)
            names = flat_list_names(name, length)
            spread = [pl.col(name).list.get(i, null_on_oob=True).alias(n) for i, n in enumerate(names)]
            position = frame.columns.index(name)
            frame = frame.with_columns(spread).select(
                [*frame.columns[:position], *names, *frame.columns[position + 1:]])
    return frame


def write_csv(frame: pl.DataFrame, target: str | IO[str] | IO[bytes], include_header: bool = True,
              lengths: dict[str, int] | None = None) -> None:
    """CSV with ISO `ts` ending in Z, list columns flattened (see `flatten_lists`); a chunk of a longer
    table goes to an open file, with the header only first and the first chunk's `lengths`."""
    flat = flatten_lists(frame, lengths)
    if "ts" in flat.columns and flat.schema["ts"] == UTC_US:
        flat = flat.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    flat.write_csv(target, include_header=include_header)


def write_csv_chunks(chunks: Iterable[pl.DataFrame], target: Path) -> None:
    """One chunk after the other into a CSV: the header and the list columns' widths are the first chunk's."""
    lengths: dict[str, int] | None = None
    with open(target, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            first = lengths is None
            lengths = list_lengths(chunk) if lengths is None else lengths
            write_csv(chunk, handle, include_header=first, lengths=lengths)


Table = TypeVar("Table", pl.DataFrame, pl.LazyFrame)


def conform(table: Table, expected: dict[str, pl.DataType], source: object) -> Table:
    """`table` with each column named in `expected` in that type, for a file another tool may have written.

    A column of the expected type is kept; one without values (Parquet's null type), of another number
    type, another list or another datetime unit or zone is cast (a value out of range becomes null); any
    other type (text where numbers or times belong) is one InputError line naming `source` and the column.
    Columns not in `expected` are kept as they are."""
    schema = table.collect_schema() if isinstance(table, pl.LazyFrame) else table.schema
    casts = []
    for name, dtype in schema.items():
        want = expected.get(name)
        if want is None or dtype == want:
            continue
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime) and isinstance(want, pl.Datetime):
            zoned = column.dt.replace_time_zone(want.time_zone) if dtype.time_zone is None \
                else column.dt.convert_time_zone(want.time_zone or "UTC")
            casts.append(zoned.dt.cast_time_unit(want.time_unit or "us").alias(name))
        elif dtype == pl.Null() or (dtype.is_numeric() and want.is_numeric()) \
                or (isinstance(dtype, pl.List) and isinstance(want, pl.List)):
            casts.append(column.cast(want, strict=False))
        else:
            raise InputError(f"{source}: column {name} holds {_type_word(dtype)}, not {_type_word(want)}")
    return table.with_columns(casts) if casts else table


def _type_word(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "times"
    return "text" if dtype == pl.String() else "numbers" if dtype.is_numeric() else str(dtype)


def finite_or_null(table: Table) -> Table:
    """NaN and ±inf in float columns as null: no reading, as the recorder writes a missing one."""
    floats = pl.col(pl.Float32, pl.Float64)  # one expression for every float column: planned once, not per column
    return table.with_columns(pl.when(floats.is_finite()).then(floats))
