"""The span tracker on frames and events made by hand: peaks, energy, throttling, RTF, tokens/s, nesting."""

from __future__ import annotations

import json

import pytest

from collectors.spans import FORMAT_COLUMNS, SpanTracker
from collectors.timeutil import iso_from_us

T0 = 1_800_000_000.0  # seconds since the epoch of the first sample
MB = 1024 * 1024


def us(t: float) -> int:
    return round((T0 + t) * 1e6)


def iso(t: float) -> str:
    return iso_from_us(us(t))


def frame(t: float, mem_mb: float = 1000.0, gpu_mb: float = 500.0, temp: float = 50.0, mask: int | None = 0,
          gpu_w: float = 100.0, cpu_w: float | None = 20.0, energy: bool = True) -> dict:
    return {
        "ts": us(t), "mem_used_bytes": int(mem_mb * MB), "mem_util_pct": mem_mb / 100.0, "cpu_temp_c": 40.0,
        "cpu_power_w": cpu_w, "gpu0_mem_used_bytes": int(gpu_mb * MB), "gpu0_temp_c": temp,
        "gpu0_throttle_reasons": mask, "gpu0_power_w": gpu_w,
        # a counter that grows 100 W x 0.1 s per tick
        "gpu0_energy_j": 1000.0 + 100.0 * round(t * 10) * 0.1 if energy else None,
    }


def start(span_id: str, t: float, name: str = "synthesis", parent: str | None = None, **attrs) -> dict:
    return {"kind": "span_start", "ts": iso(t), "span_id": span_id, "name": name, "parent_id": parent,
            "attrs": attrs}


def end(span_id: str, t: float, t_start: float, name: str = "synthesis", success: bool = True,
        error: str | None = None, **attrs) -> dict:
    return {"kind": "span_end", "ts": iso(t), "span_id": span_id, "name": name, "start_ts": iso(t_start),
            "duration_s": round(t - t_start, 9), "success": success, "error": error, "attrs": attrs}


def tracker(**kwargs) -> SpanTracker:
    host = {"hardware_tier": "nvidia_h100", "device_type": "cuda", "cpu_model": "Test CPU",
            "cpu_count_logical": 16, "memory_total_bytes": 64 * 1024**3}
    return SpanTracker([0], host, [{"index": 0, "name": "NVIDIA H100"}], **kwargs)


def feed(spans: SpanTracker, items: list) -> None:
    for item in sorted(items, key=lambda x: x[0]):
        _, kind, payload = item
        spans.add_frame(payload) if kind == "frame" else spans.add_event(payload)


