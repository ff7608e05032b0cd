"""Runs of equal values in the samples, read a slice at a time: what the phases, throttle episodes and
collapses of a timeline are made of."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from collectors.signals.throttle import OTHER, POWER_BRAKE, POWER_CAP, THERMAL

THROTTLE_CAUSES = (("power cap", POWER_CAP), ("thermal", THERMAL), ("power brake", POWER_BRAKE), ("other", OTHER))


def cause_on(reasons: pl.Series, bits: int) -> pl.Series:
    """Whether each sample's throttle bitmask has a cause's bits (null where unread; beyond 63 bits, unread)."""
    return (reasons.cast(pl.Int64, strict=False) & (bits & 0x7FFFFFFFFFFFFFFF)) != 0


def throttle_track(device: str, cause: str) -> str:
    return f"{device} throttle: {cause}"


class Runs:
    """Runs of equal non-null keys over samples read a slice at a time: (key, start µs, end µs).

    A run ends at the first sample with another key; the run still open at the end ends at the last sample."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.start = self.last = 0

    def feed(self, ts: pl.Series, keys: list[pl.Series]) -> Iterator[tuple[tuple[Any, ...], int, int]]:
        changed = pl.zeros(len(ts), dtype=pl.Boolean, eager=True)
        for series in keys:
            changed = changed | series.ne_missing(series.shift(1)).fill_null(True)
        changed[0] = True
        where = changed.arg_true()
        for t, *key in zip(ts.gather(where).to_list(), *(s.gather(where).to_list() for s in keys)):
            found = None if key[0] is None else tuple(key)
            if found != self.key:
                if self.key is not None:
                    yield self.key, self.start, t
                self.key, self.start = found, t
        self.last = int(ts[-1])

    def finish(self) -> Iterator[tuple[tuple[Any, ...], int, int]]:
        if self.key is not None:
            yield self.key, self.start, self.last
        self.key = None
