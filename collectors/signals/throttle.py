"""Throttle accounting per GPU from the NVML clocks-event (throttle) bitmask.

Each sample weighs t_{k+1} - t_k (the last weighs 0), like `workload_seconds`.
A sample with several causes counts toward each of them and once toward
`throttled_s`.  Bit 0x1 (GPU idle) is not throttling.  A sample without a
bitmask (the read failed, the GPU was lost) is unknown, not unthrottled: it
weighs nothing, and the fractions are of `observed_s`, the time weighed by
samples that had one.  A GPU whose bitmask was never read has null seconds.
"""

from __future__ import annotations

from typing import Any

GPU_IDLE = 0x1
POWER_CAP = 0x4  # SW power cap
THERMAL = 0x8 | 0x20 | 0x40  # HW slowdown, SW thermal, HW thermal slowdown
POWER_BRAKE = 0x80  # HW power brake
# Bits that make a collapse's evidence and the THROTTLE_* alerts.
EVIDENCE = POWER_CAP | THERMAL | POWER_BRAKE
ALERT_POWER = POWER_CAP | POWER_BRAKE
OTHER = ~(GPU_IDLE | POWER_CAP | THERMAL | POWER_BRAKE)


class ThrottleAccount:
    """Seconds throttled per cause, plus the first/last NVML violation counters."""

    __slots__ = ("observed_s", "throttled_s", "power_cap_s", "thermal_s", "power_brake_s", "other_s", "_violation")

    def __init__(self) -> None:
        self.observed_s: float | None = None  # None until a bitmask was read
        self.throttled_s = 0.0
        self.power_cap_s = 0.0
        self.thermal_s = 0.0
        self.power_brake_s = 0.0
        self.other_s = 0.0
        # name -> [first, last] non-null value of the cumulative counter
        self._violation: dict[str, list[float]] = {}

    def read(self) -> None:
        """A sample had a bitmask: from now on the account measures something."""
        if self.observed_s is None:
            self.observed_s = 0.0

    def add(self, dt: float, mask: int) -> None:
        """Weigh a sample that had a bitmask (`mask`, without the idle bit) by `dt` seconds."""
        self.observed_s = (self.observed_s or 0.0) + dt
        if not mask:
            return
        self.throttled_s += dt
        if mask & POWER_CAP:
            self.power_cap_s += dt
        if mask & THERMAL:
            self.thermal_s += dt
        if mask & POWER_BRAKE:
            self.power_brake_s += dt
        if mask & OTHER:
            self.other_s += dt

    def violation(self, name: str, value: float) -> None:
        """A non-null value of a cumulative violation counter (`power` or `thermal`)."""
        seen = self._violation.get(name)
        if seen is None:
            self._violation[name] = [value, value]
        else:
            seen[1] = value

    def summary(self) -> dict[str, Any]:
        observed = self.observed_s

        def fraction(seconds: float) -> float | None:  # of no time at all (one sample, or never read): unknown
            return seconds / observed if observed else None

        out: dict[str, Any] = {"observed_s": observed}
        for key, seconds in (
            ("throttled", self.throttled_s),
            ("power_cap", self.power_cap_s),
            ("thermal", self.thermal_s),
            ("power_brake", self.power_brake_s),
            ("other", self.other_s),
        ):
            out[f"{key}_s"] = None if observed is None else seconds
            out[f"{key}_fraction"] = fraction(seconds)
        for name in ("power", "thermal"):
            seen = self._violation.get(name)
            out[f"violation_{name}_s"] = None if seen is None else seen[1] - seen[0]
        return out
