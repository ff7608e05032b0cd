"""`rigscope export --to perfetto|chrome-trace` on hostile sessions and outputs: text no file can hold, a wall
clock that stepped, narrow windows, outputs that are pipes or devices.  Every JSON written is held to the rules
of Perfetto's JSON importer (`check_chrome`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from tests.afterrun.conftest import copy_session
from tests.afterrun.timeline_sessions import decode
from tests.conftest import run_cli

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
