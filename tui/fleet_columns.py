"""The fleet table's columns: titles, widths, cells in words and sort keys (no Textual here).

Shared by the fleet screen and `rigscope fleet --once`'s plain table.  Node names and
workload states come from other machines: they are made inert before they are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collectors.fleet.model import counted
from recordings.inert import inert
from tui import format as fmt

Row = dict[str, Any]


def _pct(value: Any) -> str:
    return fmt.num(value * 100 if isinstance(value, (int, float)) else None, "%")


def _mem(row: Row) -> str:
    if row["mem_used"] is None:
        return "—"
    return fmt.size(row["mem_used"]) + ("" if row["mem_total"] is None else "/" + fmt.size(row["mem_total"]))


def _temp(row: Row) -> str:
    return fmt.num(row["temp_max"], "°") + ("" if row["temp_limit"] is None else f"/{row['temp_limit']:.0f}")


def _energy(value: Any) -> str:
    return "—" if not isinstance(value, (int, float)) else fmt.energy(value).replace(" ", "")


def state(row: Row) -> str:
    if row["stale"]:
        return "STALE " + inert(row["reason"] or "")
    live = inert(row["workload"] or "") or "live"
    return f"{live} · {inert(row['reason'])}" if row["reason"] else live  # an exporter of the node is down


def _key(name: str) -> Callable[[Row], Any]:
    return lambda r: -1.0 if r.get(name) is None else r[name]


Column = tuple[str, int, Callable[[Row], str], Callable[[Row], Any]]  # title, width, cell, sort key
# The last column takes what is left.
COLUMNS: tuple[Column, ...] = (
    ("NODE", 18, lambda r: inert(r["node"]), lambda r: counted(r["node"])),
    ("GPUS", 4, lambda r: fmt.num(r["gpus"]), _key("gpus")),
    ("UTIL", 5, lambda r: _pct(r["util_mean"]), _key("util_mean")),
    ("MAX", 5, lambda r: _pct(r["util_max"]), _key("util_max")),
    ("SM", 5, lambda r: _pct(r["sm_mean"]), _key("sm_mean")),
    ("GPU MEM", 13, _mem, _key("mem_used")),
    ("TEMP", 7, _temp, _key("temp_max")),
    ("POWER", 7, lambda r: fmt.num(r["power"], "W"), _key("power")),
    ("ENERGY", 8, lambda r: _energy(r["energy"]), _key("energy")),
    ("COLL", 4, lambda r: fmt.num(r["collapses"]), _key("collapses")),
    ("THROT", 6, lambda r: fmt.num(r["throttle"], "s"), _key("throttle")),
    ("IDLE", 4, lambda r: fmt.num(r["idle_gpus"]), _key("idle_gpus")),
    ("CPU", 5, lambda r: _pct(r["cpu_util"]), _key("cpu_util")),
    ("STATE", 0, state, lambda r: (not r["stale"], r["workload"] or "")),
)
LEFT = ("NODE", "STATE")
DEFAULT_SORT = 0
DROPPED_FIRST = ("THROT", "COLL", "MAX", "ENERGY", "IDLE", "CPU", "SM", "TEMP")  # what a narrow terminal loses
STATE_MIN = 16  # the state (STALE and why) keeps at least this much of the line


def fitting(width: int | None) -> tuple[Column, ...]:
    """The columns of a line `width` cells wide (all of them when None): the least needed go first, so the
    state stays on the line."""
    columns = COLUMNS
    for title in DROPPED_FIRST:
        if width is None or sum(c[1] + 1 for c in columns) + STATE_MIN <= width:
            break
        columns = tuple(c for c in columns if c[0] != title)
    return columns


def line(cells: list[str], columns: tuple[Column, ...] = COLUMNS) -> str:
    parts = []
    for (title, width, _, _), cell in zip(columns, cells):
        if width:
            cell = cell if len(cell) <= width else cell[: width - 1] + "…"
            cell = cell.ljust(width) if title in LEFT else cell.rjust(width)
        parts.append(cell)
    return " ".join(parts)


def header(columns: tuple[Column, ...] = COLUMNS) -> str:
    return line([c[0] for c in columns], columns)


def row_line(row: Row, columns: tuple[Column, ...] = COLUMNS) -> str:
    return line([cell(row) for _, _, cell, _ in columns], columns)


def totals_line(totals: dict[str, Any]) -> str:
    idle = totals["idle_gpus"]
    return (f"nodes {totals['nodes_up']} up / {totals['nodes_down']} down · {totals['gpus']} GPUs · "
            f"mean util {_pct(totals['util_mean'])} · power {fmt.num(totals['power'], ' W')} · "
            f"allocated but idle {'—' if idle is None else idle}")


def matches(row: Row, needle: str) -> bool:
    if not needle:
        return True
    text = " ".join([row["node"], row["workload"] or "", row["reason"] or "", *row["exporters"],
                     "stale" if row["stale"] else "live"])
    return needle.lower() in text.lower()
