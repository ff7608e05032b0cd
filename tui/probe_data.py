"""What instrumented workloads send, as the feed hands it to the screen: custom metric points and finished spans.

Metric points come with the events the feed takes (live and in replay alike) and
are kept per name, bounded (`collectors.metrics.MetricHistory`).  Finished span
rows come on the stream too (the live span assembler's, or a replay's from the
session's span table): the feed counts them in a `SpanStatistics` of its own and
copies its recent rows and totals when its count moved, at most every
`SPANS_EVERY_S` (the first time after a reset at once), off the event loop.
Both are handed out as immutable views whose `serial` changes with their
content, so a pane redraws only when it has something new.  No Textual here.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.metrics import MetricHistory, Point
from collectors.span_stats import SpanStatistics
from collectors.values import finite

RECENT_SPANS = 20
SPANS_EVERY_S = 0.5  # the totals sort every duration: not more often than this while spans pour in


@dataclass(frozen=True)
class SpansView:
    serial: int
    recent: tuple[dict[str, Any], ...] = ()  # finished span rows, newest first
    summary: dict[str, Any] = field(default_factory=dict)  # summary.spans: total, success_rate, p50_duration_s...
    names: tuple[dict[str, Any], ...] = ()  # per name and level (SpanTracker.by_name), top level first

    @property
    def total(self) -> int:
        return int(self.summary.get("total") or 0)


@dataclass(frozen=True)
class MetricsView:
    serial: int
    series: dict[str, tuple[Point, ...]] = field(default_factory=dict)  # by name (sorted); points oldest first
    _stamps: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    def stamps(self, name: str) -> list[int]:
        """The points' times (µs) of one metric, for bisecting; computed once per view."""
        found = self._stamps.get(name)
        if found is None:
            found = self._stamps[name] = [point[0] for point in self.series.get(name, ())]
        return found

    def values(self, name: str, last: int) -> list[float | None]:
        """The last `last` values of a metric (NaN and infinities as gaps)."""
        return [finite(point[1]) for point in self.series.get(name, ())[-last:]] if last > 0 else []


class ProbeFeed:
    """Metric points and span statistics; the feed calls it under its own lock, except for the spans."""

    def __init__(self, points: int = 4096) -> None:
        self._points = points
        self._serial = 0
        self._spans_lock = threading.Lock()
        self._spans = SpansView(0)
        self.reset_spans()
        self.reset()

    def reset(self) -> None:
        """Forget the metric points (a replay seek refills them)."""
        self._history = MetricHistory(self._points)
        self._metrics = MetricsView(self._next())
        self._metrics_version = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- metrics ------------------------------------------------------------------------
    def take(self, event: dict[str, Any]) -> None:
        self._history.add_event(event)

    def metrics(self) -> MetricsView:
        history = self._history
        if history.version != self._metrics_version:
            self._metrics_version = history.version
            self._metrics = MetricsView(self._next(), {name: history.series(name) for name in history.names()})
        return self._metrics

    # -- spans --------------------------------------------------------------------------
    def reset_spans(self) -> None:
        """Forget the spans counted (a replay seek refills them; a new live session starts empty)."""
        with self._spans_lock:
            self._stats = SpanStatistics(RECENT_SPANS)
            self._seen_total = -1
            self._polled = 0.0  # the first copy with spans is at once: a seek shows its spans without waiting

    def take_spans(self, rows: Sequence[dict[str, Any]]) -> None:
        """Count finished span rows (from the stream)."""
        stats = self._stats
        for row in rows:
            stats.add(row)

    def poll_spans(self) -> bool:
        """Copy the statistics' recent rows and totals when spans came since the last copy; True when it did."""
        stats = self._stats
        total = stats.total
        if total == self._seen_total:
            return False
        now = time.monotonic()
        if now - self._polled < SPANS_EVERY_S:
            return False
        if total:  # an empty copy (a seek's frames came first) does not hold back the spans that follow
            self._polled = now
        view = SpansView(0, tuple(stats.recent(RECENT_SPANS)), stats.summary(), tuple(stats.by_name()))
        with self._spans_lock:
            if stats is not self._stats:
                return False  # reset meanwhile
            self._seen_total = total
            self._spans = (SpansView(self._next(), view.recent, view.summary, view.names) if total
                           else SpansView(self._next()))
        return True

    def spans(self) -> SpansView:
        with self._spans_lock:
            return self._spans


def column_values(view: MetricsView, name: str, times: Sequence[float | None], width: int) -> list[float | None]:
    """A metric lined up with a sparkline of a series sampled at `times` (µs, ascending), one value a column.

    The columns slice `times` as `tui.sparkline.resample` does (right-aligned when there are fewer
    samples than columns).  A column takes the largest value of the points inside its slice of time, so a
    spike shows however narrow, else the last value before it (None before the first point).  Every
    panel of a redraw asks the same: the last answer is kept.
    """
    key = (view.serial, name, width, len(times), times[0] if times else None, times[-1] if times else None)
    if _last_columns[0] == key:
        return _last_columns[1]
    points = view.series.get(name, ())
    stamps = view.stamps(name)
    count = len(times)
    if count <= width:
        bounds = [(i, i + 1) for i in range(count)]
    else:
        bounds = [(c * count // width, (c + 1) * count // width) for c in range(width)]
    known = [t for t in times if t is not None]
    step = (known[-1] - known[0]) / (len(known) - 1) if len(known) > 1 else 0.0
    previous = known[0] - step if known else -math.inf  # the first sample covers one step of time before it
    out: list[float | None] = []
    for start, end in bounds:
        top = next((times[i] for i in range(end - 1, start - 1, -1) if times[i] is not None), None)
        if top is None:
            out.append(None)
            continue
        low, high = bisect_right(stamps, previous), bisect_right(stamps, top)
        best = None
        for index in range(low, high):
            value = finite(points[index][1])
            if value is not None and (best is None or value > best):
                best = value
        out.append(best if low < high else (finite(points[high - 1][1]) if high else None))
        previous = top
    _last_columns[:] = [key, out]
    return out


_last_columns: list[Any] = [None, None]  # (key, columns) of the last call
