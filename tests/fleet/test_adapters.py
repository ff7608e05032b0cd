"""The adapter tables: rigscope's names are the ones its exporter serves, and every entry is well formed."""

from __future__ import annotations

from collectors.fleet.exporters import BY_METRIC, EXPORTERS, rigscope
from collectors.fleet.table import FIELDS
from rigscope.serve.prometheus import metric_names


def test_rigscope_adapter_reads_only_names_rigscope_serves():
    used = {entry.metric for entry in rigscope.EXPORTER.entries}
    assert used - set(metric_names()) == set()


def test_entries_are_well_formed():
    for exporter in EXPORTERS:
        for entry in exporter.entries:
            assert entry.field in FIELDS, entry
            assert entry.kind in ("gauge", "counter", "idle", "state", "name"), entry
            assert (entry.kind in ("state", "name")) == bool(entry.label), entry
    assert {x.name for pairs in BY_METRIC.values() for x, _ in pairs} == {e.name for e in EXPORTERS}
