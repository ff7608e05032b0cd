"""Derived numbers against SIGNALS.md and the summary's contracts, on small hand-computed traces the fixtures
do not cover (nulls, stalls, devices lost), live path and offline path alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from collectors.clock import ClockShifts
from collectors.signals import SignalPipeline
from collectors.spans import SpanTracker
from collectors.timeutil import iso_from_us
from recordings.analyze import Analysis, analyze, tags_of
from recordings.report.aggregates import collapse_rows, device_energy
from recordings.streamed_summary import session_summary

T0_US = 1_773_480_413_000_000  # 2026-03-14T09:26:53Z


def gpu(t: float, throttle: int | None = 0, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ts": T0_US + round(t * 1e6), "elapsed_s": t, "cpu_util_pct": 10.0,
                            "gpu0_util_pct": 50.0, "gpu0_temp_c": 60.0, "gpu0_power_w": 100.0,
                            "gpu0_power_limit_w": 250.0, "gpu0_temp_limit_c": 83.0, "gpu0_throttle_reasons": throttle}
    base.update(values)
    return base


def summaries(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary of the live path (frame by frame) and of the offline path (column by column)."""
    live = SignalPipeline([0])
    for item in frames:
        live.process(dict(item))
    live.finish()
    offline = SignalPipeline([0])
    names = sorted({name for item in frames for name in item} - {"ts"})
    offline.process_columns([item["ts"] for item in frames], {name: [item.get(name) for item in frames] for name in names})
    offline.finish()
    return [live.summary(), offline.summary()]


def test_throttle_of_a_gpu_whose_bitmask_was_never_read_is_unknown_not_zero() -> None:
    """Summary §6 (per-GPU throttle accounting): no bitmask read is no measurement: null seconds and fractions,
    never a measured 0 % throttled."""
    frames = [gpu(float(t), throttle=None) for t in range(11)]
    for summary in summaries(frames):
        throttle = summary["devices"]["gpu0"]["throttle"]
        assert throttle["observed_s"] is None
        assert throttle["throttled_s"] is None and throttle["throttled_fraction"] is None
        assert throttle["power_cap_s"] is None and throttle["thermal_fraction"] is None


def test_throttle_fractions_are_of_the_time_the_bitmask_was_read() -> None:
    """Summary §6 (per-GPU throttle accounting): a GPU lost halfway (bitmask null from 5 s on) that was
    power-capped at every sample it could be read is 100 % power-capped over the 5 s seen, not 50 %."""
    frames = [gpu(float(t), throttle=0x4 if t < 5 else None) for t in range(11)]
    for summary in summaries(frames):
        throttle = summary["devices"]["gpu0"]["throttle"]
        assert throttle["observed_s"] == pytest.approx(5.0)  # samples 0..4, each until the next
        assert throttle["power_cap_s"] == pytest.approx(5.0)
        assert throttle["power_cap_fraction"] == pytest.approx(1.0)
        assert throttle["thermal_s"] == 0.0 and throttle["thermal_fraction"] == 0.0


class _Samples:
    """What `device_energy` reads of a session: its columns, its samples, and them in chunks (of 2 rows
    here, so that pairs of samples straddle chunks)."""

    def __init__(self, frames: list[dict[str, Any]]) -> None:
        self.table = pl.DataFrame({"elapsed_s": [f["elapsed_s"] for f in frames],
                                   "gpu0_power_w": [f["gpu0_power_w"] for f in frames]},
                                  schema={"elapsed_s": pl.Float64, "gpu0_power_w": pl.Float64})
        self.columns = self.table.columns
        self.samples = self.table.lazy()

    def chunks(self, query: pl.LazyFrame) -> Iterator[pl.DataFrame]:
        frame = query.collect()
        for offset in range(0, frame.height, 2):
            yield frame.slice(offset, 2)


