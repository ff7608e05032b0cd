"""A step of the wall clock while recording (NTP, a resumed VM): back an hour, then forward again.

The session is recorded twice from the simulated source on virtual time, once with the steps and
once without; samples, spans and `analyze` go by the monotonic `elapsed_s`, so both give the same
derived values and span rows, and the steps are told in events.jsonl and the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from collectors.base import Collector
from collectors.clock import VirtualClock
from collectors.schema import derived_columns
from recordings.analyze import analyze
from recordings.report import build_report
from recordings.spans import read_spans
from rigscope.monitor import Monitor, MonitorConfig
from tui.format import event_line

T0_US = 1_800_000_000_000_000
HOUR_S = 3600.0
STEPS = ((20.0, -HOUR_S), (40.0, HOUR_S))  # (monotonic seconds, step of the wall clock)
# (span id, start, end) in seconds of the session: before and into the step back, inside it, across the step forward.
SPANS = (("a", 15.0, 25.0), ("b", 22.0, 30.0), ("c", 35.0, 45.0))
NOTES = ((10.0, "before"), (31.0, "inside the step back"), (50.0, "after the step forward"))
TAGS = ((12.0, "eval"), (18.0, "auto"), (26.0, "eval"), (33.0, "auto"), (45.0, "eval"))  # before, in and after the step


class SteppingClock(VirtualClock):
    """Virtual time whose wall clock steps by each `(at_s, step_s)` once `at_s` seconds have passed."""

    def __init__(self, steps: tuple[tuple[float, float], ...]) -> None:
        super().__init__(start_wall_us=T0_US)
        self.steps = steps

    def wall_us(self) -> int:
        now = self.monotonic()
        return super().wall_us() + round(sum(step for at, step in self.steps if now >= at) * 1e6)


class SpanPoster(Collector):
    """Posts the spans' start and end events (like a probe would) and the notes when the sampler reaches their times."""

    name = "spans"

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.monitor = monitor
        self.due = sorted([*((t, kind, {"span_id": span_id, "name": "request"}) for span_id, start, end in SPANS
                             for t, kind in ((start, "span_start"), (end, "span_end"))),
                           *((t, "note", {"text": text}) for t, text in NOTES),
                           *((t, "tag", {"state": state}) for t, state in TAGS)], key=lambda item: item[0])

    def read(self, elapsed_s: float) -> dict[str, Any]:
        while self.due and self.due[0][0] <= elapsed_s + 1e-9:
            _, kind, fields = self.due.pop(0)
            self.monitor.post(kind, **fields)
        return {}


def record(root: Path, steps: tuple[tuple[float, float], ...]) -> Path:
    config = MonitorConfig(source="sim", speed=None, hz=10.0, duration_s=60.0, gpus_sim=2, directory=str(root),
                           receive_events=False)
    monitor = Monitor(config, clock=SteppingClock(steps))
    monitor.sampler.collectors.append(SpanPoster(monitor))
    monitor.start()
    monitor.wait(poll_s=0.05)
    monitor.stop()
    assert monitor.session is not None
    return monitor.session


def test_a_wall_clock_step_loses_nothing(tmp_path: Path) -> None:
    stepped = record(tmp_path / "stepped", STEPS)
    steady = record(tmp_path / "steady", ())

    ts = pl.read_parquet(stepped / "samples.parquet")["ts"].dt.epoch("us")
    assert (ts.diff() < 0).sum() == 1  # the recording really has the wall clock going back

    # analyze reads the stepped session and derives exactly what the steady one gives.
    out_stepped, out_steady = tmp_path / "stepped.parquet", tmp_path / "steady.parquet"
    summary_stepped = analyze(stepped, out_stepped)
    summary_steady = analyze(steady, out_steady)
    assert summary_stepped == summary_steady
    names = [*derived_columns([0, 1])]
    assert pl.read_parquet(out_stepped).select(names).equals(pl.read_parquet(out_steady).select(names))

    # Spans keep their samples and energy; their times are the wall times their events gave.
    spans_stepped = read_spans(stepped).sort("span_id")
    spans_steady = read_spans(steady).sort("span_id")
    assert spans_stepped["span_id"].to_list() == ["a", "b", "c"]
    same = ["samples", "total_duration_s", "energy_j", "peak_memory_mb", "peak_temperature_c"]
    assert spans_stepped.select(same).equals(spans_steady.select(same))
    assert spans_stepped["samples"].to_list() == [101, 81, 101]
    assert spans_stepped["total_duration_s"].to_list() == [10.0, 8.0, 10.0]
    b_start = spans_stepped.filter(pl.col("span_id") == "b")["start_time"].dt.epoch("us").item()
    assert b_start == T0_US + round((22.0 - HOUR_S) * 1e6)

    # Each step is an event with its size, and a line of the report.
    events = [json.loads(line) for line in (stepped / "events.jsonl").read_text().splitlines()]
    steps = [e for e in events if e["kind"] == "clock_step"]
    assert [(e["step_s"], e["elapsed_s"]) for e in steps] == [(-HOUR_S, 20.0), (HOUR_S, 40.0)]
    assert not [e for e in (steady / "events.jsonl").read_text().splitlines() if "clock_step" in e]
    report = build_report(stepped, warn=False)
    assert "| wall clock | stepped 2 times: -3600.0 s at +00:00:20, +3600.0 s at +00:00:40" in report
    assert "wall clock" not in build_report(steady, warn=False)
    for at, text in (("+00:00:10", "before"), ("+00:00:31", "inside the step back"), ("+00:00:50", "after the step")):
        assert f"| {at} |" in next(line for line in report.splitlines() if text in line)  # the timeline of notes
    assert event_line(steps[0]).endswith("clock step: the wall clock moved -3600.0 s")  # the dashboard's event log
