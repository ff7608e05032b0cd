"""Probe events reaching a running monitor: several processes, a late monitor, bad datagrams, floods, a taken UDP port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import polars as pl
import pytest

import rigscope
from collectors.receiver import EventReceiver, TokenBucket
from collectors.wire import MAX_DATAGRAM
from recordings.events import read_events
from rigscope import probe
from rigscope.local_channel import new_socket_path
from rigscope.monitor import Monitor, MonitorConfig
from tests.conftest import REPO

WORKLOAD = """
import os, sys, time, rigscope
for i in range(int(sys.argv[1])):
    with rigscope.span("synthesis", request_id=f"{os.getpid()}-{i}", tokens=100, audio_s=2.0):
        time.sleep(0.01)
    rigscope.metric("grad_norm", float(i), step=i)
"""


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def monitor(tmp_path, runtime):
    running = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path),
                                    formats=frozenset({"parquet", "csv"})))
    running.start()
    yield running
    running.stop()


def session_meta(monitor) -> dict:
    return json.loads((monitor.session / "meta.json").read_text())


def test_spans_from_two_processes_at_once(monitor, runtime):
    path = session_meta(monitor)["monitoring"]["event_socket"]
    assert path == monitor.event_stats()["socket"] and path.startswith(str(runtime / "rigscope" / f"{monitor.session.name}."))
    workers = [subprocess.Popen([sys.executable, "-c", WORKLOAD, "15"], cwd=REPO) for _ in range(2)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    assert wait_for(lambda: monitor.span_statistics.summary()["total"] == 30)
    assert len(monitor.metrics.series("grad_norm")) == 30
    recent = monitor.span_statistics.recent(5)
    assert len(recent) == 5 and all(row["samples"] >= 1 for row in recent)
    monitor.stop()
    session = monitor.session
    spans = pl.read_parquet(session / "spans.parquet")
    assert spans.height == 30 and pl.read_csv(session / "spans.csv").height == 30
    pids = {span_id.split("-")[0] for span_id in spans["span_id"]}
    assert pids == {str(w.pid) for w in workers}
    assert spans["success"].all() and spans["peak_memory_mb"].is_not_null().all()
    assert (spans["rtf"] - spans["total_duration_s"] / 2.0).abs().max() < 1e-9
    assert spans["energy_j"].is_not_null().all() and spans["start_time"].dtype == pl.Datetime("us", "UTC")
    events = read_events(session / "events.jsonl")
    assert sum(e["kind"] == "span_start" for e in events) == 30 and sum(e["kind"] == "metric" for e in events) == 30
    summary = session_meta(monitor)["summary"]["spans"]
    assert summary["total"] == 30 and summary["successful"] == 30 and summary["success_rate"] == 1.0
    for key in ("failed", "avg_duration_s", "avg_rtf", "avg_tokens_per_sec", "avg_peak_memory_mb"):
        assert key in summary
    assert not (session / "spans.journal").exists()


def test_a_failing_span_reaches_the_table(monitor):
    with pytest.raises(RuntimeError):
        with rigscope.span("synthesis", request_id="bad"):
            raise RuntimeError("model not loaded")
    probe.flush()
    assert wait_for(lambda: monitor.span_statistics.summary()["total"] == 1)
    (row,) = monitor.span_statistics.recent()
    assert row["success"] is False and row["error_message"] == "RuntimeError: model not loaded"


def test_a_monitor_that_starts_late(tmp_path, runtime):
    for step in range(10):
        rigscope.metric("loss", 1.0, step=step)
    probe.flush()
    assert probe.dropped() == 10  # nothing raised: dropped and counted
    late = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path)))
    late.start()
    try:
        for step in range(10, 20):
            rigscope.metric("loss", 2.0, step=step)
        probe.flush()
        assert wait_for(lambda: len(late.metrics.series("loss")) == 10)
        assert [p[2] for p in late.metrics.series("loss")] == list(range(10, 20))
        assert probe.dropped() == 10
    finally:
        late.stop()


def send(path: str, payload: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, path)


def test_bad_datagrams_are_counted_and_ignored(monitor):
    path = monitor.event_stats()["socket"]
    bad = [
        b"not json", b"\xff\xfe", b"[1, 2]", b'{"kind": "explode"}', b'{"text": "no kind"}',
        b'{"kind": "tag"}', b'{"kind": "span_end", "name": "x"}', b'{"kind": "metric", "name": "m", "value": "high"}',
        b'{"kind": "note", "text": "x", "ts": "yesterday"}',
    ]
    for payload in bad:
        send(path, payload)
    send(path, b'{"kind": "note", "text": "' + b"x" * 65_000 + b'"')  # cut JSON
    send(path, b'{"kind": "note", "text": "' + b"x" * MAX_DATAGRAM + b'"}')  # over 64 KiB
    send(path, b'{"kind": "note", "text": "still up"}\n{"kind": "metric", "name": "m", "value": 1, "ts": 1800000000.5}')
    receiver = monitor.receiver
    assert wait_for(lambda: receiver.received == 2)
    assert receiver.rejected == len(bad) + 2 and receiver.oversized == 1
    monitor.stop()
    events = read_events(monitor.session / "events.jsonl")
    assert [e.get("text") for e in events if e["kind"] == "note"] == ["still up"]
    (metric,) = [e for e in events if e["kind"] == "metric"]
    assert metric["ts"] == "2027-01-15T08:00:00.500000Z"


def test_floods_are_rate_limited_and_counted(runtime):
    taken = []
    notices = []
    receiver = EventReceiver(taken.append, limiter=TokenBucket(rate=200.0, burst=100.0), on_notice=notices.append)
    receiver.listen_local(new_socket_path("flood"))
    receiver.start()
    try:
        line = b'{"kind": "metric", "name": "m", "value": 1}'
        started = time.monotonic()
        for _ in range(50):
            send(receiver.path, b"\n".join([line] * 100))  # 5,000 events in a burst
        assert wait_for(lambda: receiver.received + receiver.rate_limited == 5000)
        elapsed = time.monotonic() - started
        assert 100 <= receiver.received <= 100 + 200 * elapsed + 1
        assert receiver.rate_limited == 5000 - receiver.received and len(taken) == receiver.received
        assert len(notices) == 1 and "flood" in notices[0]
        assert receiver.stats()["rate_limited"] == receiver.rate_limited
    finally:
        receiver.close()


def test_token_bucket():
    now = [0.0]
    bucket = TokenBucket(rate=10.0, burst=5.0, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(20)) == 5
    now[0] = 0.5
    assert sum(bucket.take() for _ in range(20)) == 5  # refilled to the burst, not beyond
    now[0] = 0.75
    assert sum(bucket.take() for _ in range(20)) == 2


def test_a_taken_udp_port_is_one_clear_error(tmp_path, runtime):
    from recordings.errors import InputError

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        with pytest.raises(InputError, match=f"--probe-udp: cannot take port {taken}"):
            Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path), probe_udp=taken))
    assert not list(tmp_path.iterdir())  # no session was started


def test_closing_takes_the_events_already_queued_and_then_refuses_new_ones(runtime):
    """A datagram the kernel accepted is one its sender counts as sent: a closing recorder takes it. Then the
    socket's name is gone, so a later sender fails (and keeps its event for the next recorder)."""
    taken = []
    receiver = EventReceiver(taken.append)
    receiver.listen_local(new_socket_path("closing"))  # the thread never runs: everything waits in the queue
    path = receiver.path
    for i in range(8):  # fewer than the kernel queues for a socket nobody reads (net.unix.max_dgram_qlen, 10 at least)
        send(path, json.dumps({"kind": "metric", "name": "m", "value": float(i), "step": i}).encode())
    receiver.close()
    receiver.close()  # a second close does nothing
    assert [event["step"] for event in taken] == list(range(8))
    with pytest.raises(OSError):
        send(path, b'{"kind": "metric", "name": "m", "value": 1}')


