"""A monitor's serving sinks: the one place that reads a monitor to build what `HttpExporter` and the attach
publisher serve.

`serve_http(monitor, ...)` subscribes an `ExportFeed` to the monitor's frame
stream (the stream's policy makes it lossless on a virtual clock), hands it the
monitor's span statistics, and wraps the rest that the server reads (the
session's identity, folder, status, and where a posted event goes) in a
`MonitorSession`, through the monitor's read methods only.  The server itself
sees only those two (`ServedSession`).  What is read of the monitor is said by
a protocol (`ServedMonitor`, which `rigscope.monitor.Monitor` meets), so nothing
in `rigscope.serve` imports the monitor, not even for the type checker.
`serve_attach` does the same for the attach publisher (`MonitorAttach`: what viewers
are told and where what they send goes).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from collectors.notices import NoticeSink
from collectors.sampler import SamplerStats
from collectors.schema import device_prefixes, gpu_prefix
from collectors.span_stats import SpanStatistics
from collectors.stream import EXPORTER, FrameQueue, Sink
from collectors.wire import encodable
from rigscope import __version__
from rigscope.local_channel import ATTACH_SUFFIX, new_socket_path
from rigscope.serve.attach import ATTACH, AttachPublisher
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
    @property
    def samples(self) -> int: ...
    @property
    def bytes_written(self) -> int: ...
    @property
    def last_flush_wall(self) -> float | None: ...


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
    def refuse_event(self) -> None: ...
    def subscribe(self, sink: Sink) -> FrameQueue: ...


class MonitorSession:
    """A `ServedSession` over a monitor, through the monitor's read methods only."""

    def __init__(self, monitor: ServedMonitor) -> None:
        self._monitor = monitor
        self.hz: float = monitor.config.hz

    def labels(self) -> ExportLabels:
        """Every text as UTF-8 can hold it: a host name that is not UTF-8 comes with lone surrogates."""
        monitor = self._monitor
        host, gpus = monitor.host_facts(), monitor.gpus
        recording = monitor.recording_state()
        return ExportLabels(
            host=_text(host.get("hostname") or socket.gethostname()),
            session=_text(recording.session.name) if recording is not None else "",
            gpus=tuple(GpuLabel(int(g["index"]), _text(g.get("uuid") or ""), _text(g.get("name") or ""),
                                _text(g.get("driver_version") or "")) for g in gpus),
            devices=tuple(device_prefixes(monitor.gpu_indices)),
            info={"version": __version__, "hardware_tier": _text(host["hardware_tier"]),
                  "device_type": _text(host["device_type"]), "source": _text(monitor.source_name)},
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

    def refuse_event(self) -> None:
        self._monitor.refuse_event()


def _text(value: Any) -> str:
    return encodable(str(value))


def serve_http(monitor: ServedMonitor, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> HttpExporter:
    """The HTTP sink of `monitor`, not started yet."""
    frames = monitor.subscribe(EXPORTER)
    feed = ExportFeed(frames, [gpu_prefix(i) for i in monitor.gpu_indices], device_prefixes(monitor.gpu_indices),
                      monitor.span_statistics)
    return HttpExporter(feed, MonitorSession(monitor), host, port, token)


class AttachedMonitor(ServedMonitor, Protocol):
    """What `serve_attach` reads of a monitor besides what `serve_http` reads."""

    @property
    def notices(self) -> NoticeSink: ...
    @property
    def stats(self) -> SamplerStats: ...
    def workload_state(self) -> tuple[str | None, str | None]: ...
    def request_stop(self) -> None: ...


class MonitorAttach(MonitorSession):
    """An `AttachedSession` (rigscope.serve.attach) over a monitor: what viewers are told, where they post."""

    def __init__(self, monitor: AttachedMonitor, session: Path) -> None:
        super().__init__(monitor)
        self._attached, self._session = monitor, session
        self._told = 0  # notices handed to viewers so far

    def hello(self) -> dict[str, Any]:
        monitor, session = self._attached, self._session
        return {"session": session.name, "folder": str(session),
                "hz": self.hz, "pid": os.getpid(), "host": monitor.host_facts(), "gpus": monitor.gpus,
                "source": monitor.source_name}

    def state(self) -> dict[str, Any]:
        monitor = self._attached
        recording = monitor.recording_state()
        state, origin = monitor.workload_state()
        return {
            "recording": None if recording is None else {
                "session": recording.session.name, "samples": recording.samples, "bytes": recording.bytes_written,
                "last_flush_wall": recording.last_flush_wall, "achieved_hz": monitor.stats.achieved_hz,
                "error": recording.error, "closed": recording.closed},
            "workload": [state, origin],
        }

    def notices(self) -> list[str]:
        messages = self._attached.notices.messages()
        told, self._told = self._told, len(messages)
        return messages[told:]

    def request_stop(self) -> None:
        self._attached.request_stop()


def serve_attach(monitor: AttachedMonitor, session: Path, say: Callable[[str], None]) -> AttachPublisher:
    """The attach sink of a recording `monitor`: its stream socket in the user's runtime directory, bound now
    (its path goes into meta.json), not started yet; ValueError/OSError when it cannot be bound."""
    frames = monitor.subscribe(ATTACH)
    path = new_socket_path(session.name, ATTACH_SUFFIX)
    return AttachPublisher(frames, MonitorAttach(monitor, session), path, monitor.config.hz, say)
