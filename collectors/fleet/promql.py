"""The grouped PromQL queries of one fleet refresh, built from the adapter tables.

Each query is a union (`or`) of one term per adapter entry; `label_replace` writes the
fleet field and the exporter into every series, so one answer carries many fields of
every node.  A refresh is `up`, the gauges and the windowed values (three queries,
plus the targets list), whatever the node or GPU count.
"""

from __future__ import annotations

import re

from collectors.fleet.exporters import EXPORTERS
from collectors.fleet.model import IDLE_WINDOW_S
from collectors.fleet.table import Entry, Exporter

ACTIVITY = ("sm_active", "util")  # what "idle" is judged on: SM activity where known, else utilization


def _selector(entry: Entry, extra: str = "") -> str:
    labels = [f'{k}="{v}"' for k, v in sorted(entry.match.items())] + ([extra] if extra else [])
    return entry.metric + ("{" + ",".join(labels) + "}" if labels else "")


def _tag(expr: str, field: str, exporter: str) -> str:
    return f'label_replace(label_replace({expr}, "field", "{field}", "", ""), "exporter", "{exporter}", "", "")'


def _scaled(expr: str, scale: float) -> str:
    return expr if scale == 1.0 else f"({expr}) * {scale!r}"


def _by(entry: Entry) -> str:
    return "instance, gpu" if entry.per_gpu else "instance"


def up_query(job: str | None) -> str:
    return f"max by (instance) (up{{job=~{_quote(job)}}})" if job else "max by (instance) (up)"


def gauges_query() -> str:
    terms = []
    for exporter in EXPORTERS:
        for entry in exporter.entries:
            if entry.kind == "gauge":
                expr = f"max by ({_by(entry)}) ({_selector(entry)})"
                terms.append(_tag(_scaled(expr, entry.scale), entry.field, exporter.name))
            elif entry.kind in ("state", "name"):  # the text travels in a label of its own: `value`
                by, selector = (("instance", f"{_selector(entry)} == 1") if entry.kind == "state" else
                                (_by(entry), _selector(entry)))
                expr = f'label_replace(max by ({by}, {entry.label}) ({selector}), ' \
                       f'"value", "$1", "{entry.label}", "(.*)")'
                terms.append(_tag(expr, entry.field, exporter.name))
        terms.append(_tag(f"max by (instance) (timestamp({_selector(_freshness(exporter))}))", "seen", exporter.name))
    return " or ".join(terms)


def _freshness(exporter: Exporter) -> Entry:
    """The metric whose newest sample says how fresh a node is (and how often it is scraped)."""
    return next(e for e in exporter.entries if e.kind != "name")


def window_query(window_s: float) -> str:
    """Counters' increase and the CPU over the window; each GPU's highest activity over the idle window; the
    samples of the window (the scrape interval where the server has no targets list to say it)."""
    w, idle = f"{window_s:g}s", f"{IDLE_WINDOW_S:g}s"
    terms = []
    for exporter in EXPORTERS:
        terms.append(_tag(f"max by (instance) (count_over_time({_selector(_freshness(exporter))}[{w}]))", "samples",
                          exporter.name))
        activity = [e for e in exporter.entries if e.kind == "gauge" and e.field in ACTIVITY]
        if activity:  # a GPU sample as old as the idle window: the idle test can be made
            first = _selector(activity[0])
            terms.append(_tag(f"max by (instance) (timestamp({first} offset {idle}))", "covered", exporter.name))
        for entry in exporter.entries:
            if entry.kind == "counter":  # one exporter scraped by two jobs: its series once (max without job)
                expr = f"sum by ({_by(entry)}) (max without (job) (increase({_selector(entry)}[{w}])))"
                terms.append(_tag(_scaled(expr, entry.scale), entry.field, exporter.name))
            elif entry.kind == "idle":
                terms.append(_tag(f"1 - avg by (instance) (rate({_selector(entry)}[{w}]))", entry.field,
                                  exporter.name))
            elif entry.kind == "gauge" and entry.field in ACTIVITY:
                expr = f"max by (instance, gpu) (max_over_time({_selector(entry)}[{idle}]))"
                terms.append(_tag(_scaled(expr, entry.scale), "active_" + entry.field, exporter.name))
    return " or ".join(terms)


def instances_regex(node: str) -> str:
    """The `instance` labels of a node: `gpu07`, `gpu07:9400`; `[fd00::7]:9400` for an IPv6 one."""
    name = re.escape(node)
    return f"(\\[{name}\\]|{name})(:[0-9]+)?"


def history_query(instances_regex: str, range_s: float, field: str = "util") -> str:
    """One node's GPUs over time for `query_range`: the highest value over the `range_s` up to each step, so
    spikes survive (a range of at least a step and two scrape intervals, so no step falls between samples)."""
    terms = []
    for exporter in EXPORTERS:
        for entry in exporter.entries:
            if entry.field == field and entry.kind == "gauge":
                expr = f"max by (gpu) (max_over_time({_selector(entry, f'instance=~{_quote(instances_regex)}')}" \
                       f"[{range_s:g}s]))"
                terms.append(_tag(_scaled(expr, entry.scale), field, exporter.name))
    return " or ".join(terms)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
