"""`rigscope export --to perfetto|chrome-trace` on hostile sessions and outputs: text no file can hold, a wall
clock that stepped, narrow windows, outputs that are pipes or devices.  Every JSON written is held to the rules
of Perfetto's JSON importer (`check_chrome`)."""

from __future__ import annotations

import errno
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
