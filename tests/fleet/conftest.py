"""Fixtures of the fleet tests: loopback node servers, a fake Prometheus and raw-bytes servers, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fleet.servers import Answer, FakeFleet, FakePrometheus, NodeServer, RawServer


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


@pytest.fixture
def raw() -> Iterator[Callable[[Answer], RawServer]]:
    made: list[RawServer] = []

    def make(answer: Answer) -> RawServer:
        made.append(RawServer(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()
