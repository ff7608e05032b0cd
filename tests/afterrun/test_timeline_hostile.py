"""`rigscope export --to perfetto|chrome-trace` on hostile sessions and outputs: text no file can hold, a wall
clock that stepped, narrow windows, outputs that are pipes or devices.  Every JSON written is held to the rules
of Perfetto's JSON importer (`check_chrome`)."""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from recordings.spans import spans_table
from tests.afterrun.conftest import copy_session
from tests.afterrun.timeline_sessions import decode
from tests.conftest import REPO, run_cli

ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"
PHASES = {"B", "E", "X", "i", "I", "C", "M", "s", "t", "f", "b", "e", "n"}


def check_chrome(path: Path) -> list[dict[str, Any]]:
    """The events of a Chrome trace that Perfetto's JSON importer takes as they are: strict UTF-8 JSON, known
    `ph`, integer µs `ts`, no negative `dur`, complete slices of one thread nested (never partly overlapping),
    finite counter values."""
    events = json.loads(path.read_bytes().decode("utf-8"), parse_constant=lambda c: math.nan)["traceEvents"]
    threads: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for event in events:
        assert event["ph"] in PHASES and {"name", "pid", "tid"} <= set(event), event
        if event["ph"] == "M":
            continue
        assert isinstance(event["ts"], int), event
        if event["ph"] == "X":
            assert event["dur"] >= 0, event
            threads.setdefault((event["pid"], event["tid"]), []).append((event["ts"], event["ts"] + event["dur"]))
        if event["ph"] == "C":
            assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in event["args"].values()), event
    for slices in threads.values():
        open_: list[int] = []
        for start, end in sorted(slices, key=lambda s: (s[0], -s[1])):
            while open_ and open_[-1] <= start:
                open_.pop()
            assert not open_ or end <= open_[-1], (start, end, open_)
            open_.append(end)
    return events


def export(session: Path, out: Path, *flags: str) -> Path:
    done = run_cli("export", str(session), "--out", str(out), *flags)
    assert done.returncode == 0, done.stderr
    return out


def add_events(session: Path, *events: dict[str, Any]) -> None:
    with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(e) + "\n" for e in events)


def sample_times(session: Path) -> list[str]:
    return pl.read_parquet(session / "samples.parquet", glob=False)["ts"].dt.strftime(ISO).to_list()


def test_text_no_file_can_hold_is_replaced_not_a_traceback(sim_session, tmp_path):
    """A lone surrogate (`"\\ud800"`, valid JSON in events.jsonl from another tool) stopped both exports with
    a UnicodeEncodeError; quotes and control characters go through as they are."""
    session = copy_session(sim_session, tmp_path)
    ts = sample_times(session)
    add_events(session, {"ts": ts[5], "kind": "note", "text": 'bad \ud800 "q" \x00\x1b[2J', "source": "cli"},
               {"ts": ts[6], "kind": "tag", "state": "tr\udfffain", "source": "cli"},
               {"ts": ts[7], "kind": "metric", "name": "lo\ud800ss", "value": 1.5})
    events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace"))
    names = {e["name"] for e in events if e["ph"] in ("i", "C")}
    assert {'note: bad \ufffd "q" \x00\x1b[2J', "tag: tr\ufffdain", "metric: lo\ufffdss"} <= names
    trace = decode(export(session, tmp_path / "t.pftrace", "--to", "perfetto"))
    assert {'note: bad \ufffd "q" \x00\x1b[2J', "tag: tr\ufffdain"} <= {e["name"] for e in trace.events}
    assert trace.counters["metric: lo\ufffdss"][0][1] == 1.5


