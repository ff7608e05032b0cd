"""Fixtures of the fleet tests: loopback node servers and a fake Prometheus, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fleet.servers import FakeFleet, FakePrometheus, NodeServer


@pytest.fixture
def nodes_factory() -> Iterator:
    made: list[NodeServer] = []

    def make(count: int, main: str = "rigscope_8gpu.prom", node_exporter: bool = False) -> NodeServer:
        server = NodeServer(count, {"main": main}, node_exporter)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus(FakeFleet())
    yield server
    server.close()
