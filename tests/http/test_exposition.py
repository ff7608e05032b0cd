"""The memoizing text encoder writes exactly what prometheus_client's generate_latest writes."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from rigscope.serve.exposition import TextEncoder
from tests.http.conftest import request, serving, wait_for


class Families:
    """A collector whose families the test changes between renders."""

    def __init__(self) -> None:
        self.families: list = []

    def collect(self):
        return iter(self.families)


def registry_of(collector: Families) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return registry


def test_same_bytes_as_generate_latest_as_series_come_and_values_change():
    collector = Families()
    registry, encoder = registry_of(collector), TextEncoder()
    for step, name in enumerate(['train', 'say "hi"\nback\\slash', 'ünïcode', 'train']):
        gauge = GaugeMetricFamily("rigscope_x_ratio", 'help with \\ and\nnewline', labels=["z", "a"])
        gauge.add_metric(["1", name], step / 3)
        gauge.add_metric(["2", name], float("nan") if step == 1 else float("inf"))
        counter = CounterMetricFamily("rigscope_spans", "spans", labels=["name"])
        counter.add_metric([name], 10.0 ** step)
        histogram = HistogramMetricFamily("rigscope_span_duration_seconds", "durations", labels=["name"])
        histogram.add_metric([name], [("0.5", 1.0), ("+Inf", float(step + 1))], 0.25 * step)
        unlabelled = GaugeMetricFamily("rigscope_lag_seconds", "lag")
        unlabelled.add_metric([], 1e-9 * step)
        collector.families = [gauge, counter, histogram, unlabelled]
        assert encoder(registry) == generate_latest(registry)


def test_other_family_types_fall_back_to_generate_latest():
    collector = Families()
    info = InfoMetricFamily("rigscope_build", "build", value={"version": "1"})
    collector.families = [info]
    registry = registry_of(collector)
    assert TextEncoder()(registry) == generate_latest(registry)


def test_metrics_endpoint_serves_the_encoders_bytes(tmp_path):
    with serving(tmp_path, gpus_sim=8, hz=5.0, duration_s=20.0, speed=None) as monitor:
        monitor.wait()
        wait_for(lambda: monitor.http.feed.snapshot().ended, what="the exporter to take the last frame")
        monitor.http.cache_metrics = False
        status, headers, body = request(monitor.http.port, "GET", "/metrics", headers={"Accept": "text/plain"})
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        assert body == generate_latest(monitor.http.registry)
        assert body.count(b'rigscope_gpu_utilization_ratio{gpu="7"') == 1


# The private parts of prometheus_client the encoder calls: all there from 0.23 (0.22.1 lacks
# UNDERSCORES and ALLOWUTF8, and every scrape failed with it), hence the pin in pyproject.toml.
INTERNALS = {
    "prometheus_client.openmetrics.exposition": ("escape_metric_name", "escape_label_name", "_escape",
                                                 "UNDERSCORES", "ALLOWUTF8"),
    "prometheus_client.utils": ("floatToGoString",),
}


def test_the_internals_the_encoder_needs_are_there_and_pinned():
    import importlib
    import re

    from tests.conftest import REPO

    for module, names in INTERNALS.items():
        found = importlib.import_module(module)
        assert [name for name in names if not hasattr(found, name)] == [], module
    pin = re.search(r'"prometheus_client>=([\d.]+),<(\d+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pin is not None and pin.group(1) == "0.23" and pin.group(2) == "1"
    source = (REPO / "rigscope" / "serve" / "exposition.py").read_text(encoding="utf-8")
    used = set(re.findall(r"openmetrics\.(\w+)", source)) | set(re.findall(r"import (floatToGoString)", source))
    assert used == {name for names in INTERNALS.values() for name in names}
