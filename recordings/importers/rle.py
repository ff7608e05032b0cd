"""The RLE lab's long CSVs (all three of its column sets) and rigscope's own long-csv export.

Rows of one tick (one timestamp) become one wide row; `gpu` is `gpu0`. The lab's
derived columns are dropped (they are recomputed), its `collapse` is kept as
`legacy_{p}_collapse`, and the values it made up are dropped: CPU power (its
constant 125 W, or 125 W times the utilization), a CPU temperature fixed at 50 °C,
`a_load` fixed at 0.8. Rows without a readable timestamp or device (the lab's
files hold some torn lines) are skipped and counted in the session's warnings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import column
from recordings.errors import InputError
from recordings.importers.table import LINE, not_numbers, numbers
from recordings.importers.times import TimeOptions, parse_times
from recordings.importers.writer import Imported
from recordings.longcsv import (
    ANY_DEVICE,
    CORE_PREFIX,
    CPU_ONLY,
    DERIVED,
    EXTRA_COLUMNS,
    GPU_ONLY,
    LAB_COLUMNS,
    LEGACY_ALIASES,
    TEXT,
    TICK,
    fields_for,
    prefix_of,
    sidecar,
)

LAB_CPU_WATTS = 125.0
LAB_CPU_TEMP_C = 50.0
LAB_A_LOAD = 0.8
ROUNDING = 0.006  # the lab wrote 125 W x util with 2 decimals
# Columns of the lab's older layouts (v1 and 19 columns) that are not in its newest one.
LAB_OLDER_COLUMNS = ("vram_temp_c", "fan_pct", "rle_norm", "cpu_freq_ghz", "cycles_per_joule")
# Every column of the lab's layouts and of rigscope's export: the lab's that rigscope does not read
# (disk, voltages, fan rpm, ...) are left out knowingly; any other column is named when it is ignored.
KNOWN_COLUMNS = frozenset({*LAB_COLUMNS, *LAB_OLDER_COLUMNS, *EXTRA_COLUMNS, *DERIVED, *ANY_DEVICE, *GPU_ONLY,
                           *CPU_ONLY, *LEGACY_ALIASES})


def _layout(columns: list[str]) -> str:
    if "elapsed_s" in columns:
        return "rigscope long-csv"
    if "workload_state" in columns:
        return "rle-lab enhanced (42 columns)"
    return "rle-lab 19 columns" if "rle_norm" in columns else "rle-lab v1 (16 columns)"


def _device_frame(rows: pl.DataFrame, prefix: str, item: Imported) -> pl.DataFrame:
    """This device's rows (the first per tick) as wide columns keyed by `ts`."""
    own = rows.filter(pl.col("_prefix") == prefix).unique("ts", keep="first", maintain_order=True)
    fields = fields_for(prefix)
    for long, (device, wide, scale) in LEGACY_ALIASES.items():
        if long in own.columns and (device == "gpu") == (prefix != "cpu") and long not in fields:
            fields[long] = (wide.format(p=prefix), scale)
    exprs = [pl.col("ts")]
    for long, (wide, scale) in fields.items():
        if long in TEXT and long in own.columns:
            exprs.append(pl.col(long).alias(wide))
        elif long in own.columns:
            value = numbers(long) * scale
            exprs.append((value.round(0) if scale > 1000 else value).alias(wide))
    if "collapse" in own.columns and item.layout != "rigscope long-csv":  # rigscope's own are recomputed
        exprs.append(numbers("collapse").cast(pl.Int8).alias("legacy_" + column(prefix, "collapse")))
    if prefix == "cpu":
        cores = sorted((c for c in own.columns if c.startswith(CORE_PREFIX) and c.endswith("_util_pct")),
                       key=lambda c: int(c[len(CORE_PREFIX):].split("_")[0]))
        if cores:
            exprs.append(pl.concat_list([numbers(c) for c in cores]).alias("cpu_core_util_pct"))
    frame = own.select(exprs)
    if item.layout != "rigscope long-csv":
        frame = _drop_made_up(frame, own, prefix, item)
    return frame


def _drop_made_up(frame: pl.DataFrame, own: pl.DataFrame, prefix: str, item: Imported) -> pl.DataFrame:
    a_load = numbers("a_load") if "a_load" in own.columns else None
    if a_load is not None:
        loads = own.select(a_load.alias("a")).drop_nulls()["a"]
        if loads.len() and (loads == LAB_A_LOAD).all():
            item.dropped.append(f"{prefix} a_load: always {LAB_A_LOAD} (a constant of the lab tool)")
        elif prefix != "cpu" and "power_limit_w" not in own.columns:
            frame = _with_inferred_limit(frame, own, a_load, prefix, item)
    if prefix != "cpu":
        return frame
    if "cpu_power_w" in frame.columns:
        power, util = pl.col("cpu_power_w"), pl.col("cpu_util_pct")
        made_up = (power == LAB_CPU_WATTS) | ((power - util * LAB_CPU_WATTS / 100).abs() <= ROUNDING)
        count = frame.select(made_up.fill_null(False).sum()).item()
        if count:
            item.dropped.append(f"cpu power_w: {count} values of the lab's 125 W model (125 W or 125 W x utilization)")
            frame = frame.with_columns(pl.when(made_up).then(None).otherwise(power).alias("cpu_power_w"))
    if "cpu_temp_c" in frame.columns:
        temps = frame["cpu_temp_c"].drop_nulls()
        if temps.len() and (temps == LAB_CPU_TEMP_C).all():
            item.dropped.append(f"cpu temp_c: always {LAB_CPU_TEMP_C:g} °C (a constant of the lab tool)")
            frame = frame.with_columns(pl.lit(None, pl.Float64).alias("cpu_temp_c"))
    return frame