@pytest.fixture
def late_reading_receiver(monkeypatch):
    """The receiver's thread reads nothing until its close begins, as a busy one might not have."""
    import threading

    closing = threading.Event()
    read, close = EventReceiver._read_local, EventReceiver.close

    def late_read(self, sock):
        closing.wait(10)
        read(self, sock)

    def announced_close(self):
        closing.set()
        close(self)

    monkeypatch.setattr(EventReceiver, "_read_local", late_read)
    monkeypatch.setattr(EventReceiver, "close", announced_close)


def _send_eight(monitor: Monitor) -> str:
    path = monitor.event_stats()["socket"]
    for i in range(8):
        send(path, json.dumps({"kind": "metric", "name": "last", "value": float(i), "step": i}).encode())
    return path


def _recorded_eight(monitor: Monitor) -> None:
    steps = [e["step"] for e in read_events(monitor.session / "events.jsonl") if e.get("name") == "last"]
    assert steps == list(range(8))
    assert monitor.event_stats()["received"] == 8


def test_events_sent_until_the_recorder_stops_are_in_its_session(tmp_path, runtime, late_reading_receiver):
    """The receiver closes before the stream ends: what it took is recorded, not lost between the two."""
    monitor = Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path)))
    monitor.start()
    _send_eight(monitor)
    monitor.stop()
    _recorded_eight(monitor)


def test_events_sent_until_the_duration_ends_are_in_its_session_and_later_ones_refused(tmp_path, runtime,
                                                                                      late_reading_receiver):
    """A session that ends by its --duration closes the receiver in the sampler's own thread before the
    stream's end: what the receiver took is recorded, and a sender after the end fails instead of being
    told its event was sent."""
    monitor = Monitor(MonitorConfig(source="sim", hz=20, duration_s=1.0, directory=str(tmp_path)))
    monitor.start()
    path = _send_eight(monitor)
    monitor.wait()
    with pytest.raises(OSError):
        send(path, b'{"kind": "metric", "name": "after", "value": 1}')
    monitor.stop()
    _recorded_eight(monitor)


def test_no_receiver_opens_again_between_the_samplers_end_and_its_stream_closing(tmp_path, runtime):
    """`r` on a full disk reopens the receiver of the session it could not replace; asked in the moment after the
    sampler closed the receiver and before it was done, that opened a socket whose events nothing recorded."""
    monitor = Monitor(MonitorConfig(source="sim", hz=20, duration_s=0.5, directory=str(tmp_path)))
    end = monitor.sampler.on_end
    reopened = []

    def end_then_reopen():
        end()
        monitor.reopen_receiver()  # in the window: the sampler has not finished yet
        reopened.append(monitor.receiver)

    monitor.sampler.on_end = end_then_reopen
    monitor.start()
    monitor.wait()
    monitor.stop()
    assert reopened == [None]
