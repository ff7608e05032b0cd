"""GET /metrics: parsed with prometheus_client's own parser, values checked against the frames."""

from __future__ import annotations

import polars as pl
import pytest

from rigscope.serve.feed import HEURISTIC_STATES, THROTTLE_CAUSES
from rigscope.serve.prometheus import metric_names
from tests.http.conftest import one, samples_of, scrape, serving, wait_for

GPU_COLUMNS = {  # metric -> (column suffix, scale)
    "rigscope_gpu_utilization_ratio": ("util_pct", 0.01),
    "rigscope_gpu_memory_used_bytes": ("mem_used_bytes", 1),
    "rigscope_gpu_temperature_celsius": ("temp_c", 1),
    "rigscope_gpu_power_watts": ("power_w", 1),
    "rigscope_gpu_power_limit_watts": ("power_limit_w", 1),
    "rigscope_gpu_clock_sm_hertz": ("clock_sm_mhz", 1e6),
    "rigscope_gpu_sm_active_ratio": ("sm_active_pct", 0.01),
    "rigscope_gpu_tensor_active_ratio": ("tensor_active_pct", 0.01),
    "rigscope_gpu_nvlink_receive_bytes_per_second": ("nvlink_rx_bps", 1),
}
HOST_COLUMNS = {
    "rigscope_cpu_utilization_ratio": ("cpu_util_pct", 0.01),
    "rigscope_cpu_power_watts": ("cpu_power_w", 1),
    "rigscope_memory_used_bytes": ("mem_used_bytes", 1),
    "rigscope_memory_utilization_ratio": ("mem_util_pct", 0.01),
    "rigscope_disk_read_bytes_per_second": ("disk_read_bps", 1),
    "rigscope_network_receive_bytes_per_second": ("net_recv_bps", 1),
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """400 simulated seconds at 2 Hz on a virtual clock (a collapse on every GPU), scraped after the last tick."""
    directory = tmp_path_factory.mktemp("sessions")
    with serving(directory, tap=True, gpus_sim=2, hz=2.0, duration_s=400.0, speed=None) as monitor:
        monitor.wait()
        wait_for(lambda: monitor.http.feed.snapshot().ended, what="the exporter to take the last frame")
        families = scrape(monitor.http.port)
        batches = monitor.tap.drain()
        summary = monitor.signals.summary()
        throttle = {d.prefix: d.throttle for d in monitor.signals.devices if d.throttle is not None}
        session = monitor.session
    frames = [b.frame for b in batches if b.frame is not None]
    events = [e for b in batches for e in b.events]
    return {"families": families, "frame": frames[-1], "frames": frames, "events": events, "summary": summary,
            "throttle": throttle, "session": session, "monitor": monitor}


def test_every_family_parses_and_carries_the_identity_labels(finished_run):
    families, session = finished_run["families"], finished_run["session"]
    # the parser names a counter's family without `_total`
    assert {name.removesuffix("_total") for name in metric_names()} <= set(families)
    for family in families.values():
        for sample in family.samples:
            assert sample.labels["host"] == "sim-rig"
            assert sample.labels["session"] == session.name
    uuids = {g["index"]: g["uuid"] for g in finished_run["monitor"].sources.gpus}
    for key in samples_of(families, "rigscope_gpu_utilization_ratio"):
        labels = dict(key)
        assert labels["uuid"] == uuids[int(labels["gpu"])]


def test_gpu_and_host_values_are_the_last_frame(finished_run):
    families, frame = finished_run["families"], finished_run["frame"]
    for gpu in (0, 1):
        for name, (suffix, scale) in GPU_COLUMNS.items():
            assert one(families, name, gpu=str(gpu)) == pytest.approx(frame[f"gpu{gpu}_{suffix}"] * scale, rel=1e-12)
        energy = one(families, "rigscope_gpu_energy_joules", "rigscope_gpu_energy_joules_total", gpu=str(gpu))
        assert energy == pytest.approx(frame[f"gpu{gpu}_energy_j"], rel=1e-12)
    for name, (column, scale) in HOST_COLUMNS.items():
        assert one(families, name) == pytest.approx(frame[column] * scale, rel=1e-12)
    cores = samples_of(families, "rigscope_cpu_core_utilization_ratio")
    assert len(cores) == len(frame["cpu_core_util_pct"])
    assert one(families, "rigscope_sample_lag_seconds") == pytest.approx(frame["sample_lag_ms"] / 1000, rel=1e-6)
    assert one(families, "rigscope_last_sample_timestamp_seconds") == pytest.approx(frame["ts"] / 1e6, abs=1e-6)
    assert one(families, "rigscope_samples", "rigscope_samples_total") == len(finished_run["frames"])


def test_throttle_seconds_per_cause_match_the_signal_pipeline(finished_run):
    families, throttle = finished_run["families"], finished_run["throttle"]
    attrs = {"power_cap": "power_cap_s", "thermal": "thermal_s", "power_brake": "power_brake_s", "other": "other_s"}
    for gpu in (0, 1):
        account = throttle[f"gpu{gpu}"]
        for cause in THROTTLE_CAUSES:
            value = one(families, "rigscope_gpu_throttle_seconds", "rigscope_gpu_throttle_seconds_total",
                        gpu=str(gpu), cause=cause)
            assert value == pytest.approx(getattr(account, attrs[cause]), abs=1e-9)
        # the scenario throttles every GPU thermally (60 s) and by power cap (60 s)
        assert one(families, "rigscope_gpu_throttle_seconds", "rigscope_gpu_throttle_seconds_total",
                   gpu=str(gpu), cause="thermal") > 30


def test_collapse_counts_active_flags_rle_and_workload_state(finished_run):
    families, frame, summary = finished_run["families"], finished_run["frame"], finished_run["summary"]
    starts = [e for e in finished_run["events"] if e["kind"] == "collapse_start"]
    assert starts, "the scenario has a collapse on every GPU"
    for device in ("cpu", "gpu0", "gpu1"):
        count = one(families, "rigscope_collapse_events", "rigscope_collapse_events_total", device=device)
        assert count == sum(1 for e in starts if e["device"] == device) == summary["devices"][device]["collapse_events"]
        assert one(families, "rigscope_collapse_active", device=device) == float(frame[f"{device}_collapse"])
        assert one(families, "rigscope_rle_smoothed", device=device) == pytest.approx(frame[f"{device}_rle_smoothed"])
    states = samples_of(families, "rigscope_workload_state")
    assert {dict(k)["state"] for k in states} >= set(HEURISTIC_STATES)
    assert [dict(k)["state"] for k, v in states.items() if v == 1.0] == [frame["workload_state"]]


def test_disk_and_network_counters_integrate_the_rates(finished_run):
    families, frames = finished_run["families"], finished_run["frames"]
    expected = sum(f["disk_write_bps"] * (f["elapsed_s"] - p["elapsed_s"]) for p, f in zip(frames, frames[1:]))
    value = one(families, "rigscope_disk_written_bytes", "rigscope_disk_written_bytes_total")
    assert value == pytest.approx(expected, rel=1e-9) and value > 0


def test_span_metrics_exist_before_any_span(finished_run):
    families = finished_run["families"]
    assert families["rigscope_span_duration_seconds"].type == "histogram"
    assert families["rigscope_spans"].type == "counter"
    assert one(families, "rigscope_spans_active") == 0


def test_live_scrapes_match_the_recorded_samples(tmp_path):
    """Real time: each scrape's values belong to the recorded sample whose ts it reports."""
    scraped = []
    with serving(tmp_path, gpus_sim=1, hz=20.0, duration_s=3.0) as monitor:
        port = monitor.http.port
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0, what="a first sample")
        while not monitor.sampling_ended:
            families = scrape(port)
            scraped.append((one(families, "rigscope_last_sample_timestamp_seconds"),
                            one(families, "rigscope_gpu_utilization_ratio", gpu="0"),
                            one(families, "rigscope_cpu_utilization_ratio")))
        monitor.wait()
    samples = pl.read_parquet(monitor.session / "samples.parquet")
    by_ts = {ts: (g, c) for ts, g, c in
             samples.select(pl.col("ts").dt.epoch("us"), "gpu0_util_pct", "cpu_util_pct").iter_rows()}
    assert len(scraped) >= 5
    for ts_s, gpu_util, cpu_util in scraped:
        recorded = by_ts[round(ts_s * 1e6)]
        assert gpu_util == pytest.approx(recorded[0] / 100, rel=1e-12)
        assert cpu_util == pytest.approx(recorded[1] / 100, rel=1e-12)