@pytest.mark.parametrize(("times", "powers", "joules", "seconds"), [
    # the sampler stalled 5 s between 4 s and 9 s: the trapezoid bridges the stall as the summary does
    ([0, 1, 2, 3, 4, 9, 10], [100, 100, 100, 100, 100, 300, 300], 400 + 200 * 5 + 300, 10.0),
    # a null power in the middle: the two seconds around it are not measured
    ([0, 1, 2, 3, 4], [100, 100, None, 100, 100], 200, 2.0),
])
def test_report_energy_and_mean_power_are_the_summary_integral(times, powers, joules, seconds) -> None:
    """Summary §6 energy (`integrated_power`, collectors/energy.py) and the report's energy and mean power:
    one definition. The report used power_k × (t_{k+1} - t_k) and a per-sample mean power, which gave
    another figure than the summary's trapezoid (1200 J instead of 1700 J over the stall) and a mean power
    that depends on the sampling rate."""
    frames = [gpu(float(t), gpu0_power_w=None if p is None else float(p)) for t, p in zip(times, powers)]
    for summary in summaries(frames):
        assert summary["devices"]["gpu0"]["energy"]["integrated_j"] == pytest.approx(joules)
    reported = device_energy(_Samples(frames), ["gpu0"])["gpu0"]  # type: ignore[arg-type]
    assert reported["energy_j"] == pytest.approx(joules)
    assert reported["powered_s"] == pytest.approx(seconds)
    assert reported["mean_power_w"] == pytest.approx(joules / seconds)


def test_report_mean_power_is_the_same_at_1_hz_and_100_hz() -> None:
    """Summary §6 energy: a power ramp 100 → 200 W over 10 s, sampled at 1 Hz and at 100 Hz, is 1500 J and
    150 W mean at both rates (time-weighted figures do not depend on the sampling rate)."""
    for hz in (1, 100):
        frames = [gpu(k / hz, gpu0_power_w=100.0 + 10.0 * k / hz) for k in range(10 * hz + 1)]
        reported = device_energy(_Samples(frames), ["gpu0"])["gpu0"]  # type: ignore[arg-type]
        assert reported["energy_j"] == pytest.approx(1500.0)
        assert reported["mean_power_w"] == pytest.approx(150.0)
        for summary in summaries(frames):
            assert summary["devices"]["gpu0"]["energy"]["integrated_j"] == pytest.approx(1500.0)


def stepped_back(t: float) -> int:
    """The wall time of a sample at `t`: the wall clock steps back 100 s at 10 s."""
    return T0_US + round((t if t < 10 else t - 100) * 1e6)


def test_repair_places_a_tag_after_a_clock_step_back_as_analyze_does(tmp_path) -> None:
    """SIGNALS.md §5.1 and §7: a tag takes effect at the first sample at or after its time, on the session's
    time, in every path. The wall clock steps back 100 s at 10 s; `eval` is tagged at 12.5 s. analyze takes
    the step out of `ts` and tags samples 13..20 `eval`; repair's summary compared raw wall times and put
    `eval` on the first two samples (2 s of a state that was never on) and `train` on the rest."""
    times = [float(t) for t in range(21)]
    samples = pl.DataFrame({"ts": [stepped_back(t) for t in times], "elapsed_s": times, "cpu_util_pct": [10.0] * 21},
                           schema={"ts": pl.Int64, "elapsed_s": pl.Float64, "cpu_util_pct": pl.Float64},
                           ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    events = [{"ts": iso_from_us(stepped_back(2.0)), "kind": "tag", "state": "train"},
              {"ts": iso_from_us(stepped_back(10.0)), "kind": "clock_step", "step_s": -100.0, "elapsed_s": 10.0},
              {"ts": iso_from_us(stepped_back(12.5)), "kind": "tag", "state": "eval"}]
    expected = {"idle": 2.0, "train": 11.0, "eval": 7.0}
    analysis = Analysis([], tags_of(events), ClockShifts.of_events(events))
    states = analysis.add(samples)["workload_state"].to_list()
    assert states == ["idle"] * 2 + ["train"] * 11 + ["eval"] * 8
    assert analysis.finish()[0]["workload_seconds"] == pytest.approx(expected)
    assert session_summary(tmp_path, samples.lazy(), events)["workload_seconds"] == pytest.approx(expected)


def test_live_tag_after_a_clock_step_back_takes_effect_as_analyze_places_it() -> None:
    """SIGNALS.md §5.1 and §7 (live and analyze give the same numbers): the wall clock steps back 100 s at
    10 s, `train` was tagged at 2 s and `eval` is sent at 12.5 s. Live, `eval` sorted before `train` (its
    wall time is earlier) and was taken for a tag of the past: never applied, 18 s of `train`."""
    pipeline = SignalPipeline([])
    pipeline.add_tag(stepped_back(2.0), "train")
    states = []
    for t in (float(t) for t in range(21)):
        if t == 13.0:
            pipeline.add_tag(stepped_back(12.5), "eval")
        frame = {"ts": stepped_back(t), "elapsed_s": t, "cpu_util_pct": 10.0}
        pipeline.process(frame)
        states.append(frame["workload_state"])
    assert states == ["idle"] * 2 + ["train"] * 11 + ["eval"] * 8
    assert pipeline.summary()["workload_seconds"] == pytest.approx({"idle": 2.0, "train": 11.0, "eval": 7.0})


def test_analyze_of_a_samples_file_takes_the_clock_steps_of_its_events_file(tmp_path) -> None:
    """SIGNALS.md §7: with `--events FILE`, the tags come from FILE; the clock steps written beside them
    place those tags as for the session itself. They were ignored: after a step back of 100 s, `eval`
    (sent at 12.5 s) went on the first samples, as if sent before the session began."""
    times = [float(t) for t in range(21)]
    samples = tmp_path / "samples.parquet"
    pl.DataFrame({"ts": [stepped_back(t) for t in times], "elapsed_s": times, "cpu_util_pct": [10.0] * 21},
                 schema={"ts": pl.Int64, "elapsed_s": pl.Float64, "cpu_util_pct": pl.Float64},
                 ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).write_parquet(samples)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in [
        {"ts": iso_from_us(stepped_back(2.0)), "kind": "tag", "state": "train"},
        {"ts": iso_from_us(stepped_back(10.0)), "kind": "clock_step", "step_s": -100.0, "elapsed_s": 10.0},
        {"ts": iso_from_us(stepped_back(12.5)), "kind": "tag", "state": "eval"}]))
    summary = analyze(samples, tmp_path / "out.parquet", events)
    assert summary["workload_seconds"] == pytest.approx({"idle": 2.0, "train": 11.0, "eval": 7.0})
    states = pl.read_parquet(tmp_path / "out.parquet")["workload_state"].to_list()
    assert states == ["idle"] * 2 + ["train"] * 11 + ["eval"] * 8


