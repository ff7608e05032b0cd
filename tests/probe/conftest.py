"""Probe tests: a fresh runtime directory of their own (only their recorders are found there), and a
probe reset around each test."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rigscope import probe
from rigscope.local_channel import new_socket_path
from rigscope.monitor import Monitor, MonitorConfig


@pytest.fixture
def runtime(monkeypatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rs-"))  # short: a Unix socket's path has at most 107 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    for name in ("RIGSCOPE_SESSION", "RIGSCOPE_PROBE_UDP", "RIGSCOPE_TOKEN", "RIGSCOPE_PROBE"):
        monkeypatch.delenv(name, raising=False)
    probe.reset()
    yield path
    probe.reset()
    shutil.rmtree(path, ignore_errors=True)


class Listener:
    """A bare socket where a recorder of this user would listen, collecting the events it receives."""

    def __init__(self, name: str = "20200101-000000-listener") -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(new_socket_path(name))
        self.sock.settimeout(0.05)
        self.events: list[dict] = []

    def collect(self, count: int, timeout_s: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            probe.flush()
            try:
                payload = self.sock.recv(70_000)
            except TimeoutError:
                continue
            self.events.extend(json.loads(line) for line in payload.split(b"\n") if line)
        return self.events

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(runtime) -> Iterator[Listener]:
    receiver = Listener()
    yield receiver
    receiver.close()


@pytest.fixture
def monitor(tmp_path, runtime):
    """A simulated recorder at 20 Hz in real time, its session under tmp_path, listening in `runtime`."""
    running = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path)))
    running.start()
    yield running
    running.stop()
