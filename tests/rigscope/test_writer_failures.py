"""Every writer failure is loud and true: a full disk in any writer stops the recording with one line, marks the
session `interrupted` with why, exits 1, and never leaves the sampler waiting on a dead consumer.

The disk fills by injection (the Parquet write raises what polars raises on ENOSPC) and, where this user may
mount one, on a real 1 MiB tmpfs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from collectors.stream import Batch, LosslessQueue
from recordings.errors import InputError
from recordings.reader import read_samples
from recordings.repair import repair_session
from tests.conftest import REPO
from tests.waiting import wait_sync

ENOSPC_TEXT = "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
# A sped-up simulation of 8 GPUs at 100 Hz with half-second segments: the lossless queues of virtual time.
FAST = ["--source", "sim", "--speed", "max", "--gpus-sim", "8", "--hz", "100", "--segment-interval", "0.5"]
# Runs the command line with the Parquet writes of one table (samples or processes) failing after the first.
INJECTED = """
import sys, polars as pl
real, calls = pl.DataFrame.write_parquet, [0]
def failing(self, file, *args, **kwargs):
    if "/{table}/" in str(file):
        calls[0] += 1
        if calls[0] > 1:
            raise pl.exceptions.ComputeError({text!r})
    return real(self, file, *args, **kwargs)