def test_tags_the_workload_state_drops_are_counted_in_the_summary() -> None:
    """SIGNALS.md §5.1 and §6: a tag naming a state beyond the 64 a session keeps is not applied (bounded
    memory); the time it should have had went on under the previous tag, silently. The summary now says
    how many tags were dropped (`workload_dropped_tags`), live and offline alike."""
    from collectors.signals.workload import MAX_STATES

    frames = [gpu(float(t)) for t in range(MAX_STATES + 6)]
    tags = [(f["ts"], f"s{k}") for k, f in enumerate(frames)]
    live = SignalPipeline([0])
    offline = SignalPipeline([0])
    for pipeline in (live, offline):
        for ts_us, state in tags:
            pipeline.add_tag(ts_us, state)
    for item in frames:
        live.process(dict(item))
    names = sorted(set(frames[0]) - {"ts"})
    offline.process_columns([f["ts"] for f in frames], {n: [f[n] for f in frames] for n in names})
    for pipeline in (live, offline):
        summary = pipeline.summary()
        assert summary["workload_dropped_tags"] == 6
        assert set(summary["workload_seconds"]) == {f"s{k}" for k in range(MAX_STATES)}


class _Session(_Samples):
    """What `collapse_rows` reads of a session besides its samples: the summary and the events."""

    def __init__(self, table: pl.DataFrame, events: list[dict[str, Any]]) -> None:
        self.table, self.columns, self.samples = table, table.columns, table.lazy()
        self.summary: dict[str, Any] = {"duration_s": table["elapsed_s"].max() - table["elapsed_s"].min()}
        self.events = events

    def collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        return query.collect()

    def events_of(self, *kinds: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("kind") in kinds]