def test_peaks_come_from_the_samples_inside_the_span():
    spans = tracker()
    mem = {0.2: 9000.0, 0.5: 3000.0, 0.8: 8000.0}  # only 0.5 is inside [0.25, 0.75]
    gpu = {0.1: 7000.0, 0.6: 2000.0, 0.9: 9000.0}
    temp = {0.3: 71.0, 0.8: 90.0}
    items = [(t / 10, "frame", frame(t / 10, mem.get(t / 10, 1000.0), gpu.get(t / 10, 500.0), temp.get(t / 10, 50.0)))
             for t in range(0, 11)]
    items += [(0.25, "event", start("a", 0.25, request_id="r1", tokens=30, audio_s=2.0)),
              (0.75, "event", end("a", 0.75, 0.25, request_id="r1", tokens=30, audio_s=2.0))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["samples"] == 5
    assert row["peak_memory_mb"] == pytest.approx(3000.0)
    assert row["peak_memory_percent"] == pytest.approx(30.0)
    assert row["peak_gpu_memory_mb"] == pytest.approx(2000.0)
    assert row["peak_temperature_c"] == pytest.approx(71.0)
    assert row["total_duration_s"] == pytest.approx(0.5)
    assert row["rtf"] == pytest.approx(0.25)
    assert row["tokens_per_second"] == pytest.approx(60.0)
    # GPU: the energy counter, 100 W over 0.5 s; CPU: 20 W RAPL over 0.5 s
    assert row["gpu_energy_j"] == pytest.approx(50.0)
    assert row["cpu_energy_j"] == pytest.approx(10.0)
    assert row["energy_j"] == pytest.approx(60.0)
    assert row["joules_per_token"] == pytest.approx(2.0)
    assert row["request_id"] == "r1" and row["gpu_name"] == "NVIDIA H100" and row["hardware_tier"] == "nvidia_h100"
    assert row["total_memory_gb"] == pytest.approx(64.0) and row["cpu_cores"] == 16
    assert row["start_time"] == iso(0.25) and row["end_time"] == iso(0.75)
    assert row["throttle_detected"] is False and row["throttle_fraction"] == 0.0 and row["dominant_throttle"] is None
    assert row["audio_s"] == 2.0 and row["tokens"] == 30
    assert list(row)[: len(FORMAT_COLUMNS)] == list(FORMAT_COLUMNS)


def test_a_span_shorter_than_a_tick_takes_the_closest_sample():
    spans = tracker()
    items = [(t / 10, "frame", frame(t / 10, mem_mb=1000.0 + t)) for t in range(0, 8)]
    items += [(0.31, "event", start("s", 0.31)), (0.33, "event", end("s", 0.33, 0.31))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["samples"] == 1 and row["peak_memory_mb"] == pytest.approx(1003.0)  # the sample at 0.3
    # the interval (0.3, 0.4] the span lies in: GPU 100 W, CPU 20 W, for 0.02 s
    assert row["energy_j"] == pytest.approx(2.4)


def test_a_span_far_from_every_sample_has_no_peaks():
    spans = tracker()
    feed(spans, [(t / 10, "frame", frame(t / 10)) for t in range(0, 20)]
         + [(0.0, "event", end("old", -9.0, -9.5))])  # ended long before the first sample
    (row,) = spans.recent()
    assert row["samples"] == 0 and row["peak_memory_mb"] is None and row["energy_j"] is None


def test_power_is_integrated_without_an_energy_counter():
    spans = tracker()
    items = [(t / 10, "frame", frame(t / 10, gpu_w=100.0 + 100.0 * (t >= 5), cpu_w=None, energy=False))
             for t in range(0, 12)]
    items += [(0.2, "event", start("p", 0.2)), (0.8, "event", end("p", 0.8, 0.2))]
    feed(spans, items)
    (row,) = spans.recent()
    # intervals (0.2,0.3]..(0.4,0.5]: 100, 100, 150 (the mean of 100 and 200); then 200, 200, 200
    assert row["gpu_energy_j"] == pytest.approx(0.1 * (100 + 100 + 150 + 200 + 200 + 200))
    assert row["cpu_energy_j"] is None and row["energy_j"] == row["gpu_energy_j"]


def test_throttling_inside_a_span():
    spans = tracker()
    masks = {0.3: 0x4, 0.4: 0x4 | 0x20, 0.5: 0x1, 0.6: 0x20, 0.7: 0x4}
    items = [(t / 10, "frame", frame(t / 10, mask=masks.get(t / 10, 0))) for t in range(0, 10)]
    items += [(0.25, "event", start("t", 0.25)), (0.75, "event", end("t", 0.75, 0.25))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["throttle_detected"] is True
    assert row["throttle_fraction"] == pytest.approx(4 / 5)  # the idle bit alone is not throttling
    assert row["dominant_throttle"] == "power_cap"


def test_a_long_span_is_accumulated_as_samples_stream_in():
    spans = tracker()
    items = [(t / 10, "frame", frame(t / 10, mem_mb=2000.0 if t == 300 else 1000.0)) for t in range(0, 1000)]
    items += [(1.0, "event", start("long", 1.0)), (60.0, "event", end("long", 60.0, 1.0))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["samples"] == 591 and row["peak_memory_mb"] == pytest.approx(2000.0)
    assert row["gpu_energy_j"] == pytest.approx(100.0 * 59.0)


def test_nested_spans_and_failures():
    spans = tracker()
    items = [(t / 10, "frame", frame(t / 10)) for t in range(0, 20)]
    items += [(0.1, "event", start("outer", 0.1, name="request")),
              (0.2, "event", start("inner", 0.2, name="decode", parent="outer")),
              (0.5, "event", end("inner", 0.5, 0.2, name="decode", success=False, error="ValueError: boom")),
              (0.9, "event", end("outer", 0.9, 0.1, name="request"))]
    feed(spans, items)
    outer, inner = spans.recent()
    assert inner["parent_id"] == "outer" and inner["success"] is False and inner["error_message"] == "ValueError: boom"
    assert outer["parent_id"] is None and outer["success"] is True and outer["samples"] == 9
    summary = spans.summary()
    assert summary["total"] == 2 and summary["successful"] == 1 and summary["failed"] == 1
    assert summary["success_rate"] == 0.5
    assert summary["avg_duration_s"] == pytest.approx((0.3 + 0.8) / 2)


def test_an_end_without_its_start_is_enough():
    spans = tracker()
    items = [(t / 10, "frame", frame(t / 10)) for t in range(0, 10)]
    items += [(0.6, "event", end("x", 0.6, 0.2, tokens=10, request_id=7))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["start_time"] == iso(0.2) and row["samples"] == 5 and row["request_id"] == "7"


def test_journal_summary_and_percentiles(tmp_path):
    spans = tracker(journal=tmp_path / "spans.journal")
    items = [(t / 10, "frame", frame(t / 10)) for t in range(0, 120)]
    for k in range(100):
        t = k * 0.1 + 0.01
        d = (k + 1) / 1000
        items += [(t, "event", start(f"s{k}", t, tokens=10, audio_s=1.0)),
                  (t + d, "event", end(f"s{k}", t + d, t, tokens=10, audio_s=1.0))]
    feed(spans, items)
    spans.close()
    rows = [json.loads(line) for line in (tmp_path / "spans.journal").read_text().splitlines()]
    assert len(rows) == 100 and len(spans.recent(1000)) == 100
    quantiles = spans.stats.percentiles()
    assert quantiles["p50"] == pytest.approx(0.0505) and quantiles["p99"] == pytest.approx(0.09901)
    summary = spans.summary()
    assert summary["total"] == 100 and summary["avg_rtf"] == pytest.approx(0.0505)
    assert summary["avg_tokens_per_sec"] == pytest.approx(sum(10 / ((k + 1) / 1000) for k in range(100)) / 100)
    assert summary["avg_peak_memory_mb"] == pytest.approx(1000.0)


def test_an_unfinished_span_is_not_a_row_and_ends_are_finished_at_close():
    spans = tracker()
    feed(spans, [(0.0, "frame", frame(0.0)), (0.1, "event", start("open", 0.1)),
                 (0.2, "event", start("done", 0.2)), (0.3, "event", end("done", 0.3, 0.2))])
    assert spans.recent() == []  # waits for a sample after its end
    spans.close()
    (row,) = spans.recent()
    assert row["span_id"] == "done" and spans.summary()["open"] == 1


def test_mean_sm_active_is_over_the_samples_inside_and_null_without_gpm():
    spans = tracker()
    sm = {0.2: 99.0, 0.3: 80.0, 0.4: 10.0, 0.5: None, 0.6: 30.0, 0.9: 99.0}  # 0.5: GPM unknown, left out
    items = [(t / 10, "frame", {**frame(t / 10), "gpu0_sm_active_pct": sm.get(t / 10)}) for t in range(0, 11)]
    items += [(0.25, "event", start("a", 0.25)), (0.65, "event", end("a", 0.65, 0.25)),
              (0.05, "event", start("b", 0.05)), (0.15, "event", end("b", 0.15, 0.05))]
    feed(spans, items)
    rows = {row["span_id"]: row for row in spans.recent()}
    assert rows["a"]["mean_sm_active_pct"] == pytest.approx((80.0 + 10.0 + 30.0) / 3)
    assert rows["b"]["mean_sm_active_pct"] is None  # no GPM reading inside: unknown, not 0


def stepping(t: float, gpu_w: float = 200.0) -> dict:
    """A frame whose GPU counter is published once a second (200 W: +200 J a step), as many drivers do."""
    return {**frame(t, gpu_w=gpu_w), "gpu0_energy_j": 1000.0 + gpu_w * int(t + 1e-9)}


def test_a_span_shorter_than_five_counter_periods_is_uncertain_and_not_zero():
    spans = tracker()
    items = [(k / 10, "frame", stepping(k / 10)) for k in range(0, 130)]
    # 0.3 s between two steps of the counter: the counter says 0 J; 6 s: five periods and more
    items += [(3.3, "event", start("short", 3.3)), (3.6, "event", end("short", 3.6, 3.3)),
              (4.0, "event", start("long", 4.0)), (10.0, "event", end("long", 10.0, 4.0))]
    feed(spans, items)
    rows = {row["span_id"]: row for row in spans.recent()}
    short, long = rows["short"], rows["long"]
    assert short["energy_uncertain"] is True and short["gpu_energy_method"] == "integrated_power"
    assert short["gpu_energy_j"] == pytest.approx(200.0 * 0.3)  # from power: not the counter's 0 J
    assert long["energy_uncertain"] is False and long["gpu_energy_method"] == "counter"
    assert long["gpu_energy_j"] == pytest.approx(200.0 * 6.0)


def test_without_a_counter_the_method_is_integrated_power_and_without_power_none():
    spans = tracker()
    items = [(k / 10, "frame", frame(k / 10, energy=False)) for k in range(0, 30)]
    items += [(0.5, "event", start("a", 0.5)), (1.5, "event", end("a", 1.5, 0.5))]
    feed(spans, items)
    (row,) = spans.recent()
    assert row["gpu_energy_method"] == "integrated_power" and row["energy_uncertain"] is False
    assert row["gpu_energy_j"] == pytest.approx(100.0)
    spans = tracker()
    items = [(k / 10, "frame", {**frame(k / 10, energy=False), "gpu0_power_w": None}) for k in range(0, 30)]
    feed(spans, items + [(0.5, "event", start("b", 0.5)), (1.5, "event", end("b", 1.5, 0.5))])
    (row,) = spans.recent()
    assert row["gpu_energy_method"] == "none" and row["gpu_energy_j"] is None
