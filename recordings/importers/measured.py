"""What an imported file never measured stays absent: no device it does not hold, no throttle it never read.

The session schema has every column of the CPU and of each GPU, and the signal pipeline derives values
(collapse counts, throttle seconds) even from nulls. For an import, a device's derived columns are null in
the rows before its first reading (all of them when it has none), its collapse flags and rolling peak
before its first RLE, and the workload state before the first utilization (`Unmeasured`: piece by piece,
with the same result as one read). The summary (`summarize_measured`) leaves out the entry of a device the
file does not hold, a GPU's `throttle` account when the file had no throttle column, and collapse counts
where no RLE could be derived; its `not_measured` says why, so that a check on such a name is an error that
names it instead of a pass (recordings.checks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from collectors.schema import CPU_COLUMNS, DERIVED_COLUMN_TEMPLATE, column
from recordings.checks import NOT_MEASURED

RLE_NEEDS = "the source lacks what the RLE needs (utilization, power, temperature)"


def held_columns(raw: pl.DataFrame) -> set[str]:
    """The columns of raw samples with at least one reading."""
    return {name for name in raw.columns if raw[name].null_count() < raw.height}


def _device_columns(names: Iterable[str], prefix: str) -> list[str]:
    if prefix == "cpu":
        return [name for name in names if name in CPU_COLUMNS or name.startswith("cpu_core")]
    return [name for name in names if name.startswith(f"{prefix}_")]


def _device_held(held: set[str], prefix: str) -> bool:
    return bool(_device_columns(held, prefix))


def _is_utilization(name: str) -> bool:
    return name.endswith("_util_pct") and not name.endswith("mem_util_pct")


def _utilization_held(held: set[str]) -> bool:
    return any(_is_utilization(name) for name in held)


def _first_row(frame: pl.DataFrame, columns: list[str]) -> int:
    """The first row of `frame` with a value in one of `columns`; `frame.height` when there is none."""
    if not columns:
        return frame.height
    found = frame.select(pl.any_horizontal(pl.col(columns).is_not_null())).to_series().arg_true()
    return int(found[0]) if found.len() else frame.height


class Unmeasured:
    """Nulls what an import could not have derived yet, piece by piece with the same result as one read: a
    device's derived values before its first reading (all of them when it has none), its collapse flags and
    rolling peak before its first RLE (no collapse could be seen: unknown, not none), and the workload state
    before the first utilization. After that, a device that stops being read keeps them, as live."""

    def __init__(self, prefixes: list[str]) -> None:
        self.prefixes = prefixes
        self.held: set[str] = set()  # raw columns with a reading so far
        self.rle: set[str] = set()  # devices with an RLE so far

    def null(self, raw: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
        """`table`, the derived samples of raw samples `raw` (the next piece), with what is unknown null."""
        utilization = [name for name in raw.columns if _is_utilization(name)]
        tops = {"workload_state": 0 if _utilization_held(self.held) else _first_row(raw, utilization)}
        tops["workload_source"] = tops["workload_state"]
        for prefix in self.prefixes:
            read = 0 if _device_held(self.held, prefix) else _first_row(raw, _device_columns(raw.columns, prefix))
            tops.update((name.format(p=prefix), read) for name in DERIVED_COLUMN_TEMPLATE)
            rle = 0 if prefix in self.rle else _first_row(table, [column(prefix, "rle_smoothed")])
            if rle < table.height:
                self.rle.add(prefix)
            for name in (column(prefix, "collapse"), column(prefix, "rolling_peak")):
                tops[name] = max(tops[name], rle)
        self.held |= held_columns(raw)
        row = pl.int_range(pl.len())
        return table.with_columns(pl.when(row >= rows).then(pl.col(name)).alias(name)
                                  for name, rows in tops.items() if rows and name in table.columns)


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
