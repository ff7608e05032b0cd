"""A monitor's HTTP sink: the one place that reads a monitor to build what `HttpExporter` serves.

`serve_http(monitor, ...)` subscribes an `ExportFeed` to the monitor's frame
stream (the stream's policy makes it lossless on a virtual clock), hands it the
monitor's span statistics, and wraps the rest that the server reads (the
session's identity, folder, status, and where a posted event goes) in a
`MonitorSession`, through the monitor's read methods only.  The server itself
sees only those two (`ServedSession`).  What is read of the monitor is said by
a protocol (`ServedMonitor`, which `rigscope.monitor.Monitor` meets), so nothing
in `rigscope.serve` imports the monitor, not even for the type checker.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Protocol

from collectors.schema import device_prefixes, gpu_prefix
from collectors.span_stats import SpanStatistics
from collectors.stream import EXPORTER, FrameQueue, Sink
from rigscope import __version__
from rigscope.serve.feed import ExportFeed
from rigscope.serve.http_server import HttpExporter
from rigscope.serve.prometheus import ExportLabels, GpuLabel


class SampleRate(Protocol):
    @property
    def hz(self) -> float: ...


class RecordingFacts(Protocol):
    """Where a recording stands (rigscope.monitor.RecordingState), as far as the server says it."""

    @property
    def session(self) -> Path: ...
    @property
    def closed(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


class ServedMonitor(Protocol):
    """What `serve_http` reads of a monitor (rigscope.monitor.Monitor): its read methods, nothing it holds."""

    @property
    def config(self) -> SampleRate: ...
    @property
    def gpus(self) -> list[dict[str, Any]]: ...
    @property
    def gpu_indices(self) -> list[int]: ...
    @property
    def source_name(self) -> str: ...
    @property
    def span_statistics(self) -> SpanStatistics: ...
    def host_facts(self) -> dict[str, Any]: ...
    def recording_state(self) -> RecordingFacts | None: ...
    def offer_event(self, event: dict[str, Any]) -> bool: ...
    def subscribe(self, sink: Sink) -> FrameQueue: ...


class MonitorSession:
    """A `ServedSession` over a monitor, through the monitor's read methods only."""

    def __init__(self, monitor: ServedMonitor) -> None:
        self._monitor = monitor
        self.hz: float = monitor.config.hz

    def labels(self) -> ExportLabels:
        monitor = self._monitor
        host, gpus = monitor.host_facts(), monitor.gpus
        recording = monitor.recording_state()
        return ExportLabels(
            host=str(host.get("hostname") or socket.gethostname()),
            session=recording.session.name if recording is not None else "",
            gpus=tuple(GpuLabel(int(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or ""),
                                str(g.get("driver_version") or "")) for g in gpus),
            devices=tuple(device_prefixes(monitor.gpu_indices)),
            info={"version": __version__, "hardware_tier": str(host["hardware_tier"]),
                  "device_type": str(host["device_type"]), "source": monitor.source_name},
            sample_hz=self.hz,
        )

    def files(self) -> tuple[Path | None, str | None]:
        recording = self._monitor.recording_state()
        if recording is None:
            return None, None
        if not recording.closed:
            return recording.session, "recording"
        return recording.session, "complete" if recording.error is None else "interrupted"

    def post_event(self, event: dict[str, Any]) -> bool:
        return self._monitor.offer_event(event)


def serve_http(monitor: ServedMonitor, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> HttpExporter:
    """The HTTP sink of `monitor`, not started yet."""
    frames = monitor.subscribe(EXPORTER)
    feed = ExportFeed(frames, [gpu_prefix(i) for i in monitor.gpu_indices], device_prefixes(monitor.gpu_indices),
                      monitor.span_statistics)
    return HttpExporter(feed, MonitorSession(monitor), host, port, token)
