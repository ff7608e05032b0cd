"""What an imported file never measured stays absent: no device it does not hold, no throttle it never read.

The session schema has every column of the CPU and of each GPU, and the signal pipeline derives values
(collapse counts, throttle seconds) even from nulls. For an import, the derived columns of a device the
file does not hold are null, its summary entry is left out, a GPU's `throttle` account is left out when
the file had no throttle column, and the summary's `not_measured` says why, so that a check on such a
name is an error that names it instead of a pass (recordings.checks).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.schema import CPU_COLUMNS, DERIVED_COLUMN_TEMPLATE
from recordings.checks import NOT_MEASURED



def _held(raw: pl.DataFrame, names: list[str]) -> bool:
    return any(name in raw.columns and raw[name].null_count() < raw.height for name in names)


def _device_held(raw: pl.DataFrame, prefix: str) -> bool:
    if prefix == "cpu":
        return _held(raw, [name for name in CPU_COLUMNS] + [c for c in raw.columns if c.startswith("cpu_core")])
    return _held(raw, [c for c in raw.columns if c.startswith(f"{prefix}_")])


def keep_measured(raw: pl.DataFrame, table: pl.DataFrame, summary: dict[str, Any], events: list[dict[str, Any]],
                  ) -> tuple[pl.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    """`table`, `summary` and `events` without what the raw samples of the file never held."""
    devices: dict[str, dict[str, Any]] = summary.get("devices") or {}
    absent: dict[str, str] = {}
    nulls = []
    for prefix in list(devices):
        if not _device_held(raw, prefix):
            del devices[prefix]
            absent[prefix] = f"the source had no {prefix.upper() if prefix == 'cpu' else prefix} columns"
            nulls += [name.format(p=prefix) for name in DERIVED_COLUMN_TEMPLATE if name.format(p=prefix) in table.columns]
            continue
        entry = devices[prefix]
        if prefix != "cpu" and not _held(raw, [f"{prefix}_throttle_reasons"]):
            entry.pop("throttle", None)
            absent[f"throttle.{prefix}"] = "the source had no throttle column"
        if entry.get("rle_max") is None:  # no RLE, so no collapse could be seen: unknown, not none
            entry["collapse_events"] = entry["collapse_seconds"] = None
            nulls += [f"{prefix}_collapse", f"{prefix}_rolling_peak"]
            absent[f"{prefix}.collapse"] = "the source lacks what the RLE needs (utilization, power, temperature)"
    if any(entry["collapse_events"] is None for entry in devices.values()):
        absent["collapses"] = "a device of the source lacks what the RLE needs (utilization, power, temperature)"
    for key, prefixes in (("cpu_collapses", ["cpu"]), ("gpu_collapses", [p for p in devices if p != "cpu"])):
        counts = [devices[p]["collapse_events"] for p in prefixes if p in devices]
        if not counts or None in counts:
            summary.pop(key, None)
            absent[key] = "the source had no device with collapses measured" if not counts else \
                "a device of the source lacks what the RLE needs (utilization, power, temperature)"
    if absent:
        summary[NOT_MEASURED] = absent
    if nulls:
        table = table.with_columns(pl.lit(None, table.schema[name]).alias(name) for name in nulls)
    return table, summary, [event for event in events if event.get("device") not in absent]
