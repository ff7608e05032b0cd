"""Slow and half-open clients (slowloris) against `--http`: the recording goes on, they are cut, /healthz answers."""

from __future__ import annotations

import json
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rigscope.serve import http_loop
from tests.conftest import REPO
from tests.http.conftest import request, serving, wait_for

HALF_OPEN = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # a request head that never ends


def _half_open(port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(HALF_OPEN)
        clients.append(client)
    return clients


def _cut(client: socket.socket) -> bool:
    """True once the server closed this connection (EOF or reset), False while it is held."""
    client.setblocking(False)
    try:
        return client.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _close_all(clients: list[socket.socket]) -> None:
    for client in clients:
        client.close()


def _low_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256 if hard == resource.RLIM_INFINITY else min(256, hard), hard))


def test_hundreds_of_half_open_connections_leave_the_recording_running(tmp_path: Path):
    """A recorder limited to 256 file descriptors, 400 half-open connections: sampling goes on, all are cut."""
    command = [sys.executable, "-m", "rigscope", "record", "--source", "sim", "--hz", "20", "--duration", "60s",
               "--http", "127.0.0.1:0", "--dir", str(tmp_path)]
    recorder = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=_low_fd_limit)
    clients: list[socket.socket] = []
    try:
        assert recorder.stderr is not None
        line = ""
        while "serving http://" not in line:
            line = recorder.stderr.readline().decode()
            assert line, "the recorder ended before serving"
        port = int(re.search(r"serving http://127\.0\.0\.1:(\d+)", line).group(1))
        clients = _half_open(port, 400)
        wait_for(lambda: all(_cut(client) for client in clients), timeout=15)  # the slow clients are dropped
        health = json.loads(request(port, "GET", "/healthz")[2])
        assert health["status"] == "ok" and health["http"]["refused"] > 0 and health["http"]["timed_out"] > 0
        samples = health["samples"]
        wait_for(lambda: json.loads(request(port, "GET", "/healthz")[2])["samples"] > samples + 5)
    finally:
        _close_all(clients)
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, err
    assert b"Traceback" not in err and b"recording stopped" not in err and b"failed" not in err, err
    (session,) = [p for p in tmp_path.iterdir() if (p / "meta.json").is_file()]
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "complete" and not meta.get("notices")


def test_idle_and_slow_clients_are_cut_after_the_read_timeout(tmp_path: Path):
    with serving(tmp_path) as monitor:
        port = monitor.http.port
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # sends nothing
        dribble = _half_open(port, 1)[0]  # a byte now and then, never the end of its head
        try:
            started = time.monotonic()
            while not _cut(dribble):
                assert time.monotonic() - started < 10, "a dribbling client is held past the header timeout"
                dribble.setblocking(True)
                try:
                    dribble.sendall(b"a")
                except OSError:
                    break
                time.sleep(0.2)
            wait_for(lambda: _cut(idle), timeout=10)
            assert monitor.http.server.timed_out >= 2
            status, _, body = request(port, "GET", "/healthz")
            assert status == 200 and json.loads(body)["status"] == "ok"
        finally:
            _close_all([idle, dribble])


def test_past_the_cap_a_new_connection_replaces_the_oldest_waiting_one(tmp_path: Path):
    with serving(tmp_path) as monitor:
        server = monitor.http.server
        server.max_connections = 5
        port = monitor.http.port
        held = _half_open(port, 5)
        try:
            wait_for(lambda: server.open_connections == 5)
            held += _half_open(port, 3)
            wait_for(lambda: all(_cut(client) for client in held[:3]), timeout=5)  # closed for the cap, oldest first
            assert not any(_cut(client) for client in held[3:]) and server.refused == 3
            status, _, body = request(port, "GET", "/healthz")  # a client that sends its request at once is served
            assert status == 200 and json.loads(body)["status"] == "ok"
            wait_for(lambda: _cut(held[3]), timeout=5)
            assert server.refused == 4
        finally:
            _close_all(held)
        wait_for(lambda: server.open_connections == 0)
        status, _, body = request(port, "GET", "/healthz")
        assert status == 200 and json.loads(body)["http"]["refused"] == 4


def _read_replies(client: socket.socket, count: int) -> list[bytes]:
    """`count` whole replies (each with a Content-Length) read off one connection."""
    data, replies = b"", []
    while len(replies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            length = int(re.search(rb"Content-Length: (\d+)", data[:head_end]).group(1))
            end = head_end + 4 + length
            if len(data) >= end:
                replies.append(data[:end])
                data = data[end:]
                continue
        chunk = client.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    return replies


def test_pipelined_and_kept_alive_requests_are_answered_in_order(tmp_path: Path):
    with serving(tmp_path) as monitor, socket.create_connection(("127.0.0.1", monitor.http.port), timeout=10) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first, second = _read_replies(client, 2)
        assert first.startswith(b"HTTP/1.1 200") or first.startswith(b"HTTP/1.1 503")
        assert second.startswith(b"HTTP/1.1 404")  # and then closed, as an error reply says
        assert client.recv(10) == b""


def test_a_post_that_waits_for_100_continue_gets_it(tmp_path: Path):
    body = json.dumps({"kind": "note", "text": "hello"}).encode()
    with serving(tmp_path) as monitor, socket.create_connection(("127.0.0.1", monitor.http.port), timeout=10) as client:
        client.sendall(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nAuthorization: Bearer %s\r\n"
                       b"Content-Length: %d\r\n\r\n" % (monitor.session_token.encode(), len(body)))
        assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(body)
        (reply,) = _read_replies(client, 1)
        assert reply.startswith(b"HTTP/1.1 202"), reply
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # the connection is kept
        assert _read_replies(client, 1)[0].startswith(b"HTTP/1.1 200")


def test_a_request_head_past_64_kib_is_431(tmp_path: Path):
    with serving(tmp_path) as monitor, socket.create_connection(("127.0.0.1", monitor.http.port), timeout=10) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 70_000)
        assert client.recv(100).startswith(b"HTTP/1.1 431")


def test_a_client_that_never_reads_its_replies_is_cut_after_the_write_timeout(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(http_loop, "WRITE_TIMEOUT_S", 0.5)
    with serving(tmp_path) as monitor, socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", monitor.http.port))
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 1000)  # replies pile up, never read
        wait_for(lambda: monitor.http.server.timed_out >= 1, timeout=20)
        status, _, body = request(monitor.http.port, "GET", "/healthz")  # no worker is left stuck
        assert status == 200 and json.loads(body)["http"]["timed_out"] >= 1
