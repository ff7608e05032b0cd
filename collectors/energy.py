"""Energy of a device with the method that measured it, streaming (pure Python).

Methods, in order of trust:

- ``counter``: NVML's total-energy counter (mJ since the driver loaded), the difference between the
  first and the last reading; primary wherever it exists and advances;
- ``integrated_power``: the trapezoid over the power readings (NVML's power, an average the driver
  keeps), a gap in the power not bridged;
- ``rapl``: the CPU package's RAPL power, computed from RAPL's energy counter over the tick that ends
  at the sample: each reading times the time since the previous sample (exact, a stalled tick included);
- ``none``: nothing measured it (never 0 J).

The counter's update period is measured from the times its value changed (an upper bound when the
samples are further apart than its updates).  A window shorter than `UNCERTAIN_PERIODS` update
periods cannot be told from the counter's steps: it is flagged ``uncertain``.  Where both the counter
and power exist, a self-check compares them over the window between the first and the last change
of the counter (both ends on an update, so its steps do not bias it), with the difference in %.
"""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import Any

UNCERTAIN_PERIODS = 5
_PERIODS_KEPT = 64
STUCK_AFTER_S = 10.0  # a counter unchanged this long under power is not counting


class CounterPeriod:
    """The update period of a cumulative counter: the median time between changes of its value."""

    __slots__ = ("_value", "_changed_at", "_intervals")

    def __init__(self) -> None:
        self._value: float | None = None
        self._changed_at: float | None = None
        self._intervals: deque[float] = deque(maxlen=_PERIODS_KEPT)

    def add(self, t: float, value: float | None) -> bool:
        """Take a reading at `t`; True when the value changed since the previous reading."""
        if value is None:
            return False
        changed = self._value is not None and value != self._value
        if changed:
            if self._changed_at is not None:
                self._intervals.append(t - self._changed_at)
            self._changed_at = t
        self._value = value
        return changed

    @property
    def period_s(self) -> float | None:
        return median(self._intervals) if self._intervals else None


class CounterWatch:
    """At start, whether a device's energy counter advances: True once it changed, False once it held
    still for `STUCK_AFTER_S` while the device drew power, None until one of them (or without a counter)."""

    __slots__ = ("_first", "_since")

    def __init__(self) -> None:
        self._first: float | None = None
        self._since: float | None = None  # when the device was first seen drawing power

    def add(self, t: float, counter: float | None, power: float | None) -> bool | None:
        if counter is None:
            return None
        if self._first is None:
            self._first = counter
        elif counter != self._first:
            return True
        if power is not None and power > 0 and self._since is None:
            self._since = t
        return False if self._since is not None and t - self._since >= STUCK_AFTER_S else None


class EnergyAccount:
    """One device's energy: the counter, the integral of power, the counter's period and the self-check."""

    __slots__ = ("power_method", "integrated_j", "integrated_s", "_t", "_p", "period", "_first", "_last",
                 "counter_broken", "_first_change", "_last_change", "_t_first", "_t_last")

    def __init__(self, power_method: str = "integrated_power") -> None:
        self.power_method = power_method  # "integrated_power" (a GPU) or "rapl" (the CPU package)
        self.integrated_j = 0.0
        self.integrated_s = 0.0
        self._t: float | None = None
        self._p: float | None = None
        self.period = CounterPeriod()
        self._first: float | None = None
        self._last: float | None = None
        self.counter_broken = False
        # (t, counter, integral so far) at the counter's first and latest change
        self._first_change: tuple[float, float, float] | None = None
        self._last_change: tuple[float, float, float] | None = None
        self._t_first: float | None = None
        self._t_last: float | None = None

    def add(self, t: float, power: float | None, counter: float | None) -> None:
        if self._t_first is None:
            self._t_first = t
        previous, self._t_last = self._t_last, t
        if self.power_method == "rapl":
            if power is not None and previous is not None and t > previous:
                self.integrated_j += power * (t - previous)
                self.integrated_s += t - previous
        elif power is not None and self._p is not None and self._t is not None and t > self._t:
            dt = t - self._t
            self.integrated_j += (power + self._p) * 0.5 * dt
            self.integrated_s += dt
        if power is not None:
            self._t, self._p = t, power
        else:
            self._t = self._p = None  # a gap in power is not integrated across
        if counter is None or self.counter_broken:
            return
        if self._last is not None and counter < self._last:
            self.counter_broken = True  # a reset or a wrap: the difference would be wrong, even negative
            return
        if self._first is None:
            self._first = counter
        self._last = counter
        if self.period.add(t, counter):
            mark = (t, counter, self.integrated_j)
            if self._first_change is None:
                self._first_change = mark
            self._last_change = mark

    @property
    def counter_advances(self) -> bool:
        return not self.counter_broken and self._first_change is not None

    def summary(self) -> dict[str, Any]:
        """``method``, ``energy_j`` (by that method), both figures, the counter's period, ``uncertain``
        and the ``self_check`` (null where it cannot be made)."""
        counter_j = self._last - self._first if self.counter_advances else None  # type: ignore[operator]
        integrated_j = self.integrated_j if self.integrated_s > 0 else None
        if counter_j is not None:
            method, energy = "counter", counter_j
        elif integrated_j is not None:
            method, energy = self.power_method, integrated_j
        else:
            method, energy = "none", None
        period = self.period.period_s if self.counter_advances else None
        duration = (self._t_last - self._t_first) if self._t_first is not None else 0.0  # type: ignore[operator]
        return {
            "method": method,
            "energy_j": energy,
            "counter_j": counter_j,
            "integrated_j": integrated_j,
            "counter_update_period_s": period,
            "uncertain": method == "counter" and period is not None and duration < UNCERTAIN_PERIODS * period,
            "self_check": self._self_check(),
        }

    def _self_check(self) -> dict[str, float] | None:
        if not self.counter_advances or self._first_change is self._last_change or self.integrated_s <= 0:
            return None
        (t0, c0, i0), (t1, c1, i1) = self._first_change, self._last_change  # type: ignore[misc]
        counter_j, integrated_j = c1 - c0, i1 - i0
        if counter_j <= 0:
            return None
        return {"window_s": t1 - t0, "counter_j": counter_j, "integrated_j": integrated_j,
                "difference_pct": 100.0 * (integrated_j - counter_j) / counter_j}
