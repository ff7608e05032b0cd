"""Per-device signals, alerts, throttle accounting, tags and the summary, on small made-up traces."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.signals import DeviceSignals, SignalPipeline, ThrottleAccount
from collectors.timeutil import iso_from_us

T0_US = 1_773_480_413_000_000  # 2026-03-14T09:26:53Z


def frame(t: float, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ts": T0_US + round(t * 1e6), "elapsed_s": t, "cpu_util_pct": 10.0}
    base.update(values)
    return base


def gpu(t: float, util: float = 50.0, temp: float | None = 60.0, power: float | None = 100.0,
        throttle: int | None = 0, **values: Any) -> dict[str, Any]:
    return frame(t, gpu0_util_pct=util, gpu0_temp_c=temp, gpu0_power_w=power, gpu0_power_limit_w=250.0,
                 gpu0_temp_limit_c=83.0, gpu0_throttle_reasons=throttle, **values)


def run(frames: list[dict[str, Any]], gpus: list[int] | None = None,
        tags: list[tuple[int, str]] = ()) -> tuple[SignalPipeline, list[dict[str, Any]]]:
    pipeline = SignalPipeline([0] if gpus is None else gpus)
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    events = []
    for item in frames:
        events += pipeline.process(item)
    return pipeline, events


def test_first_sample_values() -> None:
    device = DeviceSignals("gpu0")
    a_load, t_sustain, rle, rle_s, e_th, e_pw, peak, collapse, alerts = device.update(0.0, 38.0, 50.0, 28.42, 250.0, 83.0, 0)
    assert a_load == pytest.approx(0.11368)
    assert t_sustain == 600.0
    assert e_th == pytest.approx(1 / (1 + 1 / 600))
    assert e_pw == pytest.approx(0.38 / 0.11368)
    assert rle == rle_s == pytest.approx(0.38 / (0.11368 * (1 + 1 / 600)))
    assert (peak, collapse, alerts) == (0.0, 0, "")


def test_nulls_give_nulls_not_made_up_values() -> None:
    device = DeviceSignals("cpu")
    a_load, t_sustain, rle, rle_s, e_th, e_pw, *_ = device.update(0.0, 50.0, None, None, None, None)
    assert (a_load, rle, rle_s, e_pw) == (None, None, None, None)
    assert t_sustain == 600.0 and e_th == pytest.approx(1 / (1 + 1 / 600))
    # No utilization: no RLE either, but the thermal part is still known.
    a_load, _, rle, _, e_th, e_pw, *_ = DeviceSignals("gpu0").update(0.0, None, 60.0, 100.0, 250.0, 83.0)
    assert a_load == pytest.approx(0.4) and rle is None and e_pw is None and e_th > 0
    # A limit of 0 W is no limit.
    assert DeviceSignals("gpu0").update(0.0, 50.0, 60.0, 100.0, 0.0, 83.0)[0] is None


def test_a_load_floor_in_rle_denominator() -> None:
    _, _, rle, _, _, e_pw, *_ = DeviceSignals("gpu0").update(0.0, 50.0, 60.0, 2.5, 250.0, 83.0)
    assert e_pw == pytest.approx(0.5 / 0.05)
    assert rle == pytest.approx(0.5 / (0.05 * (1 + 1 / 600)))


@pytest.mark.parametrize(("prefix", "limit"), [("gpu0", 83.0), ("cpu", 80.0)])
def test_temperature_limit_defaults_when_null(prefix: str, limit: float) -> None:
    below = DeviceSignals(prefix).update(0.0, 50.0, limit - 0.01, None, None, None)
    at = DeviceSignals(prefix).update(0.0, 50.0, limit, None, None, None)
    assert below[1] == 600.0 and below[8] == ""
    assert at[1] == 1.0 and at[8] == "TEMP_LIMIT"


def test_t_sustain_from_heating_rate() -> None:
    device = DeviceSignals("gpu0")
    for k in range(5):
        result = device.update(float(k), 50.0, 70.0 + 0.5 * k, None, None, 83.0)
    # Slope 0.5 °C/s at 72 °C: (83 - 72) / 0.5 = 22 s.
    assert result[1] == pytest.approx(22.0)
    assert DeviceSignals("gpu0").update(0.0, 50.0, 90.0, None, None, None)[1] == 1.0


def test_alerts_text_and_events_on_transitions_only() -> None:
    frames = [
        gpu(0.0, temp=70.0),
        gpu(1.0, temp=84.0, throttle=0x20),
        gpu(2.0, temp=85.0, throttle=0x20 | 0x4, power=300.0),
        gpu(3.0, temp=70.0, throttle=0x80),
        gpu(4.0, temp=84.0, throttle=0),
    ]
    pipeline, events = run(frames)
    assert [f["gpu0_alerts"] for f in frames] == [
        "",
        "TEMP_LIMIT|THROTTLE_THERMAL",
        "TEMP_LIMIT|OVER_POWER|THROTTLE_POWER|THROTTLE_THERMAL",
        "THROTTLE_POWER",
        "TEMP_LIMIT",
    ]
    alerts = [(e["ts"], e["alert"]) for e in events if e["kind"] == "alert"]
    assert alerts == [
        (iso_from_us(frames[1]["ts"]), "TEMP_LIMIT"),
        (iso_from_us(frames[1]["ts"]), "THROTTLE_THERMAL"),
        (iso_from_us(frames[2]["ts"]), "OVER_POWER"),
        (iso_from_us(frames[2]["ts"]), "THROTTLE_POWER"),
        (iso_from_us(frames[4]["ts"]), "TEMP_LIMIT"),
    ]
    assert all(e["device"] == "gpu0" for e in events)


def test_mem_pressure_only_on_cpu() -> None:
    frames = [gpu(0.0, mem_util_pct=94.9), gpu(1.0, mem_util_pct=95.0), gpu(2.0, mem_util_pct=float("nan"))]
    _, events = run(frames)
    assert [f["cpu_alerts"] for f in frames] == ["", "MEM_PRESSURE", ""]
    assert all(f["gpu0_alerts"] == "" for f in frames)
    assert [(e["device"], e["alert"]) for e in events] == [("cpu", "MEM_PRESSURE")]


def test_throttle_accounting_weighs_each_sample_until_the_next() -> None:
    masks = [0x1, 0x4, 0x4 | 0x20, 0x80, 0x2 | 0x1, 0x100, None, 0x40, 0x8]
    times = [0.0, 1.0, 3.0, 3.5, 5.0, 6.0, 8.0, 9.0, 10.0]
    frames = [gpu(t, throttle=m) for t, m in zip(times, masks)]
    frames[2]["gpu0_violation_power_s"] = 1.5
    frames[7]["gpu0_violation_power_s"] = 4.0
    pipeline, _ = run(frames)
    throttle = pipeline.summary()["devices"]["gpu0"]["throttle"]
    assert throttle["power_cap_s"] == pytest.approx(2.0 + 0.5)
    assert throttle["thermal_s"] == pytest.approx(0.5 + 1.0)  # 0x20 at 3.0, 0x40 at 9.0; 0x8 is last (weighs 0)
    assert throttle["power_brake_s"] == pytest.approx(1.5)
    assert throttle["other_s"] == pytest.approx(1.0 + 2.0)  # 0x2 at 5.0, 0x100 at 6.0; 0x1 alone is idle
    assert throttle["throttled_s"] == pytest.approx(2.0 + 0.5 + 1.5 + 1.0 + 2.0 + 1.0)
    # The null bitmask at 8.0 is unknown: its second is not part of the time observed.
    assert throttle["observed_s"] == pytest.approx(9.0)
    assert throttle["throttled_fraction"] == pytest.approx(8.0 / 9.0)
    assert throttle["power_cap_fraction"] == pytest.approx(2.5 / 9.0)
    assert throttle["violation_power_s"] == pytest.approx(2.5)
    assert throttle["violation_thermal_s"] is None
    assert "throttle" not in pipeline.summary()["devices"]["cpu"]


def test_throttle_fractions_of_no_time_are_unknown() -> None:
    """A one-sample session has no time to be throttled in: its fractions are null, not a measured 0 %."""
    account = ThrottleAccount()
    account.read()
    summary = account.summary()
    assert summary["throttled_fraction"] is None and summary["thermal_fraction"] is None
    assert summary["thermal_s"] == 0.0


def heuristic_frames(n: int, hz: float, cpu: float) -> list[dict[str, Any]]:
    return [frame(k / hz, cpu_util_pct=cpu) for k in range(n)]


def test_tags_before_first_sample_and_auto() -> None:
    frames = heuristic_frames(20, 1.0, 90.0)
    tags = [(T0_US - 5_000_000, "warmup"), (T0_US - 1_000_000, "eval"), (frames[5]["ts"] - 1, "auto"),
            (frames[10]["ts"], "train")]
    run(frames, gpus=[], tags=tags)
    states = [(f["workload_state"], f["workload_source"]) for f in frames]
    assert states[:5] == [("eval", "tag")] * 5
    # Back to the heuristic: restarts from this sample's raw class at once, no hysteresis.
    assert states[5:10] == [("compute", "heuristic")] * 5
    assert states[10:] == [("train", "tag")] * 10


def test_a_late_tag_takes_effect_at_the_next_sample() -> None:
    pipeline = SignalPipeline([])
    frames = heuristic_frames(6, 1.0, 5.0)
    for item in frames[:3]:
        pipeline.process(item)
    pipeline.add_tag(frames[1]["ts"], "eval")  # already in the past
    for item in frames[3:]:
        pipeline.process(item)
    assert [f["workload_state"] for f in frames] == ["idle"] * 3 + ["eval"] * 3
    assert pipeline.summary()["workload_seconds"] == pytest.approx({"idle": 3.0, "eval": 2.0})


def test_heuristic_hysteresis_needs_3_seconds_of_the_new_class() -> None:
    cpu = [5.0] * 10 + [95.0] * 3 + [5.0] * 10 + [95.0] * 40
    frames = [frame(k * 0.5, cpu_util_pct=c) for k, c in enumerate(cpu)]
    pipeline, _ = run(frames, gpus=[])
    states = [f["workload_state"] for f in frames]
    # The 1.5 s burst is never long enough; the last one becomes compute once its raw class held 3 s.
    assert "compute" not in states[:23]
    raw_start = next(k for k in range(23, len(frames)) if frames[k]["workload_state"] != "idle")
    assert states[raw_start:] == ["compute"] * (len(frames) - raw_start)
    assert all(f["workload_source"] == "heuristic" for f in frames)
    seconds = pipeline.summary()["workload_seconds"]
    assert sum(seconds.values()) == pytest.approx(frames[-1]["elapsed_s"])


def test_collapse_active_at_the_end_is_finished_at_the_last_sample() -> None:
    frames = [gpu(k * 0.5, util=95.0, power=100.0, temp=60.0) for k in range(160)]
    frames += [gpu(80 + k * 0.5, util=70.0, power=245.0, temp=60.0) for k in range(60)]
    pipeline, events = run(frames)
    active = pipeline.collapse_events
    assert len(active) == 1 and active[0]["end"] is None and active[0]["device"] == "gpu0"
    assert [e["kind"] for e in events if e["kind"].startswith("collapse")] == ["collapse_start"]
    assert pipeline.summary()["gpu_collapses"] == 1  # an active event counts
    closing = pipeline.finish()
    assert [e["kind"] for e in closing] == ["collapse_end"]
    assert closing[0]["end"] == frames[-1]["elapsed_s"]
    assert closing[0]["ts"] == iso_from_us(frames[-1]["ts"])
    assert closing[0]["min_rle"] == min(f["gpu0_rle_smoothed"] for f in frames if f["gpu0_collapse"] == 1)
    summary = pipeline.summary()
    assert summary["devices"]["gpu0"]["collapse_events"] == 1
    assert summary["devices"]["gpu0"]["collapse_seconds"] == pytest.approx(frames[-1]["elapsed_s"] - closing[0]["start"])
    assert pipeline.finish() == []


def test_warm_up_keeps_peak_and_collapse_at_zero() -> None:
    frames = [gpu(k * 0.5, util=95.0 if k % 20 < 10 else 60.0, power=240.0, temp=82.0) for k in range(119)]
    run(frames)
    assert all(f["gpu0_rolling_peak"] == 0.0 and f["gpu0_collapse"] == 0 for f in frames)


def test_summary_nulls_without_measurements() -> None:
    frames = [frame(float(k)) for k in range(3)]
    pipeline, _ = run(frames, gpus=[])
    summary = pipeline.summary()
    cpu = summary["devices"]["cpu"]
    assert summary["samples"] == 3 and summary["duration_s"] == 2.0
    assert (cpu["max_temp_c"], cpu["max_power_w"], cpu["rle_min"], cpu["rle_max"]) == (None, None, None, None)
    assert cpu["mean_util_pct"] == 10.0
    assert (summary["max_temp"], summary["max_power"], summary["rle_range"]) == (None, None, None)
    assert summary["cpu_collapses"] == summary["gpu_collapses"] == 0


def test_empty_pipeline_summary() -> None:
    pipeline = SignalPipeline([0])
    assert pipeline.finish() == []
    summary = pipeline.summary()
    assert summary["samples"] == 0 and summary["duration_s"] == 0.0 and summary["workload_seconds"] == {}


def test_frame_gets_every_derived_column_in_place() -> None:
    from collectors.schema import derived_columns

    item = gpu(0.0)
    SignalPipeline([0]).process(item)
    assert set(derived_columns([0])) <= set(item)
    assert isinstance(item["gpu0_collapse"], int) and isinstance(item["cpu_alerts"], str)


def test_a_flood_of_tags_keeps_the_tag_history_bounded() -> None:
    from collectors.signals.workload import MAX_FUTURE_TAGS, MAX_STATES, TRIM_AT, WorkloadTracker

    tracker = WorkloadTracker()
    for k in range(20_000):  # unique states, one a ms, a sample every 10 ms
        tracker.add_tag(k * 1000, f"s{k % (MAX_STATES + 36)}")
        if k % 10 == 0:
            tracker.update(k * 1000, k / 1000, 0.0, 0.0, 0.0)
    assert len(tracker._tag_ts) <= TRIM_AT + 10 and len(tracker.seconds) <= MAX_STATES
    assert tracker.dropped_tags > 0
    for k in range(MAX_FUTURE_TAGS + 50):  # far in the future: they wait, up to a bound
        tracker.add_tag(10**15 + k, "s1")
    assert len(tracker._tag_ts) <= TRIM_AT + 10 + MAX_FUTURE_TAGS
    assert tracker.update(10**15 + 10**6, 1e9, 0.0, 0.0, 0.0) == ("s1", "tag")


def nccl_wait(seconds: int, sm_during_wait: float | None = 8.0) -> list[dict[str, Any]]:
    """1 Hz: 5 s of compute (util 95 %, SM 75 %), `seconds` of an NCCL wait (util 97 %, SM low),
    then compute again for 5 s."""
    frames = []
    for t in range(5 + seconds + 5):
        waiting = 5 <= t < 5 + seconds
        frames.append(gpu(float(t), util=97.0 if waiting else 95.0,
                          gpu0_sm_active_pct=sm_during_wait if waiting else 75.0))
    return frames


def test_util_misleading_after_ten_seconds_of_busy_util_and_idle_sms() -> None:
    frames = nccl_wait(14)
    _, events = run(frames)
    flagged = [int(f["elapsed_s"]) for f in frames if "UTIL_MISLEADING" in f["gpu0_alerts"]]
    assert flagged == [15, 16, 17, 18]  # the wait began at 5 s: 10 s later, until it ends at 19 s
    assert [(e["device"], e["alert"], e["ts"]) for e in events if e["kind"] == "alert"] == [
        ("gpu0", "UTIL_MISLEADING", iso_from_us(frames[15]["ts"]))]
    # Offline, the same session column by column gives the same alerts.
    offline = SignalPipeline([0])
    names = sorted({k for f in frames for k in f if k != "ts"})
    derived, offline_events = offline.process_columns([f["ts"] for f in frames],
                                                      {k: [f.get(k) for f in frames] for k in names})
    assert derived["gpu0_alerts"] == [f["gpu0_alerts"] for f in frames]
    assert offline_events == [e for e in events if e["kind"] == "alert"]


@pytest.mark.parametrize("frames", [
    nccl_wait(9),  # 9 s of waiting: a short collective is normal
    nccl_wait(14, sm_during_wait=20.0),  # SM at the threshold is not idle
    nccl_wait(14, sm_during_wait=None),  # no GPM: never guessed from util
], ids=["short", "sm-at-threshold", "no-gpm"])
def test_no_util_misleading_without_ten_seconds_of_evidence(frames) -> None:
    _, events = run(frames)
    assert all("UTIL_MISLEADING" not in f["gpu0_alerts"] for f in frames)
    assert not [e for e in events if e["kind"] == "alert"]


def test_a_gap_in_gpm_restarts_the_ten_seconds() -> None:
    frames = nccl_wait(14)
    frames[10]["gpu0_sm_active_pct"] = None  # GPM unknown for one sample, in the middle of the wait
    run(frames)
    assert [int(f["elapsed_s"]) for f in frames if "UTIL_MISLEADING" in f["gpu0_alerts"]] == []


def test_sustain_seconds_follows_signals_md_2_5():
    from collectors.signals.device import SUSTAIN_MAX_S, SUSTAIN_MIN_S, sustain_seconds

    assert (SUSTAIN_MIN_S, SUSTAIN_MAX_S) == (1.0, 600.0)
    assert sustain_seconds(None, 83.0, 5.0) == 600.0  # no temperature
    assert sustain_seconds(83.0, 83.0, 0.0) == 1.0  # at the limit
    assert sustain_seconds(70.0, 83.0, 0.001) == 600.0  # not heating
    assert sustain_seconds(70.0, 83.0, 0.5) == 26.0  # 13 °C at 0.5 °C/s
    assert sustain_seconds(82.9, 83.0, 1.0) == 1.0  # clipped up
    assert sustain_seconds(10.0, 83.0, 0.01) == 600.0  # clipped down
