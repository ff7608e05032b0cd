"""The session writer owns every file of a session: records handed over by other threads, then one close order."""

from __future__ import annotations

import datetime
import threading

import polars as pl

from collectors.process_rows import PROCESS_COLUMNS
from collectors.schema import session_columns
from collectors.stream import Batch, PolledQueue
from recordings.processes import read_processes
from recordings.reader import read_samples
from recordings.recorder import RecorderOptions
from recordings.session import create_session_dir, read_meta
from recordings.session_writer import SessionWriter
from tests.waiting import wait_sync

T0 = 1_800_000_000_000_000


def _process_row(ts: int, pid: int) -> dict[str, object]:
    return {**dict.fromkeys(PROCESS_COLUMNS), "ts": ts, "pid": pid, "kind": "C", "visible": True, "simulated": True}


def _span(span_id: str) -> dict[str, object]:
    return {"span_id": span_id, "name": "step", "start_time": "2027-01-15T08:00:00Z",
            "end_time": "2027-01-15T08:00:01Z", "total_duration_s": 1.0, "success": True}


def test_records_handed_until_a_feed_is_done_go_in_before_the_session_closes(tmp_path):
    """Before: Monitor's callbacks closed the tables; a writer on its own waits for its feeds and closes them itself."""
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    feed_done = threading.Event()
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames, RecorderOptions(frozenset({"parquet", "csv"})), feeds=[feed_done], processes=True)
    writer.start()
    for i in range(3):
        frames.offer(Batch({"ts": T0 + i * 100_000, "elapsed_s": i / 10}))
    writer.take_processes([_process_row(T0, 1), _process_row(T0, 2)])
    writer.take_span(_span("a"))
    frames.close()  # the stream ended; the feeding thread is still busy
    # The samples are flushed and compacted before the writer waits for its feeds: a kill meanwhile loses none.
    wait_sync(lambda: (session / "samples.parquet").is_file(), 30, "the samples compacted while the feed is busy")
    writer.take_processes([_process_row(T0 + 200_000, 3)])  # what the feed hands over until it is done still counts
    writer.take_span(_span("b"))
    writer.warn("a warning from the feed")
    writer.annotate(run={"command": ["true"]})
    assert not writer.closed.is_set()
    feed_done.set()
    writer.join(timeout=30)
    meta = read_meta(session)
    assert meta["status"] == "complete" and meta["run"] == {"command": ["true"]}
    assert "a warning from the feed" in meta["warnings"]
    assert read_samples(session).height == 3
    assert sorted(read_processes(session)["pid"].to_list()) == [1, 2, 3]
    assert pl.read_parquet(session / "spans.parquet")["span_id"].to_list() == ["a", "b"]
    assert (session / "spans.csv").is_file() and (session / "report.md").is_file()
    assert not (session / "processes").exists() or not list((session / "processes").glob("*.journal"))


def test_a_failed_write_in_a_feeding_thread_closes_the_session_interrupted(tmp_path):
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames, feeds=[], processes=True)
    writer.start()
    frames.offer(Batch({"ts": T0, "elapsed_s": 0.0}))
    writer.write_failed("process rows", OSError(28, "No space left on device"))
    writer.join(timeout=30)  # the writer stops taking frames by itself
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and meta["error"] == "recording stopped: process rows not written: disk full"
