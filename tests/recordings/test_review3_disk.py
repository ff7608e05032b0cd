"""The recording path under hostile conditions: a full disk at each write, a kill at each step of a segment's
landing and of the close, a session folder removed or made read-only while recording.

The disk fills by injection (an OSError(ENOSPC), or what polars raises on it) at the writer's boundary; a few
checks use a real tiny tmpfs where this user may mount one (root), and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gc
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from collectors.schema import session_columns
from collectors.stream import Batch, PolledQueue
from collectors.timeutil import iso_from_us
from recordings import recorder as recorder_module
from recordings import spans as spans_module
from recordings.events import EventLog, append_event, read_events
from recordings.processes import read_processes
from recordings.reader import read_samples
from recordings.recorder import Recorder, RecorderOptions
from recordings.repair import repair_session
from recordings.report import build_report
from recordings.session import create_session_dir, read_meta
from recordings.session_writer import SessionWriter
from recordings.spans import read_spans
from rigscope import cli
from tests.conftest import REPO
from tests.recordings.test_recorder import record
from tests.recordings.test_session_writer import _process_row
from tests.rigscope.test_writer_failures import FAST, _mount_tiny_tmpfs
from tests.waiting import wait_sync

T0 = 1_800_000_000_000_000
# What polars raises when the disk is full, or the folder read-only, under a Parquet file it writes.
ENOSPC_TEXT = "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
EACCES_TEXT = "Permission denied (os error 13): /s/.spans.parquet.tmp"
SPAN = {"span_id": "a", "name": "step", "start_time": "2027-01-15T08:00:00Z", "end_time": "2027-01-15T08:00:01Z",
        "total_duration_s": 1.0, "success": True}


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_the_start_of_record_is_one_line_and_leaves_no_empty_session(tmp_path, monkeypatch, capsys):
    """Before: a traceback (the first meta.json write), and a session folder without meta.json was left."""
    monkeypatch.setattr(recorder_module, "write_json_atomic", _enospc)
    code = cli.main(["record", "--source", "sim", "--speed", "max", "--duration", "2s", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "disk full" in line and str(tmp_path) in line
    assert list(tmp_path.iterdir()) == []


def _failing_for(name: str, error: OSError, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Path.unlink` of files called `name` fails with `error` (a folder made read-only, removed, on a full disk)."""
    real = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == name:
            raise error
        real(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)


def test_a_session_folder_made_read_only_before_the_close_ends_interrupted_without_a_traceback(tmp_path, monkeypatch):
    """Before: giving the disk room back at close raised PermissionError in the recorder's thread (a traceback on
    stderr), and meta.json was never made final."""
    _failing_for(recorder_module.RESERVE, PermissionError(errno.EACCES, "Permission denied"), monkeypatch)
    uncaught: list[object] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    session, _ = record(tmp_path, seconds=3, hz=10, gpus=1, formats=("parquet",))
    assert uncaught == []
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and "Permission denied" in meta["error"]
    assert read_samples(session).height == 30  # every sample was flushed and compacted before


def test_a_session_folder_removed_while_recording_stops_it_at_the_next_flush(tmp_path):
    """Before: the recorder went on writing into removed files until its segment landed (a minute by default, or
    the session's end) and said nothing meanwhile."""
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    recorder = Recorder(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]), frames,
                        RecorderOptions(frozenset({"parquet", "csv"}), flush_interval_s=0.05))
    recorder.start()
    try:
        frames.offer(Batch({"ts": T0, "elapsed_s": 0.0}))
        wait_sync(lambda: recorder.samples and recorder.last_flush_wall, 30, "a first flush")
        shutil.rmtree(session)
        frames.offer(Batch({"ts": T0 + 100_000, "elapsed_s": 0.1}))
        wait_sync(lambda: recorder.error, 30, "the recording stopped")
        assert "removed while recording" in recorder.error
    finally:
        frames.close()
        recorder.join(timeout=30)
    assert recorder.closed.is_set()


