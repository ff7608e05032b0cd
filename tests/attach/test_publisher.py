"""The attach publisher on its own: one encoding per batch for any number of viewers, stuck and hostile
viewers dropped without hurting the others, another uid refused."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collectors.stream import Batch, FrameStream, StreamPolicy
from rigscope.serve import attach as attach_module
from rigscope.serve.attach import ATTACH, AttachPublisher
from tests.waiting import wait_sync


class FakeSession:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.stops = 0

    def hello(self) -> dict[str, Any]:
        return {"session": "s1", "folder": None, "hz": 10.0, "host": {"hostname": "h"}, "gpus": []}

    def state(self) -> dict[str, Any]:
        return {"recording": None, "processes": None}

    def notices(self) -> list[str]:
        return []

    def post_event(self, event: dict[str, Any]) -> bool:
        self.posted.append(event)
        return True

    def request_stop(self) -> None:
        self.stops += 1


@pytest.fixture
def served(tmp_path: Path):
    stream = FrameStream(StreamPolicy(10.0))
    said: list[str] = []
    session = FakeSession()
    publisher = AttachPublisher(stream.subscribe(ATTACH), session, str(tmp_path / "s1.attach"), 10.0, said.append,
                                max_pending=256 * 1024, stall_s=60.0)
    publisher.start()
    yield stream, publisher, session, said
    stream.close()
    publisher.join(5.0)


def connect(path: str) -> socket.socket:
    """A viewer: connected, and asked to attach."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(10.0)
    sock.sendall(b'{"t": "attach", "version": 2}\n')
    return sock


def next_batch(sock: socket.socket) -> dict[str, Any]:
    """The next batch message (hello and state lines skipped)."""
    reader = sock.makefile("rb")
    while (message := json.loads(reader.readline()))["t"] != "batch":
        pass
    return message


def test_socket_is_the_users_only(served) -> None:
    _, publisher, _, _ = served
    assert stat.S_IMODE(os.stat(publisher.path).st_mode) == 0o600


def test_one_encoding_per_batch_whatever_the_number_of_viewers(served, monkeypatch) -> None:
    stream, publisher, _, _ = served
    calls = []
    real = attach_module.protocol.encode_batch
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: calls.append(1) or real(*a))
    viewers = [connect(publisher.path) for _ in range(4)]
    wait_sync(lambda: len(publisher.viewers) == 4, what="4 viewers attached")
    for i in range(20):
        stream.publish(Batch({"elapsed_s": i / 10, "gpu0_util_pct": float(i)}))
    for viewer in viewers:
        reader = viewer.makefile("rb")
        frames = []
        while len(frames) < 20:
            message = json.loads(reader.readline())
            if message["t"] == "batch":
                frames.append(message["frame"]["gpu0_util_pct"])
        assert frames == [float(i) for i in range(20)]
    assert len(calls) == 20  # not 80


def test_a_viewer_that_never_reads_is_dropped_and_the_others_go_on(served) -> None:
    stream, publisher, _, said = served
    stuck = connect(publisher.path)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reading = connect(publisher.path)
    wait_sync(lambda: len(publisher.viewers) == 2, what="2 viewers attached")
    reader = reading.makefile("rb")
    big = "x" * 20_000
    received = 0
    for chunk in range(25):  # 4 MB: far past the stuck one's 256 KiB and its socket's buffers
        for i in range(8):  # 160 KB at once: within what the reading one may have waiting
            started = time.monotonic()
            stream.publish(Batch({"elapsed_s": chunk + i / 10, "blob": big}))
            assert time.monotonic() - started < 0.05  # the source never waits for a viewer
        while received < 8 * (chunk + 1):
            if json.loads(reader.readline())["t"] == "batch":
                received += 1
    wait_sync(lambda: publisher.dropped == 1, what="the stuck viewer dropped")
    assert len(publisher.viewers) == 1 and received == 200
    assert any("stopped reading" in line for line in said)
    stuck.close()


def test_hostile_viewers_do_not_hurt_the_recorder(served) -> None:
    stream, publisher, session, _ = served
    garbage = connect(publisher.path)
    garbage.sendall(b"\x00\xff{not json\n" + b'{"t": "event", "event": {"kind": "note"}}\n'
                    + b'{"t": "event", "event": {"kind": "span_start", "span_id": "a", "name": "b"}}\n'
                    + b'[1, 2]\n{"t": 5}\n')
    half = connect(publisher.path)
    half.sendall(b'{"t": "event", "event": {"kind": "note", "te')
    half.close()
    flood = connect(publisher.path)
    try:
        flood.sendall(b"a" * (200 * 1024))  # one line over 64 KiB: refused, the viewer dropped
    except OSError:
        pass
    wait_sync(lambda: publisher.rejected >= 6 and publisher.dropped >= 1, what="the bad lines refused and counted")
    good = connect(publisher.path)
    good.sendall(b'{"t": "event", "event": {"ts": "2026-01-01T00:00:00Z", "kind": "note", "text": "ok"}}\n')
    wait_sync(lambda: session.posted, what="the valid note taken")
    assert session.posted == [{"ts": "2026-01-01T00:00:00Z", "kind": "note", "text": "ok"}]
    stream.publish(Batch({"elapsed_s": 1.0}))
    assert next_batch(good) == {"t": "batch", "frame": {"elapsed_s": 1.0}, "events": [], "spans": [],
                                "processes": None}
    assert publisher._thread.is_alive()


