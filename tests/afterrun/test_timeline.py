"""`rigscope export --to perfetto|chrome-trace`: the session as a timeline, decoded back and checked against
the session it came from (the .pftrace with the perfetto package's protobuf classes, no trace processor)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from recordings.report.aggregates import device_energy
from recordings.report.data import load_session
from tests.afterrun.conftest import copy_session
from tests.afterrun.test_timeline_hostile import check_chrome
from tests.afterrun.timeline_sessions import (
    COLLAPSE_TICKS,
    POWER_CAP_TICKS,
    SPANS,
    THERMAL_TICKS,
    decode,
    timeline_session,
)
from tests.conftest import run_cli

NS = 1000
REALTIME, MONOTONIC, BOOTTIME = 1, 3, 6


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s at 10 Hz on 2 simulated GPUs, with spans, notes, tags, alerts, a metric, throttling and a collapse."""
    root = tmp_path_factory.mktemp("timeline")
    done = run_cli("record", "--source", "sim", "--speed", "max", "--hz", "10", "--duration", "30s",
                   "--gpus-sim", "2", "--dir", str(root))
    assert done.returncode == 0, done.stderr
    (recorded,) = root.iterdir()
    timeline_session(recorded)
    return recorded


@pytest.fixture(scope="module")
def samples(session: Path) -> pl.DataFrame:
    return pl.read_parquet(session / "samples.parquet", glob=False).with_columns(
        pl.col("ts").dt.epoch("us").alias("ts_us"))


def export(session: Path, out: Path, *flags: str) -> Path:
    done = run_cli("export", str(session), "--out", str(out), *flags)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def trace(session: Path, tmp_path_factory: pytest.TempPathFactory):
    return decode(export(session, tmp_path_factory.mktemp("out") / "run.pftrace", "--to", "perfetto"))


