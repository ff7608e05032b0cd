"""A monitor's serving sinks: the one place that reads a monitor to build what `HttpExporter` and the attach
publisher serve.

`serve_http(monitor, ...)` subscribes an `ExportFeed` to the monitor's sampler
(lossless on a virtual clock, so a sped-up simulation loses no frame), hands it
the monitor's span statistics, and wraps the rest that the server reads (the
session's identity, folder, status, and where a posted event goes) in a
`MonitorSession`.  The server itself sees only those two (`ServedSession`), so
nothing in `rigscope.serve` imports the monitor.  `serve_attach` does the same for the
attach publisher (`MonitorAttach`: what viewers are told and where what they send goes).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.schema import device_prefixes, gpu_prefix
from collectors.stream import EXPORTER
from recordings.tier import hardware_tier
from rigscope import __version__
from rigscope.local_channel import ATTACH_SUFFIX, new_socket_path
from rigscope.serve.attach import ATTACH, RECENT_SPANS, AttachPublisher
from rigscope.serve.feed import ExportFeed
from rigscope.serve.http_server import HttpExporter
from rigscope.serve.prometheus import ExportLabels, GpuLabel


class MonitorSession:
    """A `ServedSession` over a monitor (its sources, recorder, session folder, event receiver and sampler)."""

    def __init__(self, monitor: Any) -> None:
        self._monitor = monitor
        self.hz: float = monitor.config.hz

    def labels(self) -> ExportLabels:
        monitor = self._monitor
        host, gpus = monitor.sources.host, monitor.sources.gpus
        meta_host = monitor.recorder.meta.get("host", {}) if monitor.recorder is not None else {}
        tier = meta_host.get("hardware_tier") or hardware_tier(host.get("cpu_model"),
                                                               [g.get("name") or "" for g in gpus])
        device_type = meta_host.get("device_type") or ("cuda" if gpus else "cpu")
        return ExportLabels(
            host=str(host.get("hostname") or socket.gethostname()),
            session=monitor.session.name if monitor.session is not None else "",
            gpus=tuple(GpuLabel(int(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or ""),
                                str(g.get("driver_version") or "")) for g in gpus),
            devices=tuple(device_prefixes(monitor.gpu_indices)),
            info={"version": __version__, "hardware_tier": str(tier), "device_type": str(device_type),
                  "source": str(monitor.sources.source)},
            sample_hz=self.hz,
        )

    def files(self) -> tuple[Path | None, str | None]:
        recorder = self._monitor.recorder
        status = recorder.meta.get("status") if recorder is not None else None
        if recorder is not None and recorder.closed.is_set():
            status = "complete" if recorder.error is None else "interrupted"
        return self._monitor.session, status

    def post_event(self, event: dict[str, Any]) -> bool:
        offer = getattr(self._monitor.receiver, "offer", None)
        if callable(offer):
            return bool(offer(event))
        self._monitor.sampler.post_event(event)
        return True


def serve_http(monitor: Any, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> HttpExporter:
    """The HTTP sink of `monitor` (a `rigscope.monitor.Monitor`), not started yet."""
    frames = monitor.subscribe(EXPORTER)
    feed = ExportFeed(frames, [gpu_prefix(i) for i in monitor.gpu_indices], device_prefixes(monitor.gpu_indices),
                      monitor.spans.stats)
    return HttpExporter(feed, MonitorSession(monitor), host, port, token)


class MonitorAttach(MonitorSession):
    """An `AttachedSession` (rigscope.serve.attach) over a monitor: what viewers are told, where they post."""

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._told = 0  # notices handed to viewers so far

    def hello(self) -> dict[str, Any]:
        monitor = self._monitor
        return {"session": monitor.session.name if monitor.session is not None else None,
                "folder": str(monitor.session) if monitor.session is not None else None,
                "hz": self.hz, "pid": os.getpid(), "host": monitor.host_facts(), "gpus": monitor.gpus,
                "source": monitor.config.source}

    def state(self) -> dict[str, Any]:
        monitor = self._monitor
        recording = monitor.recording_state()
        processes = monitor.process_snapshot()
        state, origin = monitor.workload_state()
        return {
            "recording": None if recording is None else {
                "session": recording.session.name, "samples": recording.samples, "bytes": recording.bytes_written,
                "last_flush_wall": recording.last_flush_wall, "achieved_hz": monitor.stats.achieved_hz,
                "error": recording.error, "closed": recording.closed},
            "processes": None if processes is None else {"version": processes.version, "ts": processes.ts,
                                                         "rows": list(processes.rows)},
            "workload": [state, origin],
            "spans": _spans(monitor.spans.stats),
        }

    def notices(self) -> list[str]:
        told, self._told = self._told, len(self._monitor.notices)
        return self._monitor.notices[told:]

    def request_stop(self) -> None:
        self._monitor.request_stop()


def _spans(stats: Any) -> dict[str, Any] | None:
    """What a viewer's spans pane reads of the span statistics (tui.probe_data.SpanSource); None before any."""
    if not stats.total:
        return None
    return {"total": stats.total, "recent": stats.recent(RECENT_SPANS), "summary": stats.summary(),
            "by_name": stats.by_name()}


def serve_attach(monitor: Any, say: Callable[[str], None]) -> AttachPublisher:
    """The attach sink of a recording `monitor`: its stream socket in the user's runtime directory, bound now
    (its path goes into meta.json), not started yet; ValueError/OSError when it cannot be bound."""
    frames = monitor.subscribe(ATTACH)
    path = new_socket_path(monitor.session.name, ATTACH_SUFFIX)
    return AttachPublisher(frames, MonitorAttach(monitor), path, monitor.config.hz, say)
