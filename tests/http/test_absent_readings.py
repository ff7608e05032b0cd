"""GET /metrics serves what was read, and only that: no 0 stands in for an unknown reading, and no
reading goes missing.

A series that is there says something was measured (a count of zero collapses is a count; zero
seconds throttled on a GPU whose throttle reasons cannot be read is not).  The scrapes are parsed
with prometheus_client's own parser.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collectors.energy import STUCK_AFTER_S
from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.stream import Batch
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.serve.exposition import TextEncoder
from rigscope.serve.feed import MAX_STATES, THROTTLE_CAUSES, ExportFeed
from rigscope.serve.prometheus import GPU_GAUGES, PREFIX, ExportLabels, GpuLabel, make_registry
from rigscope.serve.reports import analysis
from tests.http.conftest import get_json, samples_of, scrape, wait_for

LABELS = ExportLabels(host="box", session="s1", gpus=(GpuLabel(0, "GPU-0"), GpuLabel(1, "GPU-1")),
                      devices=("cpu", "gpu0", "gpu1"))
# What is known before any sample: the identity, counts that start at zero, the configured rate.
KNOWN_WITHOUT_A_SAMPLE = {"rigscope_info", "rigscope_gpu_info", "rigscope_collapse_events_total",
                          "rigscope_spans_active", "rigscope_samples_total",
                          "rigscope_exporter_dropped_batches_total", "rigscope_sample_rate_hertz"}


def rendered(feed: ExportFeed) -> dict[str, Any]:
    """The feed's latest snapshot as /metrics renders it, parsed: {family name: family}."""
    snap = feed.snapshot()
    body = TextEncoder()(make_registry(lambda: snap, LABELS)).decode()
    return {family.name: family for family in text_string_to_metric_families(body)}


def series_names(families: dict[str, Any]) -> set[str]:
    return {sample.name for family in families.values() for sample in family.samples}


def frame(elapsed_s: float, **values: Any) -> Batch:
    return Batch({"elapsed_s": elapsed_s, **values})


def test_a_scrape_before_the_first_sample_holds_no_reading():
    feed = ExportFeed(None, ["gpu0"], ["cpu", "gpu0"])
    feed.publish()
    assert series_names(rendered(feed)) <= KNOWN_WITHOUT_A_SAMPLE


def test_io_byte_counters_appear_once_their_rate_was_read():
    """A box without disk counters (psutil gives none in some containers) has no disk bytes, not 0 bytes."""
    feed = ExportFeed(None, [], ["cpu"])
    feed.take_all([frame(t, disk_read_bps=None, disk_write_bps=None, net_recv_bps=1000.0, net_sent_bps=0.0)
                   for t in (0.0, 0.5, 1.0)])
    names = series_names(rendered(feed))
    assert {"rigscope_network_receive_bytes_total", "rigscope_network_transmit_bytes_total"} <= names
    assert not {"rigscope_disk_read_bytes_total", "rigscope_disk_written_bytes_total"} & names
    assert samples_of(rendered(feed), "rigscope_network_receive_bytes",
                      "rigscope_network_receive_bytes_total") == {(("host", "box"), ("session", "s1")): 1000.0}


def test_collapse_active_only_where_the_flag_is_known():
    feed = ExportFeed(None, ["gpu0"], ["cpu", "gpu0"])
    feed.take_all([frame(0.0, cpu_collapse=0, gpu0_collapse=None)])
    active = samples_of(rendered(feed), "rigscope_collapse_active")
    assert {dict(key)["device"]: value for key, value in active.items()} == {"cpu": 0.0}


def test_throttle_seconds_only_for_gpus_whose_throttle_reasons_were_read(tmp_path):
    """A GPU whose driver cannot say why its clocks are held down has no throttle series: 0 s would say
    it never throttled (the fleet screen and the dashboard's "time throttled" would believe it)."""
    nvml = FakeNvml([FakeGpu(readings={"throttle_reasons": 0x4}), FakeGpu(unsupported=("throttle_reasons",))])
    monitor = Monitor(MonitorConfig(source="system", hz=20.0, duration_s=30.0, http=("127.0.0.1", 0),
                                    directory=str(tmp_path)), nvml_backend=nvml)
    monitor.start()
    try:
        wait_for(lambda: monitor.http.feed.snapshot().samples >= 4, what="four samples")
        families = scrape(monitor.http.port)
        devices = get_json(monitor.http.port, "/metrics/export")["analysis"]["thermal"]["devices"]
    finally:
        monitor.request_stop()
        monitor.stop()
    throttle = {(dict(key)["gpu"], dict(key)["cause"]): value for key, value in
                samples_of(families, "rigscope_gpu_throttle_seconds", "rigscope_gpu_throttle_seconds_total").items()}
    assert set(throttle) == {("0", cause) for cause in THROTTLE_CAUSES}
    assert throttle["0", "power_cap"] > 0 and throttle["0", "thermal"] == 0
    assert "throttle_seconds" in devices["gpu0"] and "throttle_seconds" not in devices["gpu1"]


