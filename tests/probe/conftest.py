"""Probe tests: a free loopback port of their own in RIGSCOPE_PORT, and a probe reset around each test."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from rigscope import probe


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port(monkeypatch) -> Iterator[int]:
    number = free_udp_port()
    monkeypatch.setenv("RIGSCOPE_PORT", str(number))
    probe.reset()
    yield number
    probe.reset()


class Listener:
    """A bare UDP socket on the test's port that collects the events it receives."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
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
def listener(port) -> Iterator[Listener]:
    receiver = Listener(port)
    yield receiver
    receiver.close()