def test_stop_message_asks_the_recorder_to_stop(served) -> None:
    _, publisher, session, said = served
    viewer = connect(publisher.path)
    viewer.sendall(b'{"t": "stop"}\n')
    wait_sync(lambda: session.stops == 1, what="the stop request")
    assert any("stopped the recording" in line for line in said)


def as_nobody(attempt: Callable[[], int]) -> int:
    """`attempt`'s code, run in a child as uid and gid 65534 (root only); 1 when it raised."""
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            code = attempt()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another uid needs root (os.setuid in a child)")
def test_another_uid_is_refused_even_when_the_socket_is_opened_by_mistake(tmp_path: Path) -> None:
    folder = tempfile.mkdtemp(prefix="attach-open-")  # in the temp directory: another uid can reach it
    os.chmod(folder, 0o755)
    stream = FrameStream(StreamPolicy(10.0))
    publisher = AttachPublisher(stream.subscribe(ATTACH), FakeSession(), os.path.join(folder, "s.attach"), 10.0)
    publisher.start()
    os.chmod(publisher.path, 0o666)  # a socket opened up by mistake: SO_PEERCRED still refuses
    def connect_and_read() -> int:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)
        try:
            sock.connect(publisher.path)
        except OSError:
            return 2  # could not even connect: the test would prove nothing
        try:
            return 0 if sock.recv(100) == b"" else 3  # closed at once: no hello, no frames
        except ConnectionResetError:
            return 0

    code = as_nobody(connect_and_read)
    stream.close()
    publisher.join(5.0)
    shutil.rmtree(folder, ignore_errors=True)
    assert code == 0
    assert publisher.refused_uid == 1 and publisher.attached == 0


def test_nothing_is_encoded_without_viewers_and_a_newcomer_gets_the_recent_batches(served, monkeypatch) -> None:
    stream, publisher, _, _ = served
    calls = []
    real = attach_module.protocol.encode_batch
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: calls.append(1) or real(*a))
    for i in range(5):
        stream.publish(Batch({"elapsed_s": i / 10}))
    wait_sync(lambda: len(publisher._recent) == 5, what="the batches taken")
    assert calls == []
    viewer = connect(publisher.path)
    assert [next_batch(viewer)["frame"]["elapsed_s"] for _ in range(1)] == [0.0]


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another uid needs root (os.setuid in a child)")
def test_another_uid_cannot_reach_the_socket_in_the_users_runtime_directory() -> None:
    from rigscope.local_channel import ATTACH_SUFFIX, new_socket_path

    stream = FrameStream(StreamPolicy(10.0))
    publisher = AttachPublisher(stream.subscribe(ATTACH), FakeSession(), new_socket_path("s2", ATTACH_SUFFIX), 10.0)
    publisher.start()
    def connect() -> int:
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(publisher.path)
            return 3  # connected: the directory and the socket were open to it
        except PermissionError:
            return 0
        except OSError:
            return 2

    code = as_nobody(connect)
    stream.close()
    publisher.join(5.0)
    assert code == 0
    assert publisher.attached == 0 and publisher.refused_uid == 0  # refused by the kernel, before us


def test_a_failing_publisher_says_so_and_never_holds_the_source(tmp_path: Path, monkeypatch) -> None:
    from collectors.clock import VirtualClock

    stream = FrameStream(StreamPolicy.for_clock(VirtualClock(), 10.0))  # lossless: a dead reader could hold it
    said: list[str] = []
    publisher = AttachPublisher(stream.subscribe(ATTACH), FakeSession(), str(tmp_path / "f.attach"), 10.0, said.append)
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: 1 / 0)
    publisher.start()
    viewer = connect(publisher.path)
    wait_sync(lambda: publisher.viewers, what="the viewer attached")
    for i in range(500):  # more than the lossless queue holds
        stream.publish(Batch({"elapsed_s": i / 10}))
    stream.close()
    publisher.join(5.0)
    assert any("attach socket failed" in line for line in said)
    assert not os.path.exists(publisher.path)
    viewer.close()


def test_on_virtual_time_a_fast_simulations_batches_fit_between_two_looks_of_the_publisher():
    """On virtual time every queue is lossless and the publisher looks every 0.1 s: a queue of 100 held
    `record --speed max` to a thousand batches a second (600 simulated seconds at 10 Hz took 6.9 s, 1.4 s now)."""
    import threading

    from collectors.clock import VirtualClock
    from collectors.stream import LosslessQueue

    stream = FrameStream(StreamPolicy.for_clock(VirtualClock(), 10.0))
    assert type(stream.subscribe(ATTACH)) is LosslessQueue  # a viewer of a simulation still gets every batch
    publishing = threading.Thread(target=lambda: [stream.publish(Batch({"ts": n}, ())) for n in range(900)],
                                  daemon=True)
    publishing.start()
    publishing.join(10)  # nobody takes any: 900 batches, a tenth of a second at 9,000 a second, must fit
    assert not publishing.is_alive()