pl.DataFrame.write_parquet = failing
from rigscope.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli_with_full_disk(table: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    code = INJECTED.format(table=table, text=ENOSPC_TEXT)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def _only_session(root: Path) -> Path:
    (session,) = [p for p in root.iterdir() if (p / "meta.json").is_file()]
    return session


def _assert_stopped_loudly(result: subprocess.CompletedProcess[str], session: Path, what: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert "recording stopped" in line and "disk full" in line and what in line
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "interrupted" and "disk full" in meta["error"]
    assert "session complete" not in result.stderr
    assert not list(session.rglob("*.tmp")) and not (session / ".reserve").exists()
    assert read_samples(session).height > 0  # what was flushed stays readable


@pytest.mark.parametrize("table, what", [("samples", ""), ("processes", "process rows")])
def test_a_full_disk_in_a_segment_landing_stops_record_with_one_line_and_exit_1(tmp_path, table, what):
    """Before: the recorder thread died on the ComputeError, the run hung (lossless queue) or ended `complete`."""
    result = _cli_with_full_disk(table, "record", *FAST, "--duration", "600", "--dir", str(tmp_path))
    _assert_stopped_loudly(result, _only_session(tmp_path), what)


def test_rigscope_run_exits_1_when_its_recording_fails(tmp_path):
    result = _cli_with_full_disk("samples", "run", *FAST, "--baseline", "30s", "--cooldown", "0s",
                                 "--dir", str(tmp_path), "--", sys.executable, "-c", "pass")
    _assert_stopped_loudly(result, _only_session(tmp_path), "")


def test_repair_on_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch):
    result = _cli_with_full_disk("samples", "record", *FAST, "--duration", "600", "--dir", str(tmp_path))
    session = _only_session(tmp_path)
    assert result.returncode == 1 and (session / "samples").is_dir()

    def full(*_args, **_kwargs):
        raise pl.exceptions.ComputeError(ENOSPC_TEXT)

    with monkeypatch.context() as patch:
        patch.setattr(pl.LazyFrame, "sink_parquet", full)
        patch.setattr(pl.DataFrame, "write_parquet", full)
        with pytest.raises(InputError, match="repair stopped: disk full"):
            repair_session(session)
    assert not list(session.rglob("*.tmp")) and (session / "samples").is_dir()
    assert "repaired" in repair_session(session)


def test_a_lossless_queue_never_holds_the_sampler_on_a_consumer_that_gave_up():
    frames = LosslessQueue(1)
    frames.offer(Batch({"ts": 1}))
    offered = threading.Event()
    sampler = threading.Thread(target=lambda: (frames.offer(Batch({"ts": 2})), offered.set()))
    sampler.start()
    assert not offered.wait(0.3)  # the queue is full: the sampler waits for its consumer
    frames.abandon()  # the consumer died
    sampler.join(10)
    assert offered.is_set() and frames.dropped == 1
    frames.offer(Batch({"ts": 3}))
    frames.close()  # neither blocks now
    assert frames.dropped == 3


def test_sigterm_stops_a_record_at_full_speed(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "rigscope", "record", *FAST, "--dir", str(tmp_path)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               )
    try:
        wait_sync(lambda: any(tmp_path.glob("*/samples/part-000002.*")), 60, "a few segments recorded")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and "session complete" in err


def test_the_dashboard_keeps_a_failed_recording_on_screen(tmp_path, monkeypatch):
    from recordings import segments
    from rigscope.live import LiveSource
    from rigscope.monitor import MonitorConfig
    from tui.bars import SessionLabel, header_text
    from tui.feed import Snapshot

    def full(*_args, **_kwargs):
        raise pl.exceptions.ComputeError(ENOSPC_TEXT)

    monkeypatch.setattr(segments, "write_parquet_atomic", full)
    source = LiveSource(MonitorConfig(source="sim", hz=100.0, speed=None, duration_s=60.0, segment_interval_s=0.5,
                                      directory=str(tmp_path), receive_events=False))
    try:
        recorder = source.monitor.recorder
        wait_sync(lambda: recorder.closed.is_set(), 30, "the recorder closed after its failure")
        recording = source.recording()
        assert recording is not None and "disk full" in recording["error"]
        text = header_text(SessionLabel("host", "tier", "s", "LIVE"), Snapshot(0, {}, ()), recording, False, 80)
        assert "✖ recording stopped" in text.plain and "REC" not in text.plain
    finally:
        message = source.close()
    assert "disk full" in message and "saved" not in message


def _mount_tiny_tmpfs(path: Path) -> None:
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mount not allowed here: {done.stderr.decode().strip()}")


def test_a_real_full_disk_record_then_repair(tmp_path):
    disk = tmp_path / "tiny"
    _mount_tiny_tmpfs(disk)
    try:
        root = disk / "runs"
        result = subprocess.run([sys.executable, "-m", "rigscope", "record", *FAST, "--duration", "600",
                                 "--dir", str(root)], capture_output=True, text=True, cwd=REPO, timeout=60,
                                )
        session = _only_session(root)
        _assert_stopped_loudly(result, session, "")
        filler = disk / "filler"
        try:  # take whatever room the close gave back
            with open(filler, "wb") as handle:
                while True:
                    handle.write(bytes(4096))
                    handle.flush()
        except OSError:
            pass
        repair = subprocess.run([sys.executable, "-m", "rigscope", "repair", str(session)], capture_output=True,
                                text=True, cwd=REPO, timeout=60)
        assert repair.returncode == 1 and repair.stderr.count("\n") == 1 and "disk full" in repair.stderr
        assert not list(session.rglob("*.tmp"))
        filler.unlink(missing_ok=True)
        repair = subprocess.run([sys.executable, "-m", "rigscope", "repair", str(session)], capture_output=True,
                                text=True, cwd=REPO, timeout=60)
        assert repair.returncode == 0, repair.stderr
        assert json.loads((session / "meta.json").read_text())["status"] == "interrupted"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected bug
def test_the_dashboard_feed_lets_go_of_the_queues_it_no_longer_reads(monkeypatch):
    """A feed that dies (here: its first frame raises) or moves to a new recording frees the sampler."""
    from tui.feed import DashboardFeed

    def broken(self, frame, events=()):
        raise RuntimeError("a bug in drawing")

    monkeypatch.setattr(DashboardFeed, "_add", broken)  # what its thread does with each frame
    first, second = LosslessQueue(1), LosslessQueue(1)
    feed = DashboardFeed(first, [], 10.0)
    feed.attach(second)
    first.offer(Batch({"ts": 1}))
    first.offer(Batch({"ts": 2}))  # would wait forever for a reader that left
    feed.start()
    second.offer(Batch({"ts": 3}))
    wait_sync(lambda: not feed._thread.is_alive(), 10, "the feed thread ended on its error")
    second.offer(Batch({"ts": 4}))
    second.offer(Batch({"ts": 5}))  # the dead feed's queue drops instead of blocking
    assert first.dropped == 2 and second.dropped == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected bug
def test_the_http_feed_lets_go_of_its_queue_when_its_thread_ends(monkeypatch):
    from rigscope.serve.feed import ExportFeed

    def broken(self, batch):
        raise RuntimeError("a bug in the exporter")

    monkeypatch.setattr(ExportFeed, "take", broken)
    frames = LosslessQueue(1)
    feed = ExportFeed(frames, ["gpu0"], ["cpu", "gpu0"])
    feed.start()
    frames.offer(Batch({"ts": 1}))
    wait_sync(lambda: not feed._thread.is_alive(), 10, "the feed thread ended on its error")
    frames.offer(Batch({"ts": 2}))
    frames.offer(Batch({"ts": 3}))  # would wait forever for the dead feed
    assert frames.dropped == 2


def test_a_full_disk_under_the_spans_journal_stops_the_recording(tmp_path, monkeypatch):
    from collectors.workload_events import WorkloadEvents
    from rigscope.monitor import Monitor, MonitorConfig

    def full(self, batch):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(WorkloadEvents, "_take", full)
    monitor = Monitor(MonitorConfig(source="sim", hz=100.0, speed=None, duration_s=600.0, directory=str(tmp_path),
                                    receive_events=False))
    monitor.start()
    monitor.wait()  # ends at the failure, not after the 600 s
    monitor.stop()
    meta = json.loads((monitor.session / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["error"] == "recording stopped: spans journal not written: disk full"
    assert monitor.stats.elapsed_s < 600


def test_an_import_onto_a_full_disk_says_so_and_leaves_nothing(tmp_path):
    disk = tmp_path / "tiny"
    _mount_tiny_tmpfs(disk)
    try:
        log = tmp_path / "gpu.csv"
        rows = [f"2025/06/01 10:{m:02d}:{s:02d}.000, {g}, {20 + g}, {40 + s % 7}"
                for m in range(20) for s in range(60) for g in range(2)]
        log.write_text("timestamp, index, utilization.gpu [%], temperature.gpu\n" + "\n".join(rows) + "\n")
        filler = disk / "filler"
        with open(filler, "wb") as handle:  # leave about 32 KiB
            handle.write(bytes(1024 * 1024 - 32 * 1024))
        result = subprocess.run([sys.executable, "-m", "rigscope", "import", str(log), "--dir", str(disk / "s")],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "disk full" in result.stderr and "Traceback" not in result.stderr
        assert not (disk / "s").exists() or not any((disk / "s").iterdir())  # no half-written session
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