def test_report_collapse_evidence_uses_the_default_temperature_limit() -> None:
    """SIGNALS.md §1 and §3: a CPU without a psutil `high` has the limit 80 °C, so 76 °C is within 5 °C of
    it: thermal evidence. The report's collapse table read the null limit column as no evidence."""
    table = pl.DataFrame({"elapsed_s": [100.0, 101.0, 102.0], "cpu_temp_c": [76.0, 76.5, 77.0],
                          "cpu_temp_limit_c": [None, None, None], "cpu_t_sustain_s": [600.0, 600.0, 600.0],
                          "cpu_a_load": [0.5, 0.5, 0.5]},
                         schema={"elapsed_s": pl.Float64, "cpu_temp_c": pl.Float64, "cpu_temp_limit_c": pl.Float64,
                                 "cpu_t_sustain_s": pl.Float64, "cpu_a_load": pl.Float64})
    events = [{"kind": "collapse_end", "device": "cpu", "start": 100.0, "end": 102.0, "min_rle": 0.2}]
    (row,) = collapse_rows(_Session(table, events))  # type: ignore[arg-type]
    assert row["evidence"] == ["thermal"]
    assert row["max_temp_c"] == 77.0


def test_report_duration_of_a_collapse_still_active_ends_at_the_last_sample() -> None:
    """SIGNALS.md §3: an event still active at the last sample ends at the last sample's time. The report
    took the summary's duration_s (t_last - t_0) for that time: with samples from 100 s to 102 s, an event
    from 100.5 s lasted -98.5 s instead of 1.5 s."""
    table = pl.DataFrame({"elapsed_s": [100.0, 101.0, 102.0], "cpu_temp_c": [50.0, 50.0, 50.0]})
    events = [{"kind": "collapse_start", "device": "cpu", "start": 100.5, "end": None, "min_rle": 0.2}]
    (row,) = collapse_rows(_Session(table, events))  # type: ignore[arg-type]
    assert row["end"] is None and row["duration_s"] == pytest.approx(1.5)


def test_cpu_energy_is_rapl_power_times_its_tick_across_a_stall() -> None:
    """Summary §6 energy (method `rapl`): the CPU's power is RAPL's energy over the tick that ends at the
    sample, divided by it (collectors/rapl.py), so the energy is each reading times the time since the previous
    sample. 20 W for 4 s, then the sampler stalls 5 s during which the CPU draws 100 W (the reading after the
    stall is that mean), then 100 W for 1 s: 80 + 500 + 100 = 680 J. The trapezoid said 480 J (it spread the
    20 W reading over the stall). The report's figure is the same; a span over the session already said 680 J."""
    times = [0.0, 1.0, 2.0, 3.0, 4.0, 9.0, 10.0]
    watts = [None, 20.0, 20.0, 20.0, 20.0, 100.0, 100.0]  # RAPL has no reading at the first sample
    frames = [gpu(t, cpu_power_w=w) for t, w in zip(times, watts)]
    for summary in summaries(frames):
        energy = summary["devices"]["cpu"]["energy"]
        assert energy["method"] == "rapl" and energy["energy_j"] == pytest.approx(680.0)
    table = pl.DataFrame({"elapsed_s": times, "cpu_power_w": watts}, schema={"elapsed_s": pl.Float64,
                                                                            "cpu_power_w": pl.Float64})
    reported = device_energy(_Session(table, []), ["cpu"])["cpu"]  # type: ignore[arg-type]
    assert reported["energy_j"] == pytest.approx(680.0) and reported["powered_s"] == pytest.approx(10.0)
    assert reported["mean_power_w"] == pytest.approx(68.0)


def test_span_energy_does_not_bridge_a_gap_in_the_power_as_the_summary_does_not() -> None:
    """Summary §6 energy and span figures (SESSION_FORMAT § Spans): 100 W at 1 Hz for 10 s with a null
    reading at 5 s. The session's integrated energy leaves the two seconds around the null out (800 J); a
    span over the same 10 s counted the reading at 6 s for the second before it (900 J)."""
    tracker = SpanTracker([0])
    rows = tracker.add_event({"kind": "span_start", "ts": iso_from_us(T0_US), "span_id": "a", "name": "req"})
    frames = [gpu(float(k), gpu0_power_w=None if k == 5 else 100.0) for k in range(16)]
    for item in frames:
        rows += tracker.add_frame(item)
        if item["elapsed_s"] == 10.0:
            rows += tracker.add_event({"kind": "span_end", "ts": iso_from_us(item["ts"]), "span_id": "a",
                                       "name": "req"})
    tracker.close()
    (row,) = rows
    assert row["gpu_energy_method"] == "integrated_power" and row["gpu_energy_j"] == pytest.approx(800.0)
    for summary in summaries(frames[:11]):
        assert summary["devices"]["gpu0"]["energy"]["integrated_j"] == pytest.approx(800.0)