def test_a_pipe_or_device_as_out_is_written_into_never_replaced(sim_session, tmp_path):
    """`--out /dev/stdout` or `/dev/null`: the export wrote a file beside it and renamed it over the device (as
    root, /dev/null became a file).  A named pipe stands for them here."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    child = subprocess.Popen([sys.executable, "-m", "rigscope", "export", str(sim_session), "--to", "chrome-trace",
                              "--out", str(pipe)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = child.poll() is not None
        try:
            while chunk := os.read(reader, 1 << 16):
                got += chunk
        except BlockingIOError:
            pass
        if done:
            break
        time.sleep(0.01)
    os.close(reader)
    _, stderr = child.communicate(timeout=10)
    assert child.returncode == 0, stderr
    assert stat.S_ISFIFO(pipe.lstat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]
    assert json.loads(got)["otherData"]["session_id"] == sim_session.name


def test_a_full_disk_a_directory_or_a_file_as_folder_is_one_line_and_leaves_nothing(sim_session, tmp_path, capsys,
                                                                                   monkeypatch):
    from recordings.timeline.chrome import ChromeWriter
    from rigscope.cli import main

    out = tmp_path / "run.json"
    out.write_text("the previous timeline\n")
    real, written = ChromeWriter._write, []

    def full_after_100(self, event):
        written.append(event)
        if len(written) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, event)

    monkeypatch.setattr(ChromeWriter, "_write", full_after_100)
    assert main(["export", str(sim_session), "--to", "chrome-trace", "--out", str(out)]) == 1
    monkeypatch.undo()
    assert capsys.readouterr().err.splitlines() == [
        f"rigscope: error: cannot export {sim_session.name} to {out}: disk full"]
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "folder", tmp_path / "file" / "run.json"):
        assert main(["export", str(sim_session), "--to", "chrome-trace", "--out", str(target)]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"rigscope: error: cannot export {sim_session.name} to {target}: ")
    assert out.read_text() == "the previous timeline\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file", "folder", "run.json"]


def balanced(trace) -> None:
    """Every slice end of the .pftrace closes a begin of its track, in time order (as the importer sorts them)."""
    depth: dict[str, int] = {}
    for event in sorted(trace.events, key=lambda e: e["ts"]):
        if event["type"] in (1, 2):
            depth[event["track"]] = depth.get(event["track"], 0) + (1 if event["type"] == 1 else -1)
            assert depth[event["track"]] >= 0, event
    assert not any(depth.values())


def test_a_wall_clock_stepped_back_keeps_time_running_forward(sim_session, tmp_path):
    """NTP stepped the wall clock back 20 s mid-session (a `clock_step` event): the phase across the step came
    out with a negative duration and the .pftrace ended slices before they began.  Every time is now on the
    wall clock as it ran after the step: the samples before it 20 s earlier than their `ts`."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    tick, step = pl.int_range(pl.len()), 100
    table = table.with_columns(
        pl.when(tick >= step).then(pl.col("ts") - pl.duration(seconds=20)).otherwise(pl.col("ts")).alias("ts"),
        pl.when(tick < 90).then(pl.lit("idle")).when(tick < 120).then(pl.lit("compute")).otherwise(pl.lit("io"))
        .alias("workload_state"))
    table.write_parquet(session / "samples.parquet")
    ts = table["ts"].dt.strftime(ISO).to_list()
    raw = table["ts"].dt.epoch("us").to_list()
    add_events(session, {"ts": ts[step], "kind": "clock_step", "step_s": -20.0, "elapsed_s": table["elapsed_s"][step]},
               {"ts": ts[50], "kind": "note", "text": "before", "source": "cli"},
               {"ts": ts[150], "kind": "note", "text": "after", "source": "cli"})
    spans_table([{"request_id": "r", "name": "across", "span_id": "a", "start_time": ts[80], "end_time": ts[150],
                  "success": True}]).write_parquet(session / "spans.parquet")
    expected = [t - 20_000_000 if i < step else t for i, t in enumerate(raw)]
    events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace"))
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    power = [e["ts"] for e in events if e["ph"] == "C" and threads[(e["pid"], e["tid"])] == "gpu0 power"]
    assert power == expected
    phases = [(e["name"], e["ts"], e["ts"] + e["dur"]) for e in events
              if e["ph"] == "X" and threads[(e["pid"], e["tid"])] == "phases"]
    assert [p for p in phases if p[0] != "idle" or p[1] == expected[0]] == [
        ("idle", expected[0], expected[90]), ("compute", expected[90], expected[120]),
        ("io", expected[120], expected[-1])]
    assert {e["name"]: e["ts"] for e in events if e["ph"] == "i"} == {"note: before": expected[50],
                                                                      "note: after": expected[150]}
    assert [(e["ts"], e["dur"]) for e in events if e["name"] == "across"] == [(expected[80], expected[150] - expected[80])]
    trace = decode(export(session, tmp_path / "t.pftrace", "--to", "perfetto"))
    balanced(trace)
    assert [t for t, _ in trace.counters["gpu0 power"]] == [t * 1000 for t in expected]


