"""`rigscope export`: a session's samples as CSV, Parquet, JSON lines, or the RLE lab's long CSV.

The file is written to a temporary name and renamed, so a failed export leaves nothing behind.
A long CSV gets the session's meta.json beside it (`longcsv.sidecar`), which import reads back.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from collectors.schema import device_prefixes, gpu_indices_of
from recordings.errors import InputError
from recordings.frames import UTC_US, flatten_lists, write_csv
from recordings.longcsv import CORE_PREFIX, DERIVED, EXTRA_COLUMNS, LAB_COLUMNS, TICK, device_name, fields_for, sidecar
from recordings.out_paths import whole_output
from recordings.reader import read_samples
from recordings.session import read_meta, session_status, write_json_atomic

FORMATS = {"csv": ".csv", "parquet": ".parquet", "json": ".jsonl", "long-csv": ".long.csv"}
ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"


def _measured(flat: pl.DataFrame, prefix: str) -> bool:
    """Whether the device has a reading in any of its raw columns (an imported GPU log has no CPU rows)."""
    names = [wide for wide, _ in fields_for(prefix).values() if wide in flat.columns]
    return bool(names) and flat.select(pl.any_horizontal(pl.col(names).is_not_null()).any()).item()


def long_table(samples: pl.DataFrame) -> pl.DataFrame:
    """One row per device per tick that measured something: the lab's columns in its order, then
    rigscope's raw extras."""
    indices = gpu_indices_of(samples.columns)
    flat = flatten_lists(samples)
    cores = [c for c in flat.columns if c.startswith(CORE_PREFIX) and c.endswith("_util_pct")]
    order = [prefix for prefix in device_prefixes(indices) if _measured(flat, prefix)]
    parts = []
    for rank, prefix in enumerate(order):
        exprs = [pl.col("ts").dt.strftime(ISO).alias("timestamp"), pl.lit(device_name(prefix, indices)).alias("device"),
                 pl.lit(rank).alias("_rank")]
        wanted = {long: (wide.format(p=prefix), 1.0) for long, wide in DERIVED.items()}
        wanted.update(fields_for(prefix))
        wanted.update({name: (name, 1.0) for name in (*TICK, "workload_state")})
        for long, (wide, scale) in wanted.items():
            if wide in flat.columns:
                exprs.append((pl.col(wide) / scale if scale != 1.0 else pl.col(wide)).alias(long))
        if prefix == "cpu":
            exprs += [pl.col(c) for c in cores]
        parts.append(flat.with_row_index("_tick").select(pl.col("_tick"), *exprs))
    columns = [*LAB_COLUMNS, *EXTRA_COLUMNS, *cores]
    if not parts:  # no device measured anything: the header alone
        return pl.DataFrame({c: [] for c in columns})
    table = pl.concat(parts, how="diagonal_relaxed").sort("_tick", "_rank")
    return table.select(pl.col(c) if c in table.columns else pl.lit(None).alias(c) for c in columns)


def default_name(session: Path, kind: str) -> Path:
    return Path(f"{session.name}{FORMATS[kind]}")


def export_session(session: Path, kind: str, out: Path | None = None) -> tuple[Path, int]:
    """Write the session's samples as `kind` to `out` (default: `<id><ext>` here); the path and row count."""
    target = out or default_name(session, kind)
    samples = read_samples(session)
    try:
        with whole_output(target, parents=False) as handle:  # whole or not at all; a pipe or a device written into
            if kind == "parquet":
                samples.write_parquet(handle, compression="zstd")
                rows = samples.height
            elif kind == "csv":
                write_csv(samples, handle)
                rows = samples.height
            elif kind == "json":
                flat = (samples.with_columns(pl.col("ts").dt.strftime(ISO)) if samples.schema.get("ts") == UTC_US
                        else samples)
                flat.write_ndjson(handle)
                rows = samples.height
            else:
                table = long_table(samples)
                table.write_csv(handle)
                rows = table.height
                meta = read_meta(session)
                if meta.get("status") == "recording":  # a dead recorder's session is "interrupted", as ls says
                    meta["status"] = session_status(meta, session)
                write_json_atomic(sidecar(target), meta)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot write {target}: {getattr(error, 'strerror', None) or str(error).splitlines()[0]}") from None
    return target, rows
