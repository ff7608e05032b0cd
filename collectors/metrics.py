"""Custom metrics from instrumented workloads (`rigscope.metric`): recent points per name, bounded.

Metrics travel as `metric` events (events.jsonl keeps every point); this keeps
the last `points` of each of at most `max_names` names for live views (the
dashboard lines them up with its sparklines in `tui.probe_data.column_values`).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from typing import Any

from collectors.event_kinds import EventKind
from collectors.timeutil import us_from_iso

Point = tuple[int, float | None, int | None]  # (ts µs, value, step)


class MetricHistory:
    """The recent points of each custom metric; thread-safe."""

    def __init__(self, points: int = 4096, max_names: int = 64) -> None:
        self._points = points
        self._max_names = max_names
        self._series: dict[str, deque[Point]] = {}
        self._lock = threading.Lock()
        self.version = 0  # moves with every point taken
        self.ignored = 0  # points of names beyond `max_names`

    def add_event(self, event: dict[str, Any]) -> None:
        if event.get("kind") != EventKind.METRIC:
            return
        name, value, step = event.get("name"), event.get("value"), event.get("step")
        try:
            ts = us_from_iso(str(event["ts"]))
        except (KeyError, ValueError, OverflowError):
            return
        if not isinstance(name, str):
            return
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        point = (ts, number, step if isinstance(step, int) and not isinstance(step, bool) else None)
        with self._lock:
            series = self._series.get(name)
            if series is None:
                if len(self._series) >= self._max_names:
                    self.ignored += 1
                    return
                series = self._series[name] = deque(maxlen=self._points)
            series.append(point)
            self.version += 1

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._series)

    def series(self, name: str, since_us: int | None = None) -> tuple[Point, ...]:
        """Points of `name` (oldest first), those at or after `since_us` when given."""
        with self._lock:
            points = tuple(self._series.get(name, ()))
        if since_us is None:
            return points
        return points[bisect_right([p[0] for p in points], since_us - 1):]

    def latest(self) -> dict[str, Point]:
        with self._lock:
            return {name: series[-1] for name, series in self._series.items() if series}

