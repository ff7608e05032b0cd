"""The dashboard's live source: a `Monitor` on this machine (or the simulated one) behind the dashboard's interface."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from collectors.event_parse import typed_event
from collectors.process_rows import ProcessSnapshot
from collectors.processes import ProcessControl
from collectors.schema import gpu_prefix
from collectors.stream import SCREEN, FrameQueue
from recordings.errors import InputError
from rigscope.monitor import Monitor, MonitorConfig
from tui.bars import SessionLabel, host_words
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed

MAX_FEED_POLL_S = 0.25  # the feed takes the sampler's batches once per redraw, at least 4 times a second


def devices_of(monitor: Monitor) -> list[Device]:
    host = monitor.host_facts()
    cpu = f"CPU {host.get('cpu_model') or ''}".strip()
    gpus = [Device(gpu_prefix(g["index"]), f"GPU{g['index']} {(g.get('name') or '').replace('NVIDIA ', '')}".strip(),
                   gpm=g.get("gpm") is True) for g in monitor.gpus]
    return [Device("cpu", cpu), *gpus]


class LiveSource:
    def __init__(self, config: MonitorConfig, clock: Any = None, nvml_backend: Any = None, fps: float = 2.0,
                 waiting: Callable[[str], None] | None = None) -> None:
        """`waiting`: told, before the dashboard takes the screen, when NVML is slow to open (later openings, under
        the dashboard, keep it for the events pane)."""
        self.config = config
        self.process_control = ProcessControl()  # the kill key acts on this machine's processes
        self._feed_poll_s = min(MAX_FEED_POLL_S, 1.0 / fps)
        self._clock, self._backend = clock, nvml_backend
        self._notices: deque[str] = deque()
        self._told: set[str] = set()
        self.closed = False
        self._closing = threading.Lock()
        self._closed_message: str | None = None
        self.monitor = self._open(config, waiting)
        self.devices = devices_of(self.monitor)
        self.feed = DashboardFeed(self._subscribe(self.monitor), feed_columns(self.devices), config.hz)
        self.feed.start()
        self.monitor.start()

    def _open(self, config: MonitorConfig, waiting: Callable[[str], None] | None = None) -> Monitor:
        return Monitor(config, clock=self._clock, nvml_backend=self._backend, on_notice=self._notices.append,
                       on_wait=waiting)

    def _subscribe(self, monitor: Monitor) -> FrameQueue:
        return monitor.subscribe(dataclasses.replace(SCREEN, latency_s=self._feed_poll_s))

    @property
    def label(self) -> SessionLabel:
        hostname, tier = host_words(self.monitor.host_facts())
        mode = "DEMO" if self.config.source == "sim" else "LIVE"
        return SessionLabel(hostname, tier if self.monitor.session else "",
                            self.monitor.session.name if self.monitor.session else None, mode)

    def now_iso(self) -> str:
        return self.monitor.now_iso()

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        """A key's note or tag, held to the limits of any sender's: a note cut at NOTE_CAP, a tag of MAX_NAME at most."""
        try:
            fields = typed_event(kind, fields)
        except ValueError as error:
            raise InputError(str(error)) from None
        self.monitor.post_event({"ts": ts, "kind": kind, **fields})

    def recording(self) -> dict[str, Any] | None:
        state = self.monitor.recording_state()
        if state is None or (state.closed and not state.error):
            return None  # a failed recording stays on the screen, with why, until a new one starts
        flushed = state.last_flush_wall
        return {
            "session": state.session.name,
            "samples": state.samples,
            "bytes": state.bytes_written,
            "flush_age_s": time.time() - flushed if flushed else None,
            "achieved_hz": self.monitor.stats.achieved_hz,
            "error": state.error,
        }

    def load_average(self) -> tuple[float, float, float] | None:
        """The host's 1, 5 and 15 minute load averages (None where the platform has none)."""
        try:
            return os.getloadavg()
        except (OSError, AttributeError):
            return None

    def processes(self) -> ProcessSnapshot | None:
        """The process rows the stream brought (None on a source without a process tier)."""
        return self.feed.processes() if self.monitor.process_snapshot() is not None else None

    def notices(self) -> list[str]:
        """New notices, each once per process (a new session after `r` reports the same conditions again)."""
        out = []
        while self._notices:
            message = self._notices.popleft()
            if message not in self._told:
                self._told.add(message)
                out.append(message)
        return out

    def toggle_recording(self) -> str:
        was_recording = self.monitor.session is not None
        old_session = self.monitor.session
        self.monitor.close_receiver()  # the replacement takes the event port over
        try:
            replacement = self._open(dataclasses.replace(self.config, record=not was_recording))
        except InputError as error:  # a full disk: this session goes on, and takes events again
            try:
                self.monitor.reopen_receiver()
            except InputError as lost:
                return f"recording not started: {error}; events are no longer taken: {lost}"
            return f"recording not started: {error}"
        self.feed.attach(self._subscribe(replacement))
        self.feed.reset_events()  # the old session's notes, collapses, spans and processes are not the new one's
        old, self.monitor = self.monitor, replacement  # a key pressed while the old one closes goes to the new one
        old.stop()  # before the new one starts: it frees the --http port the new one takes
        replacement.start()
        if was_recording:
            return f"recording stopped: {old_session} saved"
        return f"recording to a new session: {replacement.session}"

    def close(self) -> str:
        """Close the session once; a second call, from any thread, waits for the first and says the same."""
        with self._closing:
            if self._closed_message is None:
                self.closed = True
                self._closed_message = self._close()
            return self._closed_message

    def _close(self) -> str:
        self.monitor.stop()
        state = self.monitor.recording_state()
        if state is None:
            return "rigscope: not recording; nothing saved"
        if state.error:
            return f"rigscope: {state.error}; what was flushed is in {state.session}"
        return f"rigscope: session saved in {state.session} ({state.samples} samples)"