@pytest.fixture(scope="module")
def chrome(session: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = export(session, tmp_path_factory.mktemp("out") / "run.json", "--to", "chrome-trace")
    return json.loads(path.read_text())


def measured(samples: pl.DataFrame, column: str) -> list[tuple[int, float]]:
    rows = samples.select("ts_us", column).drop_nulls()
    return [(ts, float(v)) for ts, v in rows.iter_rows()]


COUNTERS = {"gpu0 utilization": "gpu0_util_pct", "gpu1 power": "gpu1_power_w", "gpu0 temperature": "gpu0_temp_c",
            "gpu0 memory used": "gpu0_mem_used_bytes", "gpu1 SM clock": "gpu1_clock_sm_mhz",
            "gpu0 memory clock": "gpu0_clock_mem_mhz", "gpu0 RLE (smoothed)": "gpu0_rle_smoothed",
            "cpu utilization": "cpu_util_pct", "cpu clock": "cpu_freq_mhz", "host memory used": "mem_used_bytes"}


def test_perfetto_counters_equal_the_samples_tick_for_tick(trace, samples):
    assert trace.clock_ids == {REALTIME}
    for track, column in COUNTERS.items():
        expected = [(ts * NS, value) for ts, value in measured(samples, column)]
        assert trace.counters[track] == expected, track
    assert len(trace.counters["gpu0 utilization"]) == samples.height


def _slices(trace, name: str | None = None) -> list[dict]:
    """Begin/end pairs per track, matched as a viewer stacks them (in time, then file order); every end closes
    the latest open begin."""
    stacks: dict[str, list[dict]] = {}
    done = []
    for event in sorted(trace.events, key=lambda e: e["ts"]):  # at one time, in the file's order
        if event["type"] == 1:
            stacks.setdefault(event["track"], []).append({**event, "depth": len(stacks[event["track"]])})
        elif event["type"] == 2:
            begin = stacks[event["track"]].pop()
            done.append({**begin, "end": event["ts"]})
    assert all(not stack for stack in stacks.values())
    return [s for s in done if name is None or s["name"] == name]


def test_every_span_with_its_duration_and_attributes_and_nesting(trace, samples):
    ts = samples["ts_us"].to_list()
    found = {s["args"]["span_id"]: s for s in _slices(trace) if "span_id" in s["args"]}
    found.update({e["args"]["span_id"]: {**e, "end": e["ts"]} for e in trace.events
                  if e["type"] == 3 and "span_id" in e["args"]})  # a span without duration is an instant
    assert set(found) == {span_id for _, span_id, *_ in SPANS}
    for name, span_id, parent, first, last, attrs in SPANS:
        got = found[span_id]
        assert (got["name"], got["ts"], got["end"]) == (name, ts[first] * NS, ts[last] * NS)
        assert {**got["args"], **attrs} == got["args"] and got["args"].get("parent_id") == parent
    # nested spans are stacked on their parent's track; g, beside its sibling f, has a lane of its own
    assert found["a"]["track"] == found["b"]["track"] == found["c"]["track"] == found["d"]["track"]
    assert (found["a"]["depth"], found["b"]["depth"], found["c"]["depth"], found["d"]["depth"]) == (0, 1, 2, 1)
    assert found["e"]["track"] == found["f"]["track"] != found["a"]["track"] and found["f"]["depth"] == 1
    assert found["g"]["track"] not in (found["a"]["track"], found["e"]["track"]) and found["g"]["depth"] == 0


def test_phases_throttle_episodes_and_collapses_are_slices(trace, samples):
    ts = samples["ts_us"].to_list()
    thermal, power = _slices(trace, "throttle: thermal"), _slices(trace, "throttle: power cap")
    assert [(s["ts"], s["end"], s["track"]) for s in thermal] == [(ts[THERMAL_TICKS[0]] * NS, ts[THERMAL_TICKS[1]] * NS,
                                                                  "gpu0 throttle: thermal")]
    assert [(s["ts"], s["end"]) for s in power] == [(ts[POWER_CAP_TICKS[0]] * NS, ts[POWER_CAP_TICKS[1]] * NS)]
    assert not _slices(trace, "throttle: other")  # the idle bit on every sample is no throttling
    assert [(s["ts"], s["end"], s["track"]) for s in _slices(trace, "collapse")] == [
        (ts[COLLAPSE_TICKS[0]] * NS, ts[COLLAPSE_TICKS[1]] * NS, "gpu1 collapses")]
    phases = [s for s in _slices(trace) if s["track"] == "phases"]
    states = samples["workload_state"].to_list()
    assert phases[0]["ts"] == ts[0] * NS and phases[-1]["end"] == ts[-1] * NS
    assert all(a["end"] == b["ts"] for a, b in zip(phases, phases[1:]))  # one after another, no gap
    for phase in phases:
        assert states[ts.index(phase["ts"] // NS)] == phase["name"]


def test_notes_tags_alerts_at_their_times_and_metrics_as_counters(trace, samples):
    ts = samples["ts_us"].to_list()
    instants = {(e["name"], e["ts"], e["track"]) for e in trace.events if e["type"] == 3 and e["track"] != "spans"}
    assert instants == {("note: warm-up done", ts[3] * NS, "phases"), ("tag: train", ts[20] * NS, "phases"),
                        ("alert: THROTTLE_THERMAL", ts[101] * NS, "gpu0 alerts")}
    assert trace.counters["metric: loss"] == [(ts[i] * NS, 2.0 - i / 100) for i in range(0, 200, 10)]


def test_simulated_session_has_a_realtime_snapshot_and_the_host_as_machine(trace, session):
    meta = json.loads((session / "meta.json").read_text())
    (snapshot,) = trace.snapshots
    assert snapshot.primary_trace_clock == REALTIME
    assert [c.clock_id for c in snapshot.clocks] == [REALTIME]  # a virtual clock says nothing of the machine's
    assert trace.machine_names == [meta["host"]["hostname"]]
    assert all(meta["host"]["hostname"] in trace.tracks[p] for p in set(trace.parents.values()) if p)


def test_a_recording_on_this_machine_carries_its_clock_snapshot(tmp_path):
    done = run_cli("record", "--source", "system", "--hz", "10", "--duration", "1s", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (session,) = tmp_path.iterdir()
    clocks = json.loads((session / "meta.json").read_text())["clocks"]
    assert clocks["monotonic_ns"] > 0 and clocks["boottime_ns"] >= clocks["monotonic_ns"]
    (snapshot,) = decode(export(session, tmp_path / "x.pftrace", "--to", "perfetto")).snapshots
    assert {c.clock_id: c.timestamp for c in snapshot.clocks} == {
        REALTIME: clocks["realtime_ns"], MONOTONIC: clocks["monotonic_ns"], BOOTTIME: clocks["boottime_ns"]}


def test_energy_from_the_exported_power_equals_the_report(trace, session):
    report = device_energy(load_session(session, warn=False), ["gpu0", "gpu1"])
    for prefix in ("gpu0", "gpu1"):
        points = trace.counters[f"{prefix} power"]
        joules = sum(p * (t1 - t0) / 1e9 for (t0, p), (t1, _) in zip(points, points[1:]))
        assert joules == pytest.approx(report[prefix]["energy_j"], rel=1e-3)


def test_chrome_trace_is_valid_and_equals_the_session(chrome, samples, session):
    events = chrome["traceEvents"]
    for event in events:
        assert {"name", "ph", "pid", "tid"} <= set(event), event
        assert event["ph"] == "M" or isinstance(event["ts"], int), event
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    for track, column in COUNTERS.items():
        got = [(e["ts"], next(iter(e["args"].values()))) for e in events
               if e["ph"] == "C" and threads[(e["pid"], e["tid"])] == track]
        assert got == measured(samples, column), track
    ts = samples["ts_us"].to_list()
    spans = {e["args"]["span_id"]: e for e in events if e["ph"] == "X" and "span_id" in e["args"]}
    for name, span_id, _parent, first, last, attrs in SPANS:
        got = spans[span_id]
        assert (got["name"], got["ts"], got["dur"]) == (name, ts[first], ts[last] - ts[first])
        assert {**got["args"], **attrs} == got["args"]
    lane = {span_id: threads[(e["pid"], e["tid"])] for span_id, e in spans.items()}
    assert lane["a"] == lane["b"] == lane["c"] == lane["d"] != lane["e"] == lane["f"] != lane["g"]
    assert chrome["otherData"]["host"] == json.loads((session / "meta.json").read_text())["host"]["hostname"]
    notes = [e for e in events if e["ph"] == "i" and e["name"] == "note: warm-up done"]
    assert [e["ts"] for e in notes] == [ts[3]]


def test_chrome_trace_is_what_perfettos_json_importer_takes(session, tmp_path):
    """Spans on their lanes, throttle causes that overlap, phases, counters: as `check_chrome` says."""
    assert check_chrome(export(session, tmp_path / "run.json", "--to", "chrome-trace"))


def test_window_and_downsampling(session, samples, tmp_path):
    trace = decode(export(session, tmp_path / "w.pftrace", "--to", "perfetto", "--from", "+5s", "--until", "+15s",
                          "--downsample", "1"))
    start = samples["ts_us"][0] + 5_000_000
    inside = samples.filter(pl.col("ts_us").is_between(start, start + 10_000_000))
    expected = (inside.group_by((pl.col("ts_us") // 1_000_000).alias("second"), maintain_order=True)
                .agg(pl.col("ts_us").first(), pl.col("gpu0_power_w").mean()))
    got = trace.counters["gpu0 power"]
    assert [t for t, _ in got] == [t * NS for t in expected["ts_us"]]  # each second's mean at its first sample
    assert [v for _, v in got] == pytest.approx(expected["gpu0_power_w"].to_list())
    spans = {s["args"]["span_id"] for s in _slices(trace) if "span_id" in s["args"]}
    assert spans == {"a", "d", "e", "f", "g"}  # the spans that overlap the window (ticks 50 to 150), whole
    assert [e["args"]["span_id"] for e in trace.events if e["type"] == 3 and "span_id" in e["args"]] == ["h"]


def test_bad_window_and_missing_package_are_one_line(session, tmp_path):
    done = run_cli("export", str(session), "--to", "chrome-trace", "--from", "soon", "--out", str(tmp_path / "x.json"))
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "rigscope: error: --from soon: not a time (use +10m, 600, 14:30, or 2026-11-23T14:30:00Z)"]
    done = run_cli("export", str(session), "--to", "csv", "--downsample", "1", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    blocker = tmp_path / "blocker" / "perfetto"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = run_cli("export", str(session), "--to", "perfetto", "--out", str(tmp_path / "x.pftrace"),
                   env={"PYTHONPATH": str(blocker.parent)})
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "rigscope: error: the perfetto export needs the perfetto package: pip install 'rigscope[trace]'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_an_interrupted_session_exports_from_its_segments(session, tmp_path, samples):
    from tests.recordings.hostile import interrupted

    copy = copy_session(session, tmp_path)
    interrupted(copy)
    assert not (copy / "samples.parquet").exists()
    trace = decode(export(copy, tmp_path / "i.pftrace", "--to", "perfetto"))
    assert trace.counters["gpu0 utilization"] == [(ts * NS, v) for ts, v in measured(samples, "gpu0_util_pct")]