def test_a_narrow_window_cuts_phases_and_episodes_to_it_never_to_nothing(sim_session, tmp_path):
    """A window around one sample gave each phase and episode a slice of no length at that sample (an instant
    in the .pftrace): they are cut to the window, as counters are, and run from its start to its end."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    tick = pl.int_range(pl.len())
    table = table.with_columns(
        pl.when(tick < 50).then(pl.lit("idle")).otherwise(pl.lit("compute")).alias("workload_state"),
        pl.when(tick.is_between(40, 80)).then(0x20).otherwise(0).cast(pl.UInt64).alias("gpu0_throttle_reasons"))
    table.write_parquet(session / "samples.parquet")
    ts = table["ts"].dt.epoch("us").to_list()
    start, until = ts[60] - 100_000, ts[60] + 100_000  # ticks are 0.5 s apart: the window holds tick 60 alone
    flags = ("--from", f"+{(start - ts[0]) / 1e6}s", "--until", f"+{(until - ts[0]) / 1e6}s")
    events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace", *flags))
    got = {(e["name"], e["ts"], e["dur"]) for e in events if e["ph"] == "X"}
    assert got == {("compute", start, until - start), ("throttle: thermal", start, until - start)}
    # a window from the sample where the phase changes: the phase before it has no time in it and is left out
    flags = ("--from", f"+{(ts[50] - ts[0]) / 1e6}s", "--until", f"+{(ts[52] - ts[0]) / 1e6}s")
    events = check_chrome(export(session, tmp_path / "u.json", "--to", "chrome-trace", *flags))
    assert {(e["name"], e["ts"], e["dur"]) for e in events if e["ph"] == "X" and e["cat"] == "phases"} == {
        ("compute", ts[50], ts[52] - ts[50])}
    trace = decode(export(session, tmp_path / "t.pftrace", "--to", "perfetto", *flags))
    assert not [e for e in trace.events if e["type"] == 3]  # no slice of no length became an instant


def test_process_and_thread_ids_never_meet_a_profilers_in_one_file(sim_session, tmp_path):
    """Merged into one JSON with a torch.profiler trace (docs/timeline.md), our processes 1, 2, 3... were the
    profiler's GPU devices 1, 2, 3 (Kineto's pid for a device's streams is its index) and, in a container,
    its process 1: one process, two names.  Ours are above Linux's highest pid (2**22), as are our threads."""
    events = check_chrome(export(sim_session, tmp_path / "t.json", "--to", "chrome-trace"))
    ids = {e["pid"] for e in events} | {e["tid"] for e in events}
    assert min(ids) > 2**22 and max(ids) < 2**31