def _with_inferred_limit(frame: pl.DataFrame, own: pl.DataFrame, a_load: pl.Expr, prefix: str,
                         item: Imported) -> pl.DataFrame:
    """The lab's a_load was power / the GPU's power limit, so its rows give the limit back (the median)."""
    if "power_w" not in own.columns:
        return frame
    ratio = own.select((numbers("power_w") / a_load).alias("r"), a_load.alias("a"))
    limit = ratio.filter(pl.col("a") >= 0.05)["r"].median()
    if not isinstance(limit, float):
        return frame
    item.warnings.append(f"{prefix} power limit {round(limit, 1):g} W: from the lab's a_load (power / limit)")
    return frame.with_columns(pl.lit(round(limit, 1), pl.Float64).alias(column(prefix, "power_limit_w")))


def read_metadata(csv: Path) -> dict[str, Any]:
    """The lab's `<name>_metadata.json` or rigscope's export sidecar `<name>.meta.json` beside the CSV, if any."""
    path = next((p for p in (csv.with_name(f"{csv.stem}_metadata.json"), sidecar(csv)) if p.is_file()), None)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: unreadable metadata ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: metadata is not a JSON object")
    return data


def _skip(item: Imported, rows: pl.DataFrame, mask: pl.Series, reason: str) -> pl.DataFrame:
    """`rows` without those of `mask`, which are counted as skipped for `reason`."""
    lines = rows[LINE].filter(mask)
    if lines.len():
        item.skip(reason, int(lines.min()), lines.len())  # type: ignore[arg-type]
    return rows.filter(~mask)


def _numeric(columns: list[str]) -> list[str]:
    """The columns read as numbers (the lab's derived ones are dropped, not read)."""
    names = {*ANY_DEVICE, *GPU_ONLY, *CPU_ONLY, *LEGACY_ALIASES, *TICK, "collapse", "a_load"} - TEXT
    return [c for c in columns if c in names or (c.startswith(CORE_PREFIX) and c.endswith("_util_pct"))]


def read_rle(path: Path, raw: pl.DataFrame, torn: int | None, times: TimeOptions) -> Imported:
    """`raw`: the CSV with every column as text and its line numbers; `torn`: the line of a cut last row."""
    item = Imported(source=path, layout=_layout(raw.columns))
    item.ignore([name for name in raw.columns if name not in KNOWN_COLUMNS and name != LINE
                 and not (name.startswith(CORE_PREFIX) and name.endswith("_util_pct"))])
    if torn is not None:
        item.skip("a last line cut short", torn)
    raw = raw.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))  # blank lines
    raw = _skip(item, raw, ((raw["timestamp"] == "timestamp") & (raw["device"] == "device")).fill_null(False),
                "a repeated header line")
    known = {d: prefix_of(d) for d in raw["device"].drop_nulls().unique().to_list()}
    rows = raw.with_columns(parse_times(raw["timestamp"], path, times).alias("ts"),
                            pl.col("device").replace_strict(known, default=None, return_dtype=pl.String).alias("_prefix"))
    good = _skip(item, rows, (rows["ts"].is_null() | rows["_prefix"].is_null()),
                 "no readable timestamp and device (cpu, gpu, gpuN)")
    for name in _numeric(good.columns):
        good = _skip(item, good, not_numbers(good[name]), f"{name} not a number")
    if not good.height:
        raise InputError(f"{path}: no readable row ({'; '.join(item.accounting()) or 'no rows'})")
    prefixes = sorted(set(good["_prefix"].to_list()), key=lambda p: (p != "cpu", int(p[3:] or 0) if p != "cpu" else 0))
    wide = good.select("ts").unique().sort("ts")
    for prefix in prefixes:
        wide = wide.join(_device_frame(good, prefix, item), on="ts", how="left")
    tick_columns = [pl.col("ts")] + [numbers(name).alias(name) for name in TICK if name in good.columns]
    wide = wide.join(good.select(tick_columns).unique("ts", keep="first"), on="ts", how="left")
    if "elapsed_s" not in wide.columns:
        wide = wide.with_columns(((pl.col("ts") - pl.col("ts").min()).dt.total_microseconds() / 1e6).alias("elapsed_s"))
    legacy = [c for c in wide.columns if c.startswith("legacy_")]
    item.samples, item.extra = wide.drop(legacy), wide.select(legacy)
    item.meta = read_metadata(path)
    if item.layout == "rigscope long-csv":  # an export's own summary and recorder: recomputed, not legacy
        item.meta = {k: v for k, v in item.meta.items() if k not in ("summary", "recorder", "imported")}
    item.host = dict(item.meta.get("host") or {}) if isinstance(item.meta.get("host"), dict) else {}
    item.host.setdefault("hostname", path.stem.split("__")[0] if "__" in path.stem else None)
    item.gpus = [{"index": int(p[3:]), "name": None} for p in prefixes if p != "cpu"]
    if isinstance(item.meta.get("gpus"), list):
        item.gpus = item.meta["gpus"]
    return item
