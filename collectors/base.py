"""The one small interface every source of readings implements.

A collector gives its static info once (`info`), one reading per tick
(`read`), and releases what it holds (`close`).  Readings are flat dicts keyed
by the session schema's column names (`collectors.schema`); a value that was
not measured is ``None``, never a made-up number.

Collectors report problems (no sensor, an unreadable counter, a lost GPU) once,
through `notice`; the sampler drains them with `drain_notices` and passes them
on to the UI, stderr and ``meta.json``.  A collector read in a background
thread reports from that thread while the sampler drains: both take a lock.
"""

from __future__ import annotations

import threading
from typing import Any

Reading = dict[str, Any]


class Collector:
    """Base class: subclasses set `name` and override `read` (and maybe `info`, `close`)."""

    name: str = "collector"

    def __init__(self) -> None:
        self._notices: list[str] = []
        self._noticed: set[str] = set()
        self._notice_lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        """Static facts about the source, read once at start (model names, limits, ...)."""
        return {}

    def read(self, elapsed_s: float) -> Reading:
        """One reading for the tick at `elapsed_s` seconds of sample time."""
        raise NotImplementedError

    def close(self) -> None:
        """Release handles; the collector is not used afterwards."""

    def notice(self, message: str) -> None:
        """Report a problem once per distinct message."""
        with self._notice_lock:
            if message not in self._noticed:
                self._noticed.add(message)
                self._notices.append(f"{self.name}: {message}")

    def drain_notices(self) -> list[str]:
        if not self._notices:  # every tick, nearly always empty: no lock (one told meanwhile waits a tick)
            return []
        with self._notice_lock:
            notices, self._notices = self._notices, []
        return notices