def test_a_window_that_misses_the_session_is_refused_not_an_empty_file(sim_session, tmp_path):
    """`--from 14:30` meant in local time, or a session of another day: the export wrote a timeline with
    nothing in it and said it succeeded.  One line naming the session's times; no file."""
    ts = sample_times(sim_session)
    for flags in (("--from", "+1h"), ("--until", "2000-01-01T00:00:00Z"), ("--from", "+10h", "--until", "+11h")):
        done = run_cli("export", str(sim_session), "--to", "chrome-trace", "--out", str(tmp_path / "t.json"), *flags)
        assert done.returncode == 1 and done.stderr.splitlines() == [
            f"rigscope: error: {sim_session.name} has nothing between --from and --until (its samples run from "
            f"{ts[0][:19]}Z to {ts[-1][:19]}Z)"], done.stderr
    assert not list(tmp_path.iterdir())


def test_huge_text_from_another_tool_is_cut_to_the_senders_limits(sim_session, tmp_path):
    """An events.jsonl written by another tool may hold a note of near a megabyte (its lines are read up to
    2**20 characters): it went whole into the name of an instant, each time it appeared.  Names are held to the
    limits any sender's are (a note's text to 4,096 characters, a tag, metric or alert to 256)."""
    from collectors.event_parse import CUT_MARK, NOTE_CAP
    from collectors.wire import MAX_NAME

    session = copy_session(sim_session, tmp_path)
    ts = sample_times(session)
    add_events(session, {"ts": ts[5], "kind": "note", "text": "n" * 500_000, "source": "cli"},
               {"ts": ts[6], "kind": "tag", "state": "t" * 10_000, "source": "cli"},
               {"ts": ts[7], "kind": "metric", "name": "m" * 10_000, "value": 1.0},
               {"ts": ts[8], "kind": "alert", "device": "gpu0", "alert": "a" * 10_000})
    events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace"))
    names = {e["name"].split(": ")[0]: e["name"].split(": ", 1)[1] for e in events if e["ph"] in ("i", "C")
             and e["name"].startswith(("note: ", "tag: ", "metric: ", "alert: "))}
    assert names == {"note": "n" * (NOTE_CAP - len(CUT_MARK)) + CUT_MARK,
                     **{kind: letter * (MAX_NAME - len(CUT_MARK)) + CUT_MARK
                        for kind, letter in (("tag", "t"), ("metric", "m"), ("alert", "a"))}}
    assert (tmp_path / "t.json").stat().st_size < 1_000_000


def paired(trace) -> set[tuple[str, str, int, int]]:
    """(track, name, begin, end) of the .pftrace's slices, each end closing its track's latest open begin, as
    the importer pairs them."""
    stacks: dict[str, list[dict]] = {}
    found = set()
    for event in sorted(trace.events, key=lambda e: e["ts"]):
        if event["type"] == 1:
            stacks.setdefault(event["track"], []).append(event)
        elif event["type"] == 2:
            begin = stacks[event["track"]].pop()
            found.add((event["track"], begin["name"], begin["ts"], event["ts"]))
    return found


