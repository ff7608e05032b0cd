"""The fleet model: one row per node and the totals, from what a client read of each node.

A node is stale when its exporter is down (`up == 0`), its scrape failed, or its newest
sample is older than three scrape intervals: a stale row keeps its name, state and
error and nulls every number, so old readings are never shown as live.  Unknown is
None everywhere, never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from collectors.fleet.plausible import note

STALE_INTERVALS = 3
_DIGITS = re.compile(r"(\d+)")
IDLE_RATIO = 0.05  # "allocated but idle": memory in use and activity under 5 % ...
IDLE_WINDOW_S = 300.0  # ... for 5 minutes
ROW_NUMBERS = ("gpus", "util_mean", "util_max", "sm_mean", "mem_used", "mem_total", "temp_max", "temp_limit",
               "power", "energy", "collapses", "throttle", "cpu_util", "host_mem_used", "host_mem_total",
               "idle_gpus")


@dataclass
class NodeReading:
    """What one refresh read of one node (an instance): fields per GPU and for the host, in base units."""

    instance: str
    up: bool | None = None
    error: str | None = None
    partial: str | None = None  # up, with another exporter of the node down: which, and why
    seen_s: float | None = None  # Unix time of its newest sample
    interval_s: float | None = None  # its scrape interval, when known
    exporters: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # a few metric names no adapter knows, when nothing else was understood
    gpus: dict[str, dict[str, float]] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    active_max: dict[str, float] = field(default_factory=dict)  # per GPU: highest activity over IDLE_WINDOW_S
    gpu_names: dict[str, str] = field(default_factory=dict)
    impossible: dict[str, int] = field(default_factory=dict)  # field: readings left out as out of range


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _known(gpus: dict[str, dict[str, float]], name: str) -> list[float]:
    return [g[name] for g in gpus.values() if g.get(name) is not None]


def _sum(values: list[float]) -> float | None:
    return sum(values) if values else None


def counted(name: str) -> tuple[str | int, ...]:
    """A node's name as a sort key that counts its numbers: gpu2 before gpu10, 10.0.0.9 before 10.0.0.10."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(name)))


def stale_reason(reading: NodeReading, now_s: float) -> str | None:
    if reading.error:
        return reading.error
    if reading.up is False:
        return "down (up == 0)"
    if reading.seen_s is not None and reading.interval_s:
        age = now_s - reading.seen_s
        if age > STALE_INTERVALS * reading.interval_s:
            return f"no sample for {age:.0f} s (over {STALE_INTERVALS} scrape intervals)"
    if not reading.exporters:  # up, but nothing an adapter reads: shown as such, not as an idle node
        if reading.unknown:
            return "unknown exporter: " + ", ".join(reading.unknown)
        return "no rigscope, DCGM or node_exporter metrics"
    return None


def idle_gpus(reading: NodeReading) -> int | None:
    """GPUs with memory in use whose activity (SM where known, else utilization) stayed under 5 % for 5 min."""
    if not reading.active_max:
        return None
    return sum(1 for gpu, values in reading.gpus.items()
               if (values.get("mem_used") or 0) > 0 and reading.active_max.get(gpu, 1.0) < IDLE_RATIO)


def node_row(reading: NodeReading, now_s: float) -> dict[str, Any]:
    """The node's row: numbers in base units (None when unknown or stale), its state and why."""
    reason = stale_reason(reading, now_s)
    notes = "; ".join(n for n in (reading.partial, note(reading.impossible)) if n) or None
    row: dict[str, Any] = {"node": reading.instance, "stale": reason is not None, "reason": reason or notes,
                           "exporters": list(reading.exporters), "workload": None}
    row.update(dict.fromkeys(ROW_NUMBERS))
    if reason is not None:
        return row
    gpus, host = reading.gpus, reading.host
    util = _known(gpus, "util")
    totals = [g.get("mem_total") if g.get("mem_total") is not None else
              (g["mem_used"] + g["mem_free"] if g.get("mem_used") is not None and g.get("mem_free") is not None
               else None) for g in gpus.values()]
    host_used = host.get("host_mem_used")
    if host_used is None and host.get("host_mem_total") is not None and host.get("host_mem_available") is not None:
        host_used = host["host_mem_total"] - host["host_mem_available"]
    limits = _known(gpus, "temp_limit")
    row.update(
        gpus=len(gpus), util_mean=_mean(util), util_max=max(util) if util else None,
        sm_mean=_mean(_known(gpus, "sm_active")), mem_used=_sum(_known(gpus, "mem_used")),
        mem_total=sum(totals) if totals and None not in totals else None,  # type: ignore[arg-type]
        temp_max=max(_known(gpus, "temp"), default=None), temp_limit=min(limits) if limits else None,
        power=_sum(_known(gpus, "power")), energy=_sum(_known(gpus, "energy")),
        throttle=_sum(_known(gpus, "throttle")), collapses=host.get("collapses"), cpu_util=host.get("cpu_util"),
        host_mem_used=host_used, host_mem_total=host.get("host_mem_total"), idle_gpus=idle_gpus(reading),
        workload=host.get("workload"))
    return row


def totals(rows: list[dict[str, Any]], gpus: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """The fleet's: live nodes' GPUs (`gpus`: node: GPU: fields); the mean utilization of those that have one."""
    live = [r for r in rows if not r["stale"]]
    util = [u for node in gpus.values() for u in _known(node, "util")]
    power = [r["power"] for r in live if r["power"] is not None]
    idle = [r["idle_gpus"] for r in live if r["idle_gpus"] is not None]
    return {"nodes": len(rows), "nodes_up": len(live), "nodes_down": len(rows) - len(live),
            "gpus": sum(r["gpus"] or 0 for r in live), "util_mean": _mean(util),
            "power": sum(power) if power else None, "idle_gpus": sum(idle) if idle else None}


@dataclass
class FleetModel:
    """One refresh: the rows, the totals, the source's own error lines and how many requests it took."""

    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    errors: list[str]
    queries: int
    refresh_s: float
    taken_s: float  # Unix time of the refresh
    window_s: float
    gpus: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # live nodes: GPU: fields

    def as_json(self) -> dict[str, Any]:
        return {"taken_s": self.taken_s, "window_s": self.window_s, "queries": self.queries,
                "refresh_s": round(self.refresh_s, 4), "errors": self.errors, "totals": self.totals,
                "nodes": self.rows, "gpu_readings": self.gpus}


def build(readings: list[NodeReading], errors: list[str], queries: int, refresh_s: float, now_s: float,
          window_s: float) -> FleetModel:
    rows = sorted((node_row(r, now_s) for r in readings), key=lambda r: counted(r["node"]))
    live = {r["node"] for r in rows if not r["stale"]}
    gpus = {r.instance: r.gpus for r in readings if r.instance in live}
    return FleetModel(rows, totals(rows, gpus), errors, queries, refresh_s, now_s, window_s, gpus)


def stale_rows(rows: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    """The rows of a refresh that no longer holds: names kept, numbers gone, the reason said."""
    return [node_row(NodeReading(r["node"], error=reason), 0.0) for r in rows]
