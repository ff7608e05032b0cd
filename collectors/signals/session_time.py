"""Wall times on the session's time: the wall clock's steps taken out of `ts` (SIGNALS.md §5.1, §7).

A tag takes effect at the first sample at or after its time.  After the wall clock steps back, a tag
sent later has an earlier `ts` than samples taken before the step; compared raw, it would be taken
for one of the past and never applied.  Live, the pipeline finds the steps in its own samples (as
the sampler does for its `clock_step` events); offline, `rigscope analyze` has them from those events.
Either way a tag's wall time goes to the first stretch between steps where it lands.
"""

from __future__ import annotations

from collectors.clock import ClockShifts, StepDetector


def tag_time(shifts: ClockShifts, first_us: int, first_s: float, tag_us: int) -> int:
    """A tag's wall time (µs) on the session's time, given the steps and the first sample's ts and elapsed_s."""
    if not shifts:
        return tag_us
    moment = shifts.elapsed_of(first_s + (tag_us - first_us) / 1e6)
    return first_us + round((moment - first_s) * 1e6)


class SessionTime:
    """The steps found so far in a stream of samples, and the wall times of samples and tags without them."""

    __slots__ = ("_detector", "_steps", "shifts", "_lead_us", "_origin")

    def __init__(self) -> None:
        self._detector = StepDetector()
        self._steps: list[tuple[float, float]] = []
        self.shifts = ClockShifts()
        self._lead_us = 0
        self._origin: tuple[int, float] | None = None  # ts and elapsed_s of the first sample

    def sample(self, ts_us: int, elapsed_s: float) -> int:
        """A sample's ts less the wall clock's lead so far (a step at this sample included)."""
        if self._origin is None:
            self._origin = (ts_us, elapsed_s)
        step = self._detector.check(ts_us, elapsed_s)
        if step is not None:
            self._steps.append((elapsed_s, step))
            self.shifts = ClockShifts(self._steps)
            self._lead_us = round(self.shifts.shifts[-1] * 1e6)
        return ts_us - self._lead_us

    def tag(self, tag_us: int) -> int:
        """A tag's wall time on the session's time, by the steps found so far."""
        if self._origin is None:
            return tag_us
        return tag_time(self.shifts, *self._origin, tag_us)