def test_throttle_causes_that_overlap_in_part_each_keep_their_times(sim_session, tmp_path):
    """Thermal from tick 40 to 80 and power cap from 60 to 100 on one track: the viewer closes the latest slice
    first, so thermal was drawn to tick 100 and power cap to 80 (the JSON's slices overlapped in part, which
    Perfetto's importer does not take).  Each cause has a track of its own, where the session has it."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    tick = pl.int_range(pl.len())
    table = table.with_columns(
        (pl.when(tick.is_between(40, 80, closed="left")).then(0x20).otherwise(0)
         | pl.when(tick.is_between(60, 100, closed="left")).then(0x4).otherwise(0)).cast(pl.UInt64)
        .alias("gpu0_throttle_reasons"))
    table.write_parquet(session / "samples.parquet")
    ts = table["ts"].dt.epoch("us").to_list()
    check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace"))
    trace = decode(export(session, tmp_path / "t.pftrace", "--to", "perfetto"))
    assert {s for s in paired(trace) if "throttle" in s[0]} == {
        ("gpu0 throttle: thermal", "throttle: thermal", ts[40] * 1000, ts[80] * 1000),
        ("gpu0 throttle: power cap", "throttle: power cap", ts[60] * 1000, ts[100] * 1000)}
    assert not [t for t in trace.tracks.values() if "throttle" in t and t.split(": ")[-1] in ("other", "power brake")]


def recipe(marker: str, trace_name: str) -> str:
    """The Python of docs/timeline.md's recipe after `marker`, for a profiler's trace named `trace_name`."""
    text = (REPO / "docs" / "timeline.md").read_text(encoding="utf-8")
    after = text[text.index(marker):]
    code = after[after.index("<<'EOF'\n") + len("<<'EOF'\n"):after.index("\nEOF\n")]
    return code.replace('"trace.json"', json.dumps(trace_name))


def kineto(base_ns: int | None, first_us: int) -> dict[str, Any]:
    """A torch.profiler trace as Kineto writes it: µs counted from baseTimeNanoseconds, as floats; metadata
    without `ts`; a GPU's events under its index as pid, a stream as a string tid."""
    events = [{"ph": "M", "name": "process_name", "pid": 0, "tid": 0, "args": {"name": "GPU 0"}},
              {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": first_us + 0.5, "dur": 10.25},
              {"ph": "X", "cat": "kernel", "name": "gemm", "pid": 0, "tid": "stream 7", "ts": first_us + 3.0,
               "dur": 5.0},
              {"ph": "i", "s": "t", "name": "step", "pid": 1, "tid": 1, "ts": first_us + 1},
              {"ph": "s", "id": 1, "cat": "ac2g", "name": "launch", "pid": 1, "tid": 1, "ts": first_us + 2}]
    return {"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": events,
            **({} if base_ns is None else {"baseTimeNanoseconds": base_ns})}


def test_the_docs_json_merge_takes_the_profilers_traces_as_they_come(sim_session, tmp_path):
    """The docs' recipe for one JSON read `trace.json` as plain text (a tensorboard_trace_handler file is
    `*.pt.trace.json.gz`: UnicodeDecodeError) and only the object form (the array form, which Chrome's format
    allows and other profilers write, stopped it with an AttributeError); a trace of another day or host
    merged without a word."""
    export(sim_session, tmp_path / "run.json", "--to", "chrome-trace")
    first = pl.read_parquet(sim_session / "samples.parquet", glob=False)["ts"].dt.epoch("us")[10]
    base_ns = (first - 7_000_000) * 1000  # Kineto's base is some time before the first event
    trace = kineto(base_ns, 7_000_000)
    with gzip.open(tmp_path / "w.pt.trace.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(trace, handle)
    (tmp_path / "array.json").write_text(json.dumps(kineto(None, first)["traceEvents"]))
    (tmp_path / "other.json").write_text(json.dumps(kineto(base_ns - 86_400 * 10**9, 7_000_000)))
    for name in ("w.pt.trace.json.gz", "array.json", "other.json"):
        done = subprocess.run([sys.executable, "-c", recipe("**For JSON-only tools**", name)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        merged = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))["traceEvents"]
        torch = {e["name"]: e.get("ts") for e in merged if e.get("cat") in ("cpu_op", "kernel")}
        if name == "other.json":
            assert done.stdout.startswith("warning: ") and "other.json" in done.stdout
        else:
            assert torch == {"aten::mm": first + 0.5, "gemm": first + 3.0} and not done.stdout
    done = subprocess.run([sys.executable, "-c", recipe("**Once, as an archive**", "w.pt.trace.json.gz")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    files = json.loads((tmp_path / "perfetto_manifest.json").read_text())["perfetto_manifest"]["files"]
    assert files[1] == {"path": "w.pt.trace.json.gz", "clocks": {
        "sync_to": {"file": "run.pftrace", "clock": "REALTIME"}, "offset_ns": base_ns}}


def test_nan_and_inf_are_no_reading_in_a_downsampled_mean_and_in_args(sim_session, tmp_path):
    """A NaN or an infinity in a file another tool wrote is no reading: a 1 Hz mean over a period with one made
    the whole period's point vanish (NaN), as if nothing was measured.  A tag without a source or a span
    attribute of NaN went into the .pftrace as the text "None" or "nan"; in the JSON they are null."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    tick = pl.int_range(pl.len())
    bad = pl.when(tick == 0).then(float("nan")).when(tick == 2).then(float("inf")).otherwise(pl.col("gpu0_power_w"))
    table = table.with_columns(bad.alias("gpu0_power_w"))
    table.write_parquet(session / "samples.parquet")
    ts = sample_times(session)
    spans_table([{"request_id": "r", "name": "s", "span_id": "a", "start_time": ts[1], "end_time": ts[5],
                  "success": True, "loss": float("nan")}]).write_parquet(session / "spans.parquet")
    add_events(session, {"ts": ts[3], "kind": "tag", "state": "train"})
    trace = decode(export(session, tmp_path / "t.pftrace", "--to", "perfetto", "--downsample", "1"))
    finite = pl.when(pl.col("gpu0_power_w").is_finite()).then(pl.col("gpu0_power_w"))
    power = table.group_by(pl.col("ts").dt.epoch("us") // 1_000_000, maintain_order=True).agg(
        pl.col("ts").dt.epoch("us").first().alias("first"), finite.mean()).drop_nulls()  # at its first sample
    assert trace.counters["gpu0 power"][:2] == [(t * 1000, pytest.approx(w)) for t, w in
                                                power.select("first", "gpu0_power_w").head(2).iter_rows()]
    tag = next(e for e in trace.events if e["name"] == "tag: train")
    span = next(e for e in trace.events if e["name"] == "s")
    assert "source" not in tag["args"] and "loss" not in span["args"]


def test_a_folder_that_takes_no_file_is_not_called_a_full_disk(sim_session):
    """/proc takes no new file and has no free space to report: the export said `disk full` there."""
    done = run_cli("export", str(sim_session), "--to", "chrome-trace", "--out", "/proc/run.json")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"rigscope: error: cannot export {sim_session.name} to /proc/run.json: ")
    assert "disk full" not in done.stderr


def test_a_journal_that_lands_while_a_running_session_is_read_is_read_as_its_part(sim_session, tmp_path, capsys,
                                                                                monkeypatch):
    """Exported while it records: the open segment's journal is listed, then lands as its Parquet part and is
    removed before it is read.  The export failed with `No such file or directory`, as if the output could
    not be written; it reads the part the journal became."""
    from recordings import segments
    from rigscope.cli import main
    from tests.recordings.hostile import interrupted

    session = copy_session(sim_session, tmp_path)
    interrupted(session)
    listed = segments.segment_files(session)
    journal = listed[-1]
    segments.write_parquet_atomic(segments.read_segment(journal, session_columns(session)),
                                  journal.with_suffix(".parquet"))  # as the recorder lands it
    journal.unlink()
    monkeypatch.setattr(segments, "segment_files", lambda *_: listed)  # the listing from before it landed
    assert main(["export", str(session), "--to", "chrome-trace", "--out", str(tmp_path / "t.json")]) == 0, \
        capsys.readouterr().err
    monkeypatch.undo()
    events = check_chrome(tmp_path / "t.json")
    assert len([e for e in events if e["ph"] == "C" and e["name"] == "gpu0 power"]) == \
        pl.read_parquet(sim_session / "samples.parquet", glob=False)["gpu0_power_w"].drop_nulls().len()


def session_columns(session: Path) -> Any:
    from recordings.reader import session_columns_of
    from recordings.session import read_meta

    return session_columns_of(read_meta(session))


def test_a_counter_never_read_has_no_point_never_a_zero(sim_session, tmp_path):
    """Ten seconds without a power reading: no point there, tick for tick or as 5 s means."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    tick = pl.int_range(pl.len())
    table = table.with_columns(pl.when(tick.is_between(10, 29)).then(None).otherwise(pl.col("gpu0_power_w"))
                               .alias("gpu0_power_w"))
    table.write_parquet(session / "samples.parquet")
    ts = table["ts"].dt.epoch("us").to_list()
    for flags in ((), ("--downsample", "0.2")):  # a 5 s period of ticks 10 to 19 holds no reading at all
        events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace", *flags))
        power = [(e["ts"], e["args"]["W"]) for e in events if e["ph"] == "C" and e["name"] == "gpu0 power"]
        period = 5_000_000 if flags else 0
        assert not [t for t, _ in power if ts[10] <= t and t + period <= ts[29]]  # nothing where nothing was read
        assert all(v > 0 for _, v in power)


def test_a_wall_clock_stepped_forward_keeps_the_times_it_read(sim_session, tmp_path):
    """A machine suspended for 10 minutes resumes: the wall clock leaps, the monotonic one did not count the
    sleep (a `clock_step` of +600 s).  The wall clock was right on both sides: every sample stays at its `ts`,
    with the gap where the machine slept."""
    session = copy_session(sim_session, tmp_path)
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    table = table.with_columns(pl.when(pl.int_range(pl.len()) >= 100).then(pl.col("ts") + pl.duration(seconds=600))
                               .otherwise(pl.col("ts")).alias("ts"))
    table.write_parquet(session / "samples.parquet")
    ts = table["ts"].dt.strftime(ISO).to_list()
    add_events(session, {"ts": ts[100], "kind": "clock_step", "step_s": 600.0, "elapsed_s": table["elapsed_s"][100]},
               {"ts": ts[50], "kind": "note", "text": "before", "source": "cli"})
    events = check_chrome(export(session, tmp_path / "t.json", "--to", "chrome-trace"))
    raw = table["ts"].dt.epoch("us").to_list()
    assert [e["ts"] for e in events if e["ph"] == "C" and e["name"] == "gpu0 power"] == raw
    assert [e["ts"] for e in events if e["ph"] == "i"] == [raw[50]]


def test_two_exports_to_one_file_at_once_each_write_a_whole_file(tmp_path):
    """Both wrote the same temporary name: the second truncated the first's file under it, and the first's
    rename then failed (or renamed a file of two halves).  Each now has a temporary file of its own."""
    from recordings.out_paths import whole_output

    out = tmp_path / "run.json"
    with whole_output(out) as first:
        first.write(b'{"from": "first", ')
        with whole_output(out) as second:
            second.write(b'{"from": "second"}')
        assert json.loads(out.read_bytes()) == {"from": "second"}
        first.write(b'"whole": true}')
    assert json.loads(out.read_bytes()) == {"from": "first", "whole": True}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_downsampled_point_is_never_before_the_samples_it_averages(sim_session, tmp_path):
    """Periods are counted from the epoch: with --downsample 0.01 (100 s), the first mean was stamped up to
    100 s before the session's first sample, and before --from's time: a reading where none was taken.  Each
    mean is stamped at the first sample it averages."""
    table = pl.read_parquet(sim_session / "samples.parquet", glob=False).with_columns(
        pl.col("ts").dt.epoch("us").alias("ts_us"))
    start = table["ts_us"][0] + 7_000_000
    events = check_chrome(export(sim_session, tmp_path / "t.json", "--to", "chrome-trace", "--downsample", "0.01",
                                 "--from", "+7s"))
    inside = table.filter(pl.col("ts_us") >= start)
    expected = (inside.group_by(pl.col("ts_us") // 100_000_000, maintain_order=True)
                .agg(pl.col("ts_us").first().alias("first"), pl.col("gpu0_power_w").mean()))
    got = [(e["ts"], e["args"]["W"]) for e in events if e["ph"] == "C" and e["name"] == "gpu0 power"]
    assert got == [(t, pytest.approx(w)) for t, w in expected.select("first", "gpu0_power_w").iter_rows()]
