"""Gathers field values into `NodeReading`s, one per node, whichever client read them.

A node is the host part of an exporter's `instance` (`gpu07:9400` and `gpu07:9100` are one
node: dcgm-exporter and node_exporter side by side).  When two exporters give the same
field of the same GPU, the one listed first in `EXPORTERS` wins (rigscope, then DCGM).  A number
that is not finite is not measured; one out of its field's possible range is left out and
counted (`collectors.fleet.plausible`), so the next exporter's reading of it can win.
"""

from __future__ import annotations

from typing import Any

from collectors.fleet.exporters import EXPORTERS
from collectors.fleet.model import NodeReading
from collectors.fleet.plausible import possible
from collectors.fleet.table import TEXT_FIELDS
from collectors.values import finite

RANK = {e.name: i for i, e in enumerate(EXPORTERS)}
MAX_TEXT = 200  # characters of a text field (a workload state, a GPU model): a label may be any size


def node_of(instance: str) -> str:
    """`host:port` → `host` (`[::1]:9100` → `::1`); an instance without a port is the node itself."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else instance


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class Assembler:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeReading] = {}
        self._rank: dict[tuple[str, str, str], int] = {}
        self._instances: dict[str, dict[str, bool | None]] = {}
        self._down: dict[str, dict[str, str]] = {}  # node: {instance down: why, when known}

    def node(self, instance: str) -> NodeReading:
        name = node_of(instance)
        self._instances.setdefault(name, {}).setdefault(instance, None)
        reading = self.nodes.get(name)
        if reading is None:
            reading = self.nodes[name] = NodeReading(name)
        return reading

    def add(self, instance: str, exporter: str, field: str, gpu: str | None, value: Any) -> None:
        reading = self.node(instance)
        if exporter not in reading.exporters:
            reading.exporters = tuple(sorted((*reading.exporters, exporter), key=lambda e: RANK.get(e, 99)))
        if field in TEXT_FIELDS:
            value = _cut(str(value)) if value is not None else None
        else:
            number = finite(value)
            if number is None or not possible(field, number):
                if gpu is not None:
                    reading.gpus.setdefault(gpu, {})  # the GPU is there, this reading of it unknown
                if number is not None:
                    reading.impossible[field] = reading.impossible.get(field, 0) + 1
                return
        key, rank = (reading.instance, field, gpu or ""), RANK.get(exporter, 99)
        if self._rank.get(key, 99) < rank:
            return
        self._rank[key] = rank
        if gpu is None:
            reading.host[field] = value
        else:
            reading.gpus.setdefault(gpu, {})[field] = value

    def set_up(self, instance: str, up: bool, error: str | None = None, interval_s: float | None = None) -> None:
        """The node is up while any exporter on it answers (its readings are live); each one down gives a
        line of why: the node's error when none answers, else a partial-outage note beside the readings."""
        reading = self.node(instance)
        self._instances[reading.instance][instance] = up
        if interval_s:
            reading.interval_s = max(reading.interval_s or 0.0, interval_s)
        if not up:
            known = self._down.setdefault(reading.instance, {})
            known[instance] = error or known.get(instance, "")

    def seen(self, instance: str, seen_s: float) -> None:
        reading = self.node(instance)
        reading.seen_s = seen_s if reading.seen_s is None else min(reading.seen_s, seen_s)

    def readings(self) -> list[NodeReading]:
        for name, reading in self.nodes.items():
            states = self._instances[name].values()
            reading.up = True if True in states else (False if False in states else None)
            if name in self._down:
                why = "; ".join(f"{i} down" + (f": {why}" if why else "") for i, why in sorted(self._down[name].items()))
                if reading.up:
                    reading.partial = why
                elif not reading.error:
                    reading.error = why
        return list(self.nodes.values())
