"""What an exporter adapter is: a table of metric names, the field each one fills and its unit conversion.

A field is one of rigscope's fleet quantities (`FIELDS`), always in base units: ratios 0-1,
bytes, watts, °C, joules, seconds.  `kind` says how a metric turns into the field:
`gauge` (the value times `scale`), `counter` (its increase over the window, times
`scale`), `idle` (per-CPU idle-seconds counters: the field is 1 - their mean rate) and
`state` (a 0/1 gauge whose `label` names the current value) and `name` (any series: its `label`
is the field, e.g. a GPU's model).  Both clients (Prometheus
queries and direct scrapes) read the same tables, so an exporter is added in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

GPU_FIELDS = ("model", "util", "sm_active", "tensor_active", "dram_active", "mem_used", "mem_free", "mem_total", "temp",
              "temp_limit", "power", "energy", "throttle")
HOST_FIELDS = ("cpu_util", "host_mem_used", "host_mem_available", "host_mem_total", "collapses", "workload")
FIELDS = GPU_FIELDS + HOST_FIELDS
TEXT_FIELDS = ("model", "workload")  # the others are numbers


@dataclass(frozen=True)
class Entry:
    field: str
    metric: str  # the sample name as exposed (counters with their `_total` where the exporter writes one)
    scale: float = 1.0
    kind: str = "gauge"  # gauge | counter | idle | state | name
    match: dict[str, str] = dataclasses.field(default_factory=dict)  # (`field` here is the column above)  # label values a sample must have
    label: str = ""  # for kinds "state" and "name": the label that holds the text

    @property
    def per_gpu(self) -> bool:
        return self.field in GPU_FIELDS


@dataclass(frozen=True)
class Exporter:
    name: str
    entries: tuple[Entry, ...]
