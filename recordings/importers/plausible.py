"""Readings no instrument gives (a utilization of 250 %, a negative power, NaN) are null in an import.

Every importer's raw samples pass here on their way into the session (recordings.importers.writer),
so each layout gets the same ranges. A value outside its column's range, or NaN or ±inf in any number
column, becomes null and is counted per session column; the import says the counts in one line.
"""

from __future__ import annotations

import math
import re

import polars as pl

PERCENT = (0.0, 100.0)
CELSIUS = (-50.0, 150.0)  # colder or hotter than any running chip
WATTS = (0.0, 5000.0)  # one device; the largest GPU boards draw about 1.2 kW
AT_LEAST_ZERO = (0.0, math.inf)
# By column without its device prefix (`gpu0_util_pct` -> `util_pct`; host columns have none).
RANGES: dict[str, tuple[float, float]] = {
    "util_pct": PERCENT, "mem_util_pct": PERCENT,
    "temp_c": CELSIUS, "temp_limit_c": CELSIUS,
    "power_w": WATTS, "power_limit_w": WATTS, "energy_j": AT_LEAST_ZERO,
    "freq_mhz": AT_LEAST_ZERO, "clock_sm_mhz": AT_LEAST_ZERO, "clock_mem_mhz": AT_LEAST_ZERO,
    "mem_used_bytes": AT_LEAST_ZERO, "mem_total_bytes": AT_LEAST_ZERO, "swap_used_bytes": AT_LEAST_ZERO,
    "fan_pct": AT_LEAST_ZERO,  # NVML: a fan's speed may exceed 100 % of its rated maximum
    **dict.fromkeys(("sm_active_pct", "sm_occupancy_pct", "tensor_active_pct", "dram_bw_util_pct",
                     "fp16_active_pct", "fp32_active_pct", "fp64_active_pct"), PERCENT),
}
_DEVICE = re.compile(r"^(?:cpu|gpu\d+)_")
_NOT_READINGS = frozenset({"ts", "elapsed_s"})


def range_of(column: str) -> tuple[float, float] | None:
    """The values a reading of `column` can take; None for a column without such a range."""
    return RANGES.get(_DEVICE.sub("", column, count=1))


def null_impossible(raw: pl.DataFrame, counts: dict[str, int]) -> pl.DataFrame:
    """`raw` with NaN, ±inf and out-of-range values null; how many per column is added to `counts`."""
    bad: dict[str, pl.Expr] = {}
    for name, dtype in raw.schema.items():
        if name in _NOT_READINGS or not dtype.is_numeric():
            continue
        value = pl.col(name)
        wrong = ~value.is_finite() if dtype.is_float() else pl.lit(False)
        if (span := range_of(name)) is not None:
            wrong = wrong | (value < span[0]) | (value > span[1])
        bad[name] = wrong.fill_null(False)
    if not bad:
        return raw
    found = raw.select(expr.sum().alias(name) for name, expr in bad.items()).row(0, named=True)
    found = {name: count for name, count in found.items() if count}
    if not found:
        return raw
    for name, count in found.items():
        counts[name] = counts.get(name, 0) + count
    return raw.with_columns(pl.when(bad[name]).then(None).otherwise(pl.col(name)).alias(name) for name in found)


def said(counts: dict[str, int]) -> str:
    """The line an import prints (and keeps in meta.json's warnings) for `counts` of values made null."""
    parts = []
    for name, count in sorted(counts.items()):
        span = range_of(name)
        shown = "" if span is None else f" (at least {span[0]:g})" if span[1] == math.inf else \
            f" ({span[0]:g} to {span[1]:g})"
        parts.append(f"{name} {count}{shown}")
    return (f"read {sum(counts.values())} impossible values as null (NaN, infinite or out of range): "
            + ", ".join(parts))
