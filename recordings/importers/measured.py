"""What an imported file never measured stays absent: no device it does not hold, no throttle it never read.

The session schema has every column of the CPU and of each GPU, and the signal pipeline derives values
(collapse counts, throttle seconds) even from nulls. For an import, the derived columns of a device with
no reading are null (piece by piece: `null_unmeasured`), and the summary (`summarize_measured`) leaves out
the entry of a device the file does not hold, a GPU's `throttle` account when the file had no throttle
column, and collapse counts where no RLE could be derived; its `not_measured` says why, so that a check
on such a name is an error that names it instead of a pass (recordings.checks).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.schema import CPU_COLUMNS, DERIVED_COLUMN_TEMPLATE, column
from recordings.checks import NOT_MEASURED

RLE_NEEDS = "the source lacks what the RLE needs (utilization, power, temperature)"


def held_columns(raw: pl.DataFrame) -> set[str]:
    """The columns of raw samples with at least one reading."""
    return {name for name in raw.columns if raw[name].null_count() < raw.height}


def _device_held(held: set[str], prefix: str) -> bool:
    if prefix == "cpu":
        return any(name in held for name in CPU_COLUMNS) or any(name.startswith("cpu_core") for name in held)
    return any(name.startswith(f"{prefix}_") for name in held)


def _utilization_held(held: set[str]) -> bool:
    return any(name.endswith("_util_pct") and not name.endswith("mem_util_pct") for name in held)


def null_unmeasured(table: pl.DataFrame, held: set[str], prefixes: list[str]) -> pl.DataFrame:
    """`table` (derived) with null derived values for a device without readings in its raw samples (`held`),
    null collapse flags and peaks where its RLE could not be derived, and no workload state without
    any utilization to tell it from."""
    nulls = [] if _utilization_held(held) else ["workload_state", "workload_source"]
    for prefix in prefixes:
        if not _device_held(held, prefix):
            nulls += [name.format(p=prefix) for name in DERIVED_COLUMN_TEMPLATE]
        elif table[column(prefix, "rle_smoothed")].null_count() == table.height:
            nulls += [column(prefix, "collapse"), column(prefix, "rolling_peak")]
    return table.with_columns(pl.lit(None, table.schema[name]).alias(name) for name in nulls if name in table.columns)


def summarize_measured(held: set[str], summary: dict[str, Any], events: list[dict[str, Any]],
                       ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`summary` and `events` without what the file never held (`held`: its columns with a reading)."""
    devices: dict[str, dict[str, Any]] = summary.get("devices") or {}
    absent: dict[str, str] = {}
    for prefix in list(devices):
        if not _device_held(held, prefix):
            del devices[prefix]
            absent[prefix] = f"the source had no {prefix.upper() if prefix == 'cpu' else prefix} columns"
            continue
        entry = devices[prefix]
        if prefix != "cpu" and column(prefix, "throttle_reasons") not in held:
            entry.pop("throttle", None)
            absent[f"throttle.{prefix}"] = "the source had no throttle column"
        if entry.get("rle_max") is None:  # no RLE, so no collapse could be seen: unknown, not none
            entry["collapse_events"] = entry["collapse_seconds"] = None
            absent[f"{prefix}.collapse"] = RLE_NEEDS
    if not _utilization_held(held):
        summary.pop("workload_seconds", None)
        absent["workload"] = "the source had no utilization column"
    if any(entry["collapse_events"] is None for entry in devices.values()):
        absent["collapses"] = f"a device: {RLE_NEEDS}"
    for key, prefixes in (("cpu_collapses", ["cpu"]), ("gpu_collapses", [p for p in devices if p != "cpu"])):
        counts = [devices[p]["collapse_events"] for p in prefixes if p in devices]
        if not counts or None in counts:
            summary.pop(key, None)
            absent[key] = "the source had no such device" if not counts else f"a device: {RLE_NEEDS}"
    if absent:
        summary[NOT_MEASURED] = absent
    return summary, [event for event in events if event.get("device") not in absent]
