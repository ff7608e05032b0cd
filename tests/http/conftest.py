"""Helpers for the HTTP endpoint tests: a monitor serving on an ephemeral loopback port, raw requests."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collectors.stream import END, Batch, LosslessQueue
from rigscope.monitor import Monitor, MonitorConfig
from tests.waiting import no_threads_left, wait_sync  # noqa: F401 (fixtures and helpers the tests use)


class Tap:
    """Every batch the sampler sent, from an unbounded lossless subscription (virtual time)."""

    def __init__(self, monitor: Monitor) -> None:
        self.queue = monitor.sampler.attach(LosslessQueue(0))

    def drain(self) -> list[Batch]:
        batches = []
        while (batch := self.queue.get(timeout=0)) is not None and batch is not END:
            batches.append(batch)
        return batches


@contextmanager
def serving(directory: Path, tap: bool = False, **config: Any) -> Iterator[Monitor]:
    """A started monitor with `--http 127.0.0.1:0` (the simulated box unless told otherwise); stopped after.

    With `tap`, `monitor.tap` is a `Tap` subscribed before the first tick."""
    settings: dict[str, Any] = {"source": "sim", "hz": 10.0, "duration_s": 60.0, "http": ("127.0.0.1", 0),
                                "directory": str(directory)}
    settings.update(config)
    monitor = Monitor(MonitorConfig(**settings))
    if tap:
        monitor.tap = Tap(monitor)  # type: ignore[attr-defined]
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.request_stop()
        monitor.stop()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request, sent as written (no path normalisation); status, headers and body, 4xx/5xx included."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def get_json(port: int, path: str) -> Any:
    status, _, body = request(port, "GET", path)
    assert status == 200, body
    return json.loads(body)


def raw_request(port: int, data: bytes) -> bytes:
    """Bytes on the wire, for requests http.client refuses to send; the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def scrape(port: int) -> dict[str, Any]:
    """GET /metrics parsed by prometheus_client's parser: {family name: family}."""
    status, headers, body = request(port, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def page_with_a_span(directory: Path) -> str:
    """GET /metrics of the simulated box (2 GPUs) once a posted span has ended: every family has series."""
    with serving(directory, gpus_sim=2, hz=10.0, duration_s=60.0) as monitor:
        port, token = monitor.http.port, monitor.http.token
        start = datetime.now(UTC)
        for kind, moment in (("span_start", start), ("span_end", start + timedelta(seconds=0.2))):
            event = {"kind": kind, "span_id": "s1", "name": "tts", "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            status, _, body = request(port, "POST", "/events", json.dumps(event).encode(),
                                      {"Authorization": f"Bearer {token}"})
            assert status == 202, body
        wait_for(lambda: monitor.http.feed.snapshot().span_totals.count == 1, what="the span to reach the exporter")
        status, _, body = request(port, "GET", "/metrics")
    assert status == 200
    return body.decode()


def samples_of(families: dict[str, Any], name: str, sample: str | None = None) -> dict[tuple, float]:
    """{sorted label items: value} of the samples called `sample` (default: the family name) of family `name`."""
    family = families[name]
    wanted = sample or name
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == wanted}


def one(families: dict[str, Any], name: str, sample: str | None = None, /, **labels: str) -> float:
    """The value of the one sample whose labels include `labels`."""
    matches = [value for key, value in samples_of(families, name, sample).items()
               if all((k, v) in key for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


wait_for = wait_sync
