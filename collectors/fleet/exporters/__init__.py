"""The exporters the fleet understands, one module each; `EXPORTERS` in the order they win a field."""

from __future__ import annotations

from collectors.fleet.exporters import dcgm, node_exporter, rigscope
from collectors.fleet.table import Entry, Exporter

EXPORTERS: tuple[Exporter, ...] = (rigscope.EXPORTER, dcgm.EXPORTER, node_exporter.EXPORTER)
BY_METRIC: dict[str, list[tuple[Exporter, Entry]]] = {}
for _exporter in EXPORTERS:
    for _entry in _exporter.entries:
        BY_METRIC.setdefault(_entry.metric, []).append((_exporter, _entry))

