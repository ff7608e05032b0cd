"""Per-device derived signals (SIGNALS.md §2-4): RLE and its parts, rolling peak, collapse, alerts.

`DeviceSignals.update` is the one scalar entry point, shared by the live
(dict-per-frame) and offline (column-per-session) paths so both give the same
numbers.  It also keeps what the session summary needs about the device.
"""

from __future__ import annotations

from math import inf
from typing import Any

from collectors.energy import EnergyAccount
from collectors.event_kinds import EventKind
from collectors.signals.collapse import CollapseDetector
from collectors.signals.throttle import ALERT_POWER, EVIDENCE, GPU_IDLE, THERMAL, ThrottleAccount
from collectors.signals.windows import DeviceWindow

# SIGNALS.md §1-§4, each threshold by the name of its rule.
DEFAULT_TEMP_LIMIT_GPU = 83.0  # §1: a GPU without an NVML slowdown threshold
DEFAULT_TEMP_LIMIT_CPU = 80.0  # §1: a CPU without a psutil `high`
A_LOAD_FLOOR = 0.05  # §2.3: a = max(a_load, 0.05) in the RLE denominator
SUSTAIN_MIN_S = 1.0  # §2.5: t_sustain_s at or over the temperature limit, and its floor
SUSTAIN_MAX_S = 600.0  # §2.5: t_sustain_s with no temperature or no heating, and its cap
HEATING_MIN_C_PER_S = 0.001  # §2.5: a heating rate at or below this is no heating
WARMUP_S = 60.0  # §3: nothing of the collapse detection before this much of the session
PEAK_DECAY_PER_S = 0.998  # §3: the rolling peak decays by this factor a second
COLLAPSE_DROP = 0.65  # §3: a candidate's rle_smoothed is below this share of the rolling peak
LOADED_UTIL = 0.60  # §3: loaded when u is above this ...
LOADED_A_LOAD = 0.75  # ... or a_load above this
EVIDENCE_SUSTAIN_S = 60.0  # §3: evidence when t_sustain_s is below this ...
EVIDENCE_TEMP_MARGIN_C = 5.0  # ... or the temperature within this of its limit ...
EVIDENCE_A_LOAD = 0.95  # ... or a_load above this (or a throttle bit of `throttle.EVIDENCE`)
OVER_POWER_A_LOAD = 1.10  # §4: OVER_POWER
MEM_PRESSURE_PCT = 95.0  # §4: MEM_PRESSURE (the cpu device)

ALERT_NAMES = ("TEMP_LIMIT", "OVER_POWER", "THROTTLE_POWER", "THROTTLE_THERMAL", "MEM_PRESSURE", "UTIL_MISLEADING")
TEMP_LIMIT, OVER_POWER, THROTTLE_POWER, THROTTLE_THERMAL, MEM_PRESSURE, UTIL_MISLEADING = (
    1 << i for i in range(len(ALERT_NAMES)))
# UTIL_MISLEADING: utilization this high while this few SMs work (GPM), for this long: the job waits
# (an NCCL collective, a memory-bound stall), it does not compute.
MISLEADING_UTIL_PCT = 90.0
MISLEADING_SM_PCT = 20.0
MISLEADING_FOR_S = 10.0
# The `{p}_alerts` text of every combination of alert bits (bit i = ALERT_NAMES[i]).
_ALERT_TEXT = tuple(
    "|".join(name for i, name in enumerate(ALERT_NAMES) if bits >> i & 1) for bits in range(1 << len(ALERT_NAMES))
)

# What `update` returns, in the order of schema.DERIVED_COLUMN_TEMPLATE:
# (a_load, t_sustain_s, rle_raw, rle_smoothed, e_th, e_pw, rolling_peak, collapse, alerts)
Derived = tuple[float | None, float, float | None, float | None, float, float | None, float, int, str]