def test_the_current_workload_state_is_served_past_the_cap_on_state_names():
    """Tags are free text: past MAX_STATES names the label set stops growing, but the current state must still
    be the one at 1 (it was served nowhere, and every state read 0)."""
    feed = ExportFeed(None, [], ["cpu"])
    feed.take_all([frame(float(i), workload_state=f"epoch-{i}") for i in range(MAX_STATES + 8)])
    states = samples_of(rendered(feed), "rigscope_workload_state")
    assert len(states) <= MAX_STATES + 1
    assert [dict(key)["state"] for key, value in states.items() if value == 1.0] == [f"epoch-{MAX_STATES + 7}"]


def test_an_energy_counter_that_does_not_advance_under_load_is_left_out():
    """Some GPUs report a total energy that never moves: served, it would read 0 W in `rate()` and 0 J in
    the dashboard's "GPU energy in range" while the GPU draws 150 W."""
    feed = ExportFeed(None, ["gpu0", "gpu1"], ["cpu", "gpu0", "gpu1"])
    frames = [frame(t / 2, gpu0_power_w=150.0, gpu0_energy_j=5000.0, gpu1_power_w=150.0, gpu1_energy_j=75.0 * t)
              for t in range(2 * (int(STUCK_AFTER_S) + 2))]
    feed.take_all(frames[:4])
    assert {dict(k)["gpu"] for k in samples_of(rendered(feed), "rigscope_gpu_energy_joules",
                                               "rigscope_gpu_energy_joules_total")} == {"0", "1"}  # not known yet
    feed.take_all(frames[4:])
    energy = samples_of(rendered(feed), "rigscope_gpu_energy_joules", "rigscope_gpu_energy_joules_total")
    assert {dict(k)["gpu"]: v for k, v in energy.items()} == {"1": 75.0 * (len(frames) - 1)}


def test_throttle_detected_is_null_where_no_gpu_could_say():
    """`/metrics/export`'s `throttle_detected`: false only when a GPU said it was not throttled."""
    unknown, unthrottled = ExportFeed(None, ["gpu0"], ["cpu", "gpu0"]), ExportFeed(None, ["gpu0"], ["cpu", "gpu0"])
    unknown.take_all([frame(t, gpu0_throttle_reasons=None) for t in (0.0, 1.0)])
    unthrottled.take_all([frame(t, gpu0_throttle_reasons=0x1) for t in (0.0, 1.0)])  # 0x1: idle, not throttled
    assert analysis(unknown.snapshot(), LABELS)["thermal"]["throttle_detected"] is None
    assert analysis(unthrottled.snapshot(), LABELS)["thermal"]["throttle_detected"] is False


def test_a_lost_gpu_keeps_its_identity_and_its_counts_but_no_reading(tmp_path):
    """NVML loses GPU 0 at its third read (fallen off the bus): its gauges and energy leave the page,
    GPU 1's stay, and the page still parses."""
    nvml = FakeNvml([FakeGpu(lost_at_tick=2), FakeGpu()])
    monitor = Monitor(MonitorConfig(source="system", hz=20.0, duration_s=30.0, http=("127.0.0.1", 0), record=False,
                                    directory=str(tmp_path)), nvml_backend=nvml)
    monitor.start()
    try:
        wait_for(lambda: monitor.http.feed.snapshot().samples >= 6, what="six samples")
        families = scrape(monitor.http.port)
    finally:
        monitor.request_stop()
        monitor.stop()
    for name, *_ in GPU_GAUGES:
        assert {dict(key)["gpu"] for key in samples_of(families, PREFIX + name)} <= {"1"}, name
    assert {dict(key)["gpu"] for key in samples_of(families, PREFIX + "gpu_utilization_ratio")} == {"1"}
    assert {dict(key)["gpu"] for key in samples_of(families, "rigscope_gpu_energy_joules",
                                                   "rigscope_gpu_energy_joules_total")} == {"1"}
    assert {dict(key)["gpu"] for key in samples_of(families, "rigscope_gpu_info")} == {"0", "1"}


def test_no_workload_state_is_served_while_it_is_unknown():
    feed = ExportFeed(None, [], ["cpu"])
    feed.take_all([frame(0.0, workload_state="")])
    assert samples_of(rendered(feed), "rigscope_workload_state") == {}
