"""Collapse event hysteresis for one device (SIGNALS.md §3).

An event starts once a candidate run has lasted 7 s with evidence, and ends once
the candidate has been false for 3 s; it is counted in events, not samples.
"""

from __future__ import annotations

from typing import Any

from collectors.event_kinds import EventKind

CONFIRM_S = 7.0
RELEASE_S = 3.0


class CollapseDetector:
    """Feeds on (t, candidate, evidence, rle_smoothed) per warm sample; keeps the events."""

    __slots__ = ("device", "run_start", "active", "start", "false_since", "min_rle", "events", "seconds", "finished")

    def __init__(self, device: str) -> None:
        self.device = device
        self.run_start: float | None = None  # time of the first sample of the current candidate run
        self.active = False
        self.start = 0.0
        self.false_since: float | None = None  # first false sample while an event is active
        self.min_rle: float | None = None
        self.events = 0
        self.seconds = 0.0
        self.finished: list[dict[str, Any]] = []  # {device, start, end, min_rle}

    def step(self, t: float, candidate: bool, evidence: bool, rle: float | None) -> tuple[int, dict[str, Any] | None]:
        """One warm sample: returns (collapse flag, a collapse_start/collapse_end event or None)."""
        event = None
        if candidate:
            if self.run_start is None:
                self.run_start = t
            if self.active:
                self.false_since = None
            elif evidence and t - self.run_start >= CONFIRM_S:
                self.active = True
                self.start = self.run_start
                self.false_since = None
                self.min_rle = None
                event = EventKind.COLLAPSE_START
        else:
            self.run_start = None
            if self.active:
                if self.false_since is None:
                    self.false_since = t
                elif t - self.false_since >= RELEASE_S:
                    return 0, self._end(self.false_since)
        if self.active:
            if rle is not None and (self.min_rle is None or rle < self.min_rle):
                self.min_rle = rle
            if event is not None:
                return 1, {"kind": event, "device": self.device, "start": self.start, "end": None, "min_rle": self.min_rle}
            return 1, None
        return 0, None

    def finish(self, t_last: float) -> dict[str, Any] | None:
        """End an active event at the last sample's time."""
        return self._end(t_last) if self.active else None

    def _end(self, end: float) -> dict[str, Any]:
        self.active = False
        self.false_since = None
        self.events += 1
        self.seconds += end - self.start
        record = {"device": self.device, "start": self.start, "end": end, "min_rle": self.min_rle}
        self.finished.append(record)
        return {"kind": EventKind.COLLAPSE_END, **record}

    def all_events(self) -> list[dict[str, Any]]:
        """Finished events, then the active one (end None)."""
        events = list(self.finished)
        if self.active:
            events.append({"device": self.device, "start": self.start, "end": None, "min_rle": self.min_rle})
        return events