class DeviceSignals:
    """Streaming derived signals of one device (`cpu`, `gpu0`, ...)."""

    __slots__ = (
        "prefix", "default_temp_limit", "window", "collapse", "throttle", "events",
        "samples", "util_sum", "util_n", "max_temp", "max_power", "rle_min", "rle_max",
        "_t_first", "_t_prev", "_warm", "_peak", "_alert_bits", "_throttle_mask",
        "sm_sum", "sm_n", "_misleading_since", "energy",
    )  # fmt: skip

    def __init__(self, prefix: str, default_temp_limit: float | None = None) -> None:
        is_gpu = prefix != "cpu"
        self.prefix = prefix
        if default_temp_limit is None:
            default_temp_limit = DEFAULT_TEMP_LIMIT_GPU if is_gpu else DEFAULT_TEMP_LIMIT_CPU
        self.default_temp_limit = default_temp_limit
        self.window = DeviceWindow()
        self.collapse = CollapseDetector(prefix)
        self.throttle: ThrottleAccount | None = ThrottleAccount() if is_gpu else None
        # (sample index, event without ts) produced since the caller last drained it.
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.samples = 0
        self.util_sum = 0.0
        self.util_n = 0
        self.max_temp = -inf
        self.max_power = -inf
        self.rle_min = inf
        self.rle_max = -inf
        self._t_first: float | None = None
        self._t_prev = 0.0
        self._warm = False
        self._peak = 0.0
        self._alert_bits = 0
        self._throttle_mask: int | None = None  # the previous sample's bitmask, None: not read
        self.sm_sum = 0.0
        self.sm_n = 0
        self._misleading_since: float | None = None
        self.energy = EnergyAccount("integrated_power" if is_gpu else "rapl")

    def update(
        self,
        t: float,
        util: float | None,
        temp: float | None,
        power: float | None,
        power_limit: float | None,
        temp_limit: float | None,
        throttle: int | None = None,
        mem_util: float | None = None,
        sm_active: float | None = None,
        energy: float | None = None,
    ) -> Derived:
        """One sample at `t` seconds (None = null); returns the derived values in schema order."""
        index = self.samples
        self.samples = index + 1
        u = self._take(t, util, temp, power, sm_active, energy)
        window = self.window
        sigma, rate = window.push(t, u, temp)
        stability = 1.0 / (1.0 + sigma)
        a_load = power / power_limit if power is not None and power_limit is not None and power_limit > 0 else None
        limit = self.default_temp_limit if temp_limit is None else temp_limit
        t_sustain = sustain_seconds(temp, limit, rate)
        sustain_factor = 1.0 + 1.0 / t_sustain
        e_th = stability / sustain_factor
        if a_load is None or u is None:
            rle = e_pw = None
        else:
            a = a_load if a_load > A_LOAD_FLOOR else A_LOAD_FLOOR
            e_pw = u / a
            rle = u * stability / (a * sustain_factor)
        rle_s = window.push_rle(rle)
        if rle_s is not None:
            if rle_s < self.rle_min:
                self.rle_min = rle_s
            if rle_s > self.rle_max:
                self.rle_max = rle_s
        bits = self._alerts(index, t, util, temp, limit, a_load, throttle, mem_util, sm_active)
        self._weigh_throttle(t, throttle)
        peak, collapse = self._collapse(index, t, u, temp, limit, a_load, t_sustain, throttle, rle_s)
        self._t_prev = t
        return a_load, t_sustain, rle, rle_s, e_th, e_pw, peak, collapse, _ALERT_TEXT[bits]

    def _take(self, t: float, util: float | None, temp: float | None, power: float | None,
              sm_active: float | None, energy: float | None) -> float | None:
        """Fold the sample's readings into the summary's running figures; returns `u` (§2.1)."""
        self.energy.add(t, power, energy)
        if temp is not None and temp > self.max_temp:
            self.max_temp = temp
        if power is not None and power > self.max_power:
            self.max_power = power
        if sm_active is not None:
            self.sm_sum += sm_active
            self.sm_n += 1
        if util is None:
            return None
        self.util_sum += util
        self.util_n += 1
        u = util / 100.0
        return 0.0 if u < 0.0 else 1.0 if u > 1.0 else u

    def _alerts(self, index: int, t: float, util: float | None, temp: float | None, limit: float,
                a_load: float | None, throttle: int | None, mem_util: float | None, sm_active: float | None) -> int:
        """This sample's alert bits (§4, and UTIL_MISLEADING); an alert that starts is also an event."""
        bits = TEMP_LIMIT if temp is not None and temp >= limit else 0
        if a_load is not None and a_load > OVER_POWER_A_LOAD:
            bits |= OVER_POWER
        if throttle:
            if throttle & ALERT_POWER:
                bits |= THROTTLE_POWER
            if throttle & THERMAL:
                bits |= THROTTLE_THERMAL
        if mem_util is not None and mem_util >= MEM_PRESSURE_PCT:
            bits |= MEM_PRESSURE
        if util is not None and util >= MISLEADING_UTIL_PCT and sm_active is not None and sm_active < MISLEADING_SM_PCT:
            if self._misleading_since is None:
                self._misleading_since = t
            if t - self._misleading_since >= MISLEADING_FOR_S:
                bits |= UTIL_MISLEADING
        else:
            self._misleading_since = None
        if bits & ~self._alert_bits:
            self._alert_started(index, bits & ~self._alert_bits)
        self._alert_bits = bits
        return bits

    def _weigh_throttle(self, t: float, throttle: int | None) -> None:
        """A GPU's throttle seconds per cause: a sample weighs t_{k+1} - t_k, so the previous one is weighed now
        (a sample without a bitmask weighs nothing: unknown)."""
        account = self.throttle
        if account is not None:
            if self._throttle_mask is not None:
                account.add(t - self._t_prev, self._throttle_mask)
            if throttle is None:
                self._throttle_mask = None
            else:
                account.read()
                self._throttle_mask = throttle & ~GPU_IDLE

    def _collapse(self, index: int, t: float, u: float | None, temp: float | None, limit: float,
                  a_load: float | None, t_sustain: float, throttle: int | None,
                  rle_s: float | None) -> tuple[float, int]:
        """The rolling peak and the collapse flag (§3); a collapse that starts or ends is also an event."""
        if self._t_first is None:
            self._t_first = t
        if t - self._t_first < WARMUP_S:
            return 0.0, 0
        peak = self._peak * PEAK_DECAY_PER_S ** (t - self._t_prev) if self._warm else 0.0
        self._warm = True
        if rle_s is not None and rle_s > peak:
            peak = rle_s
        self._peak = peak
        detector = self.collapse
        candidate = (
            rle_s is not None
            and rle_s < COLLAPSE_DROP * peak
            and ((u is not None and u > LOADED_UTIL) or (a_load is not None and a_load > LOADED_A_LOAD))
        )
        if not (candidate or detector.active or detector.run_start is not None):
            return peak, 0
        evidence = candidate and (
            t_sustain < EVIDENCE_SUSTAIN_S
            or (temp is not None and temp >= limit - EVIDENCE_TEMP_MARGIN_C)
            or (a_load is not None and a_load > EVIDENCE_A_LOAD)
            or bool(throttle and throttle & EVIDENCE)
        )
        collapse, event = detector.step(t, candidate, evidence, rle_s)
        if event is not None:
            self.events.append((index, event))
        return peak, collapse

    def finish(self, t_last: float) -> dict[str, Any] | None:
        """End an active collapse at the last sample's time; returns its collapse_end event."""
        return self.collapse.finish(t_last)

    def _alert_started(self, index: int, new_bits: int) -> None:
        for i, name in enumerate(ALERT_NAMES):
            if new_bits >> i & 1:
                self.events.append((index, {"kind": EventKind.ALERT, "device": self.prefix, "alert": name}))

    def summary(self, t_last: float | None) -> dict[str, Any]:
        """This device's entry of the session summary's `devices` (SIGNALS.md §6).

        An event still active counts as ending at `t_last`, as `finish` would end it.
        """
        detector = self.collapse
        events, seconds = detector.events, detector.seconds
        if detector.active and t_last is not None:
            events += 1
            seconds += t_last - detector.start
        return {
            "max_temp_c": None if self.max_temp == -inf else self.max_temp,
            "max_power_w": None if self.max_power == -inf else self.max_power,
            "mean_util_pct": self.util_sum / self.util_n if self.util_n else None,
            "rle_min": None if self.rle_min == inf else self.rle_min,
            "rle_max": None if self.rle_max == -inf else self.rle_max,
            "collapse_events": events,
            "collapse_seconds": seconds,
            "energy": self.energy.summary(),
        }


def sustain_seconds(temp: float | None, limit: float, rate: float) -> float:
    """t_sustain_s (§2.5): seconds until the temperature limit at the current heating rate, clipped."""
    if temp is None:
        return SUSTAIN_MAX_S
    if temp >= limit:
        return SUSTAIN_MIN_S
    if rate <= HEATING_MIN_C_PER_S:
        return SUSTAIN_MAX_S
    t_sustain = (limit - temp) / rate
    if t_sustain < SUSTAIN_MIN_S:
        return SUSTAIN_MIN_S
    return SUSTAIN_MAX_S if t_sustain > SUSTAIN_MAX_S else t_sustain
