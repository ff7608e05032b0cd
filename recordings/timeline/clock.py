"""The one clock a timeline is stamped on: the wall clock as it ran at the session's end.

A wall clock stepped back while recording (NTP corrected a clock that ran ahead: the session's `clock_step`
events) runs backwards in `ts`; a slice across the step would end before it began.  Every time of the
timeline (samples, events, spans) has those steps taken out as the rest of rigscope does (`collectors.
signals.session_time`) and their sum put back in: the timeline runs forward, and from the last step on it
equals `ts`, the clock a profiler's trace of the same time was stamped on.  A step forward is left as it is:
it is most often a machine that slept (the monotonic clock does not count a suspend), and the wall clock was
right on both sides of the gap.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.clock import ClockShifts
from collectors.signals.session_time import tag_time


class SessionClock:
    """`ts` and wall times of events on the clock after the session's last step back (unchanged without one)."""

    def __init__(self, events: list[dict[str, Any]], first: tuple[int, float] | None) -> None:
        """`events`: the session's (its `clock_step` ones are used); `first`: ts (µs) and elapsed_s of its
        first sample, None without samples or without `elapsed_s` (then no step can be placed)."""
        every = ClockShifts.of_events(events)
        steps = zip(every.starts[1:], (b - a for a, b in zip(every.shifts, every.shifts[1:])))
        self.shifts = ClockShifts((at, step) for at, step in steps if step < 0) if first is not None else ClockShifts()
        self.first = first
        self.lead_us = round(self.shifts.shifts[-1] * 1e6)  # the steps back: the clock's lead at the end

    def samples(self, ts_us: pl.Expr) -> pl.Expr:
        """A sample's `ts_us` plus the steps still to come after it (by its `elapsed_s`)."""
        shifts = self.shifts.shifts
        for at, step in zip(self.shifts.starts[1:], (b - a for a, b in zip(shifts, shifts[1:]))):
            ts_us = ts_us + pl.when(pl.col("elapsed_s") < at).then(round(step * 1e6)).otherwise(0)
        return ts_us

    def wall(self, ts_us: int) -> int:
        """A wall time (an event's, a span's end) on the timeline's clock."""
        if not self.shifts or self.first is None:
            return ts_us
        return tag_time(self.shifts, *self.first, ts_us) + self.lead_us