def test_record_says_when_its_session_folder_was_removed(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "rigscope", "record", "--source", "sim", "--duration", "60s",
                                "--dir", str(tmp_path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        wait_sync(lambda: any(tmp_path.glob("*/samples/part-000001.journal")), 30, "the recording started")
        shutil.rmtree(next(tmp_path.iterdir()))
        _, err = process.communicate(timeout=30)  # not the 60 s
    finally:
        process.kill()
    assert process.returncode == 1 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "removed while recording" in line and "now gone" in line and "kept in" not in line


@pytest.mark.parametrize("failure", [pl.exceptions.ComputeError(ENOSPC_TEXT), pl.exceptions.ComputeError(EACCES_TEXT)])
def test_a_spans_table_the_disk_refuses_closes_the_session_interrupted(tmp_path, monkeypatch, failure):
    """Before: polars' error for a full disk (or a folder made read-only) under spans.parquet was taken for bad span
    data: a warning, and the session closed `complete`."""
    def refused(*_args, **_kwargs):
        raise failure

    monkeypatch.setattr(spans_module, "write_parquet_atomic", refused)
    session, meta = _one_span_session(tmp_path)
    assert meta["status"] == "interrupted"
    assert meta["error"].startswith("recording stopped: spans table not written: ")
    assert read_spans(session)["span_id"].to_list() == ["a"]  # still in its journal, for repair


def _one_span_session(tmp_path: Path, options: RecorderOptions | None = None) -> tuple[Path, dict]:
    """A session writer given one frame and one finished span, closed: its folder and final meta.json."""
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames, *(() if options is None else (options,)))
    writer.start()
    frames.offer(Batch({"ts": T0, "elapsed_s": 0.0}))
    writer.take_span(SPAN)
    frames.close()
    writer.join(timeout=30)
    return session, read_meta(session)


def _half_then_full(real):
    """A writer that writes half of its file, then finds the disk full (what a full disk does to any write)."""
    def write(self, target, *args, **kwargs):
        real(self, target, *args, **kwargs)
        path = Path(target)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return write


def test_a_full_disk_under_report_md_leaves_no_half_file(tmp_path, monkeypatch):
    """Before: `.report.md.tmp`, half written, stayed in the session."""
    monkeypatch.setattr(Path, "write_text", _half_then_full(Path.write_text))
    session, _ = record(tmp_path, seconds=2, hz=10, gpus=1, formats=("parquet",))
    meta = read_meta(session)
    assert meta["status"] == "complete" and any("report.md not written" in w for w in meta["warnings"])
    assert not list(session.glob(".*.tmp")) and not (session / "report.md").exists()


def test_a_full_disk_under_spans_csv_leaves_no_half_file(tmp_path, monkeypatch):
    """Before: `.spans.csv.tmp`, half written, stayed in the session."""
    monkeypatch.setattr(pl.DataFrame, "write_csv", _half_then_full(pl.DataFrame.write_csv))
    session, meta = _one_span_session(tmp_path, RecorderOptions(frozenset({"parquet", "csv"})))
    assert meta["status"] == "interrupted" and "spans table not written: disk full" in meta["error"]
    assert not list(session.glob(".*.tmp")) and (session / "spans.journal").is_file()


def test_repair_finishes_a_close_killed_before_report_md_landed(tmp_path):
    """Before: meta.json said `complete`, so repair answered "nothing to repair" and report.md never came."""
    session, _ = record(tmp_path, seconds=2, hz=10, gpus=1, formats=("parquet",))
    report = session / "report.md"
    first_line = report.read_text().splitlines()[0]
    report.rename(session / ".report.md.tmp")  # the kill came between its write and its rename
    assert "report.md written" in repair_session(session)
    assert report.read_text().splitlines()[0] == first_line and not list(session.glob(".*.tmp"))
    assert read_meta(session)["status"] == "complete"
    assert "nothing to repair" in repair_session(session)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 1 MiB tmpfs (root only; skipped elsewhere), unmounted after the test."""
    disk = tmp_path / "tiny"
    _mount_tiny_tmpfs(disk)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill_leaving(disk: Path, free_bytes: int) -> None:
    with open(disk / "filler", "wb") as handle:
        handle.write(bytes(shutil.disk_usage(disk).free - free_bytes))


def _record(root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`rigscope record` into `root` for up to 600 s (the full disk stops it long before)."""
    return subprocess.run([sys.executable, "-m", "rigscope", "record", *flags, "--duration", "600", "--dir", str(root)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_a_disk_with_less_room_than_the_reserve_still_takes_the_final_meta_json(tiny_disk):
    """Before: with under 256 KiB free the recorder kept no room at all, and the full disk then refused the final
    meta.json: the session said `recording`, with no word of why it stopped."""
    _fill_leaving(tiny_disk, 200 * 1024)
    root = tiny_disk / "runs"
    result = _record(root, *FAST)
    assert result.returncode == 1 and "disk full" in result.stderr and "Traceback" not in result.stderr
    (session,) = list(root.iterdir())
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and "disk full" in meta["error"]
    assert not (session / recorder_module.RESERVE).exists()


def test_a_stopped_recording_writes_no_more_process_rows_nor_spans(tmp_path):
    """Before: after the samples failed on a full disk the process tier and the span assembler went on writing
    until the close, into the room given back for the final meta.json (which then did not fit)."""
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames, processes=True)
    writer.start()
    frames.offer(Batch({"ts": T0, "elapsed_s": 0.0}))
    writer.take_processes([_process_row(T0, 1)])
    writer.write_failed("samples", OSError(errno.ENOSPC, "No space left on device"))
    writer.take_processes([_process_row(T0 + 2_000_000, 1)])
    writer.take_span(SPAN)
    frames.close()
    writer.join(timeout=30)
    assert read_meta(session)["status"] == "interrupted"
    assert read_processes(session)["ts"].dt.epoch("us").to_list() == [T0]
    assert not (session / "spans.journal").exists()


def test_after_a_full_disk_meta_json_counts_the_samples_readers_find(tiny_disk):
    """Before: total_samples (and session_end) counted the samples taken, some of which the full disk lost from
    the journal's buffer: `ls` said 42 samples where readers and repair found 39."""
    _fill_leaving(tiny_disk, 400 * 1024)
    root = tiny_disk / "runs"
    result = _record(root, "--source", "sim", "--speed", "max", "--hz", "20", "--segment-interval", "10",
                     "--format", "both")
    assert result.returncode == 1 and "disk full" in result.stderr
    (session,) = list(root.iterdir())
    meta, samples = read_meta(session), read_samples(session)
    assert meta["status"] == "interrupted" and meta["total_samples"] == samples.height > 0
    assert meta["session_end"] == iso_from_us(samples["ts"].dt.epoch("us").max())


def test_a_note_added_after_a_cut_event_line_is_kept(tmp_path):
    """Before: a recorder stopped by a full disk (or killed) mid-event left a cut last line; a note added to the
    session later (`rigscope note`) was glued onto it and skipped as invalid with it."""
    events = tmp_path / "events.jsonl"
    events.write_text('{"ts":"2027-01-15T08:00:00Z","kind":"note","text":"a"}\n{"ts":"2027-01-15T08:00:01Z","ki')
    append_event(events, {"ts": "2027-01-15T08:00:02Z", "kind": "note", "text": "b"})
    assert [event["text"] for event in read_events(events, warn=False)] == ["a", "b"]


# A recording (20 s at 2 Hz, 5 s segments: 40 samples in four parts and a journal) killed by os._exit at the
# `nth` rename to, or removal of, the file called `name`, as a kill -9 there would leave it.
KILLED_CHILD = """
import os, pathlib, sys
kind, name, nth, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
seen = [0]

def dies_at(real, target):
    def call(*args, **kwargs):
        if pathlib.Path(target(args)).name == name:
            seen[0] += 1
            if seen[0] == nth:
                os._exit(9)
        return real(*args, **kwargs)
    return call

if kind == "rename":
    os.replace = dies_at(os.replace, lambda args: args[1])
else:
    pathlib.Path.unlink = dies_at(pathlib.Path.unlink, lambda args: args[0])
from tests.recordings.test_recorder import record
record(root, seconds=20, hz=2, gpus=1, formats=("parquet", "csv"), segment_s=5)
"""


@pytest.mark.parametrize("kind, name, nth, flushed", [
    ("rename", "part-000002.parquet", 1, 20),  # a segment's rollover: its Parquet written, not yet renamed
    ("unlink", "part-000002.journal", 1, 20),  # renamed, its journal not yet deleted: both there
    ("rename", "samples.parquet", 1, 40),  # the close's compaction written, not yet renamed
    ("unlink", "part-000003.parquet", 1, 40),  # compacted, while the segments are being removed
    ("rename", "meta.json", 2, 40),  # the final meta.json written, not yet renamed (the first is the start's)
    ("rename", "report.md", 1, 40),  # everything but report.md
])
def test_a_kill_at_each_step_of_a_rollover_and_of_the_close_loses_no_sample_and_doubles_none(
        tmp_path, kind, name, nth, flushed):
    done = subprocess.run([sys.executable, "-c", KILLED_CHILD, kind, name, str(nth), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    (session,) = list(tmp_path.iterdir())
    seen = read_samples(session)["elapsed_s"].to_list()  # what every reader finds before the repair
    assert len(seen) >= flushed and seen == sorted(set(seen)) == [i / 2 for i in range(len(seen))]
    repair_session(session, force=True)  # (its recorder wrote a host of its own: not taken for dead)
    repair_session(session, force=True)
    table = pl.read_parquet(session / "samples.parquet")
    assert table["elapsed_s"].to_list() == seen  # every flushed sample, once
    assert pl.read_csv(session / "samples.csv")["elapsed_s"].to_list() == seen
    meta = read_meta(session)
    assert meta["total_samples"] == len(seen) and (session / "report.md").is_file()
    assert f"| samples | {len(seen)} |" in build_report(session, warn=False)
    assert not list(session.rglob("*.tmp")) and not (session / "samples").exists()


def test_record_on_a_disk_with_almost_no_room_is_refused_with_one_line(tiny_disk):
    """Before: with 10 KiB free the recording started, took no sample, and could not write its final meta.json: a
    session left `recording`, empty, with no word of why."""
    _fill_leaving(tiny_disk, 10 * 1024)
    root = tiny_disk / "runs"
    result = _record(root, "--source", "sim", "--speed", "max")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert "cannot record in" in line and "disk full" in line
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name, flushed", [("part-000002.parquet", 20), ("samples.parquet", 40)])
def test_a_rename_the_full_disk_refuses_keeps_every_flushed_sample_readable(tmp_path, monkeypatch, name, flushed):
    """A segment's rename at its rollover, and the compacted file's at the close: the old files stay, no temp file."""
    real = os.replace

    def replace(source, target):
        if Path(target).name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    session, _ = record(tmp_path, seconds=20, hz=2, gpus=1, formats=("parquet",), segment_s=5)
    monkeypatch.undo()
    meta, seen = read_meta(session), read_samples(session)["elapsed_s"].to_list()
    assert meta["status"] == "interrupted" and "disk full" in meta["error"]
    assert meta["total_samples"] == len(seen) >= flushed and seen == [i / 2 for i in range(len(seen))]
    assert not list(session.rglob("*.tmp"))
    repair_session(session, force=True)
    assert pl.read_parquet(session / "samples.parquet")["elapsed_s"].to_list() == seen


def test_after_a_failed_write_the_summary_is_of_the_samples_on_disk(tmp_path, monkeypatch):
    """Before: meta.json's summary was the live one, of every sample taken (here all 40, ls's rate and duration
    from it), while the session held the 20 of its first two segments."""
    real = os.replace

    def replace(source, target):
        if Path(target).name == "part-000003.parquet":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    session, _ = record(tmp_path, seconds=20, hz=2, gpus=1, formats=("parquet",), segment_s=5)
    monkeypatch.undo()
    meta = read_meta(session)
    assert meta["total_samples"] == meta["summary"]["samples"] == read_samples(session).height == 30
    repair_session(session, force=True)  # what the summary of the samples on disk is
    repaired = read_meta(session)["summary"]
    assert {key: meta["summary"][key] for key in repaired} == repaired


def test_a_full_disk_under_the_final_meta_json_leaves_the_first_one_whole(tmp_path, monkeypatch):
    real, calls = json.dump, [0]

    def dump(data, handle, **kwargs):
        if Path(handle.name).name == ".meta.json.tmp":
            calls[0] += 1
            if calls[0] == 2:  # the close's (the first is the start's)
                handle.write('{"format": "rigscope-sess')
                handle.flush()
                raise OSError(errno.ENOSPC, "No space left on device", handle.name)
        real(data, handle, **kwargs)

    monkeypatch.setattr(json, "dump", dump)
    session, recorder = record(tmp_path, seconds=3, hz=10, gpus=1, formats=("parquet",))
    monkeypatch.undo()
    assert recorder.error is not None and "disk full" in recorder.error
    assert read_meta(session)["status"] == "recording"  # the start's, whole: a dead recorder's session to readers
    assert not list(session.glob(".*.tmp"))
    assert "repaired: 30 samples" in repair_session(session, force=True)


def test_the_dashboard_starting_a_recording_on_a_full_disk_says_so_and_goes_on(tmp_path, monkeypatch):
    """Before: the `r` key's toggle raised in its worker thread, which ends the dashboard."""
    from rigscope.live import LiveSource
    from rigscope.monitor import MonitorConfig

    source = LiveSource(MonitorConfig(source="sim", hz=10.0, record=False, directory=str(tmp_path)))
    try:
        monitor = source.monitor
        monkeypatch.setattr(recorder_module, "write_json_atomic", _enospc)
        message = source.toggle_recording()
        assert message.startswith("recording not started: cannot record in") and "disk full" in message
        assert source.monitor is monitor and monitor.session is None and not monitor.sampling_ended
        assert monitor.receiver is not None and monitor.receiver.path is not None  # still takes notes and tags
        assert list(tmp_path.iterdir()) == []
    finally:
        source.close()


def test_a_full_disk_under_events_jsonl_stops_the_recording_and_keeps_the_events_before(tmp_path, monkeypatch):
    real, appended = EventLog.append, [0]

    def append(self, event):
        appended[0] += 1
        if appended[0] == 3:  # half a line reaches the disk
            self._handle.write(json.dumps(event)[:20])
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real(self, event)

    monkeypatch.setattr(EventLog, "append", append)
    session = create_session_dir(tmp_path, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames, RecorderOptions(frozenset({"parquet", "csv"})))
    writer.start()
    for i in range(6):
        note = {"ts": f"2027-01-15T08:00:0{i}Z", "kind": "note", "text": str(i), "source": "cli"}
        frames.offer(Batch({"ts": T0 + i * 100_000, "elapsed_s": i / 10}, events=[note]))
    frames.close()
    writer.join(timeout=30)
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and meta["error"].startswith("recording stopped: disk full in ")
    assert [event["text"] for event in read_events(session / "events.jsonl", warn=False)] == ["0", "1"]
    assert meta["total_samples"] == read_samples(session).height == 2


def test_after_a_failed_write_no_span_line_reaches_the_disk_later(tiny_disk):
    """Before: the spans journal's handle stayed open with the refused rest of a line in its buffer; once room came
    back (the close gives its reserve back) the process's exit wrote it, and repair then found a span meta.json did
    not count."""
    session = create_session_dir(tiny_disk, datetime.datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 0.01)
    writer = SessionWriter(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                           frames)
    writer.start()
    writer.take_span(SPAN)
    filler = tiny_disk / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as handle:
        while True:
            handle.write(bytes(4096))
            handle.flush()
    try:
        for number in range(100):  # until a line finds no room: what fits of it is written, the rest held
            writer.take_span({**SPAN, "span_id": f"s{number}", "note": "x" * 1000})
    except OSError as error:
        writer.write_failed("spans journal", error)
    frames.close()
    writer.join(timeout=30)
    filler.unlink()
    del writer
    gc.collect()  # where the held rest was written, on the room given back
    assert read_meta(session)["summary"]["spans"]["total"] == read_spans(session).height
