"""The part of a session a timeline export covers: `--from` / `--until` bounds and `--downsample`.

A bound is `+10m` (or `600`, `10m`) from the session's first sample, `HH:MM[:SS]` (UTC, on the day
of the first sample) or an ISO 8601 time; the same words `replay --at` takes, plus full times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors.timeutil import iso_from_us, parse_duration, us_from_iso
from recordings.errors import InputError

CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")


@dataclass(frozen=True)
class Window:
    """Bounds in µs since the epoch (None: open) and the counters' rate (None: every sample)."""

    start_us: int | None = None
    end_us: int | None = None
    downsample_hz: float | None = None

    def period_us(self) -> int | None:
        return None if self.downsample_hz is None else max(1, round(1e6 / self.downsample_hz))


def bound_us(text: str, first_us: int, flag: str) -> int:
    """One bound as µs since the epoch; InputError naming `flag` when it is none of the accepted forms."""
    value = text.strip()
    try:
        if CLOCK.fullmatch(value):
            clock = value if value.count(":") == 2 else value + ":00"
            return us_from_iso(f"{iso_from_us(first_us)[:10]}T{clock.zfill(8)}Z")
        if "T" in value or value.count("-") >= 2:
            return us_from_iso(value)
        return first_us + round(parse_duration(value.removeprefix("+")) * 1e6)
    except ValueError:
        raise InputError(f"{flag} {text}: not a time (use +10m, 600, 14:30, or 2026-11-23T14:30:00Z)") from None


def window_of(start: str | None, until: str | None, downsample_hz: float | None, first_us: int | None) -> Window:
    """The window the flags give for a session whose first sample is at `first_us` (None: no samples)."""
    anchor = 0 if first_us is None else first_us
    start_us = None if start is None else bound_us(start, anchor, "--from")
    end_us = None if until is None else bound_us(until, anchor, "--until")
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise InputError(f"--until {until} is not after --from {start}")
    if downsample_hz is not None and not downsample_hz > 0:
        raise InputError(f"--downsample {downsample_hz:g}: a rate above 0 Hz")
    return Window(start_us, end_us, downsample_hz)
