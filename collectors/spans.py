"""Span assembly (SESSION_FORMAT § Spans): one row per finished span, computed as frames and events stream in.

Pure Python, no data library.  Frames are reduced to a few numbers each and kept
in a short ring (`RING_S` seconds).  An open span takes the samples of the ring
as they age past `LAG_S` (a span_end may arrive a little after the samples that
follow it); a span that ends is finished once a sample at or after its end has
arrived, so its energy covers the whole span.  Per span:

- peaks (host memory, its percent, GPU memory, temperature) and throttling from the
  samples inside `[start, end]`, or from the closest sample when none is inside
  (a span shorter than one tick);
- energy: over each sample's interval `(t_prev, t]` the GPU's average power is the
  difference of its NVML energy counter, else the mean of the power readings at both
  ends (an interval with a null end is not measured, as in the session's energy); the
  CPU package's is its RAPL power (already an average over the tick); each
  interval counts for the part of it the span covers.  `gpu_energy_method` says which
  (`counter`, `integrated_power`, `none`); a span shorter than five updates of the
  counter (its period measured from the frames) would see the counter's steps, not
  the energy: its GPU energy comes from power and `energy_uncertain` is true;
- mean SM active (NVML GPM) over the samples inside and the span's GPUs that measured it;
- rtf, tokens/s, J/token from the attributes `audio_s`, `tokens` (or `text_length_tokens`).

The attribute `gpu` (an index, or `gpu1`) restricts the GPU columns to that GPU;
otherwise GPU memory and energy are summed over the GPUs and temperature is the
maximum of every device.  Finished rows go to `journal` (JSON lines, flushed at
each frame) and to `stats`, a `collectors.span_stats.SpanStatistics` (the one place
span totals, means and percentiles are computed; it also keeps the recent rows);
memory stays bounded however many spans a session has.

Times are seconds on the samples' monotonic clock (`elapsed_s`), so a step of the
wall clock (NTP, a resumed VM) neither reorders samples nor moves spans; an
event's wall time is mapped onto it with the wall clock's shift at the latest sample.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from collectors.energy import UNCERTAIN_PERIODS, CounterPeriod
from collectors.event_kinds import SPAN_KINDS, EventKind
from collectors.schema import gpu_column
from collectors.signals.throttle import GPU_IDLE, OTHER, POWER_BRAKE, POWER_CAP, THERMAL
from collectors.span_stats import SpanStatistics
from collectors.timeutil import iso_from_us, us_from_iso
from collectors.values import finite as _num

RING_S = 30.0
LAG_S = 2.0
CLOSEST_S = 2.0  # a span with no sample inside takes the closest one only within this distance
MAX_OPEN = 10_000  # open spans kept; beyond, the oldest is given up (`abandoned`)
MB = 1024 * 1024
CAUSES = (("power_cap", POWER_CAP), ("thermal", THERMAL), ("power_brake", POWER_BRAKE), ("other", OTHER))

# Row columns in the order of the shared format, then rigscope's own.
FORMAT_COLUMNS = (
    "request_id", "name", "hardware_tier", "device_type", "cpu_model", "cpu_cores", "total_memory_gb",
    "gpu_name", "text_length_chars", "text_length_tokens", "start_time", "end_time", "total_duration_s",
    "peak_memory_mb", "peak_memory_percent", "peak_gpu_memory_mb", "peak_temperature_c", "throttle_detected",
    "rtf", "tokens_per_second", "success", "error_message",
)
EXTRA_COLUMNS = ("span_id", "parent_id", "samples", "energy_j", "gpu_energy_j", "cpu_energy_j",
                 "joules_per_token", "throttle_fraction", "dominant_throttle", "mean_sm_active_pct",
                 "gpu_energy_method", "energy_uncertain")
SPAN_COLUMNS = FORMAT_COLUMNS + EXTRA_COLUMNS
CONSUMED_ATTRS = frozenset({"request_id", "text_length_chars", "text_length_tokens"})


class Sample:
    """One frame, reduced to what spans need.  GPU fields are tuples in the order of `gpu_indices`;
    `cpu_p` and `gpu_p` are average powers (W) over `(t0, t]`."""

    __slots__ = ("t", "t0", "mem_mb", "mem_pct", "cpu_temp", "gpu_mem", "gpu_temp", "gpu_mask", "cpu_p", "gpu_p",
                 "gpu_w", "gpu_energy", "gpu_sm", "gpu_pw", "gpu_counted")

    def __init__(self, t: float, t0: float | None, frame: dict[str, Any], gpu_cols: Sequence[tuple[str, ...]],
                 previous: Sample | None) -> None:
        get = frame.get
        self.t, self.t0 = t, t0
        mem = _num(get("mem_used_bytes"))
        self.mem_mb = None if mem is None else mem / MB
        self.mem_pct = _num(get("mem_util_pct"))
        self.cpu_temp = _num(get("cpu_temp_c"))
        self.cpu_p = _num(get("cpu_power_w"))
        mems: list[float | None] = []
        temps: list[float | None] = []
        masks: list[int | None] = []
        powers: list[float | None] = []
        readings: list[float | None] = []
        energies: list[float | None] = []
        sms: list[float | None] = []
        averages: list[float | None] = []
        counted: list[bool] = []
        for index, (mem_col, temp_col, mask_col, power_col, energy_col, sm_col) in enumerate(gpu_cols):
            used = _num(get(mem_col))
            mems.append(None if used is None else used / MB)
            temps.append(_num(get(temp_col)))
            mask = get(mask_col)
            masks.append(int(mask) if isinstance(mask, (int, float)) and mask == mask else None)
            energy, power = _num(get(energy_col)), _num(get(power_col))
            energies.append(energy)
            readings.append(power)
            by_counter = self._by_counter(index, energy, previous)
            average = self._mean_power(index, power, previous)
            powers.append(average if by_counter is None else by_counter)
            averages.append(average)
            counted.append(by_counter is not None)
            sms.append(_num(get(sm_col)))
        self.gpu_mem, self.gpu_temp, self.gpu_mask, self.gpu_sm = tuple(mems), tuple(temps), tuple(masks), tuple(sms)
        self.gpu_pw, self.gpu_counted = tuple(averages), tuple(counted)
        self.gpu_p, self.gpu_w, self.gpu_energy = tuple(powers), tuple(readings), tuple(energies)

    def _by_counter(self, index: int, energy: float | None, previous: Sample | None) -> float | None:
        """The mean power over the interval from the energy counter (exact up to its steps); None without one."""
        if previous is None or self.t0 is None:
            return None
        dt = self.t - self.t0
        before = previous.gpu_energy[index]
        if energy is not None and before is not None and energy >= before and dt > 0:
            return (energy - before) / dt
        return None

    def _mean_power(self, index: int, power: float | None, previous: Sample | None) -> float | None:
        """The mean power over the interval from the power readings (trapezoid); None where either end has
        none (a gap in the power is not bridged, as in the session's energy: `collectors.energy`)."""
        earlier = previous.gpu_w[index] if previous is not None and self.t0 is not None else None
        if power is not None and earlier is not None:
            return (power + earlier) / 2
        return None


class _Open:
    """A span being accumulated."""

    __slots__ = ("span_id", "name", "parent_id", "attrs", "start", "end", "start_us", "end_us", "duration_s",
                 "success", "error", "applied_upto", "gpus", "n", "mem_mb", "mem_pct", "gpu_mem", "temp", "masked",
                 "throttled", "causes", "cpu_j", "gpu_j", "cpu_seen", "gpu_seen", "sm_sum", "sm_n", "gpu_power_j",
                 "gpu_power_seen", "gpu_counted")

    def __init__(self, span_id: str, name: str, parent_id: Any, attrs: dict[str, Any], start: float,
                 start_us: int, gpus: tuple[int, ...]) -> None:
        self.span_id, self.name, self.parent_id, self.attrs, self.start = span_id, name, parent_id, attrs, start
        self.end: float | None = None
        self.start_us, self.end_us = start_us, start_us  # wall-clock times, as the events gave them
        self.duration_s: float | None = None
        self.success = True
        self.error: str | None = None
        self.applied_upto = float("-inf")
        self.gpus = gpus  # positions in gpu_indices this span's GPU columns come from
        self.n = self.masked = self.throttled = 0
        self.mem_mb: float | None = None
        self.mem_pct: float | None = None
        self.gpu_mem: float | None = None
        self.temp: float | None = None
        self.causes = dict.fromkeys((cause for cause, _ in CAUSES), 0)
        self.cpu_j = self.gpu_j = 0.0
        self.cpu_seen = self.gpu_seen = False
        self.sm_sum, self.sm_n = 0.0, 0
        self.gpu_power_j, self.gpu_power_seen, self.gpu_counted = 0.0, False, False  # from power alone

    def apply(self, sample: Sample, inside: bool = True, energy: bool = True) -> None:
        stop = self.end if self.end is not None else float("inf")
        if energy and sample.t0 is not None:
            overlap = min(sample.t, stop) - max(sample.t0, self.start)
            if overlap > 0:
                if sample.cpu_p is not None:
                    self.cpu_j += sample.cpu_p * overlap
                    self.cpu_seen = True
                for i in self.gpus:
                    power, by_power = sample.gpu_p[i], sample.gpu_pw[i]
                    if power is not None:
                        self.gpu_j += power * overlap
                        self.gpu_seen = True
                        self.gpu_counted |= sample.gpu_counted[i]
                    if by_power is not None:
                        self.gpu_power_j += by_power * overlap
                        self.gpu_power_seen = True
        if not inside:
            return
        self.n += 1
        self.mem_mb = _max(self.mem_mb, sample.mem_mb)
        self.mem_pct = _max(self.mem_pct, sample.mem_pct)
        self.temp = _max(self.temp, sample.cpu_temp)
        used = [used for i in self.gpus if (used := sample.gpu_mem[i]) is not None]
        if used:
            self.gpu_mem = _max(self.gpu_mem, sum(used))
        mask = 0
        any_mask = False
        for i in self.gpus:
            self.temp = _max(self.temp, sample.gpu_temp[i])
            sm, gpu_mask = sample.gpu_sm[i], sample.gpu_mask[i]
            if sm is not None:
                self.sm_sum += sm
                self.sm_n += 1
            if gpu_mask is not None:
                any_mask = True
                mask |= gpu_mask & ~GPU_IDLE
        if any_mask:
            self.masked += 1
            if mask:
                self.throttled += 1
                for cause, bits in CAUSES:
                    if mask & bits:
                        self.causes[cause] += 1


def _max(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None or value > current else current


class SpanTracker:
    """The span assembler: events and frames in, finished span rows out (to the journal and `stats`); thread-safe."""

    def __init__(self, gpu_indices: Sequence[int], host: dict[str, Any] | None = None,
                 gpus: Sequence[dict[str, Any]] | None = None, journal: Path | None = None,
                 recent: int = 500, seed: int = 0) -> None:
        self.gpu_indices = list(gpu_indices)
        self._gpu_cols = [tuple(gpu_column(i, c) for c in ("mem_used_bytes", "temp_c", "throttle_reasons", "power_w",
                                                       "energy_j", "sm_active_pct")) for i in self.gpu_indices]
        self._names = {i: (g.get("name") or None) for i, g in zip(self.gpu_indices, gpus or [])}
        self._periods = [CounterPeriod() for _ in self.gpu_indices]  # each GPU's energy counter
        host = host or {}
        memory = host.get("memory_total_bytes")
        self._context = {
            "hardware_tier": host.get("hardware_tier"),
            "device_type": host.get("device_type") or ("cuda" if self.gpu_indices else "cpu"),
            "cpu_model": host.get("cpu_model"),
            "cpu_cores": host.get("cpu_count_logical"),
            "total_memory_gb": memory / 1024**3 if isinstance(memory, (int, float)) else None,
        }
        self._origin: int | None = None  # µs; times are seconds since it (epoch seconds lose µs in a float)
        self._mono0: float | None = None  # `elapsed_s` at time 0
        self._shift_us = 0  # how far the wall clock has stepped away from the monotonic one, at the latest sample
        self._ring: deque[Sample] = deque()
        self._open: dict[str, _Open] = {}
        self._ending: list[_Open] = []
        self.stats = SpanStatistics(recent, seed)
        self._lock = threading.Lock()
        self._journal: IO[str] | None = None
        self._journal_path = journal  # created with the first finished span
        self._sink: Callable[[dict[str, Any]], None] | None = None
        self._dirty = False
        self._finished: list[dict[str, Any]] = []  # the rows the call under way finished (its return value)

    def set_sink(self, sink: Callable[[dict[str, Any]], None] | None) -> None:
        """Hand each finished span's row to `sink` from now on (the session writer)."""
        with self._lock:
            self._sink = sink

    # -- input ----------------------------------------------------------------------------
    def add_frame(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Take a frame; the rows of the spans it finished (already journaled, counted and handed to the sink)."""
        ts = frame.get("ts")
        if not isinstance(ts, (int, float)):
            return []
        with self._lock:
            finished: list[dict[str, Any]] = []
            self._finished = finished
            previous = self._ring[-1] if self._ring else None
            t = self._frame_seconds(int(ts), frame.get("elapsed_s"))
            if previous is not None and t <= previous.t:
                return finished  # out of order: the ring stays sorted
            sample = Sample(t, previous.t if previous else None, frame, self._gpu_cols, previous)
            for period, energy in zip(self._periods, sample.gpu_energy):
                period.add(t, energy)
            self._ring.append(sample)
            while self._ring and self._ring[0].t < t - RING_S:
                self._ring.popleft()
            for span in self._open.values():
                self._advance(span, t - LAG_S)
            if self._ending:
                self._finish_due(t)
            self._flush()
            return finished

    def add_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Take a span event; the rows of the spans it finished (a span_end whose samples had come)."""
        kind = event.get("kind")
        if kind not in SPAN_KINDS:
            return []
        try:
            ts_us = us_from_iso(str(event["ts"]))
        except (KeyError, ValueError, OverflowError):
            return []
        span_id = str(event.get("span_id"))
        sent = event.get("attrs")
        attrs: dict[str, Any] = sent if isinstance(sent, dict) else {}
        with self._lock:
            finished: list[dict[str, Any]] = []
            self._finished = finished
            ts = self._event_seconds(ts_us)
            if kind == EventKind.SPAN_START:
                if span_id not in self._open:
                    self._open_span(span_id, event, dict(attrs), ts, ts_us)
                return finished
            span = self._open.pop(span_id, None)
            self.stats.open = len(self._open)
            if span is None:  # its start was lost (or came before this monitor): the end says enough
                start = event.get("start_ts")
                try:
                    start_us = us_from_iso(start) if isinstance(start, str) else ts_us
                except (ValueError, OverflowError):
                    start_us = ts_us
                span = self._make(span_id, event, {}, self._event_seconds(start_us), start_us)
            span.attrs.update(attrs)
            span.gpus = self._gpu_positions(span.attrs)
            span.end = max(ts, span.start)
            span.end_us = ts_us if ts >= span.start else span.start_us
            duration = _num(event.get("duration_s"))
            span.duration_s = duration if duration is not None and duration >= 0 else span.end - span.start
            span.success = event.get("success") is not False and not event.get("error")
            span.error = None if event.get("error") is None else str(event.get("error"))
            self._ending.append(span)
            if self._ring and self._ring[-1].t >= span.end:
                self._finish_due(self._ring[-1].t)
                self._flush()
            return finished

    def close(self) -> None:
        """Finish the spans that ended with what is known; open ones are left unfinished."""
        with self._lock:
            self._finished = []
            self._finish_due(float("inf"))
            self._flush()
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # -- reading --------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Spans finished so far."""
        return self.stats.total

    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The last `n` finished spans, newest first."""
        return self.stats.recent(n)

    def summary(self) -> dict[str, Any]:
        """`summary.spans` of the session format (`SpanStatistics.summary`)."""
        return self.stats.summary()

    def by_name(self) -> list[dict[str, Any]]:
        """Per span name and level (`SpanStatistics.by_name`)."""
        return self.stats.by_name()

    def open_spans(self) -> list[dict[str, Any]]:
        """Spans started and not ended: id, name, start time (ISO)."""
        with self._lock:
            return [{"span_id": s.span_id, "name": s.name, "start_time": iso_from_us(s.start_us)}
                    for s in self._open.values()]

    # -- inside -----------------------------------------------------------------------------
    def _seconds(self, ts_us: int) -> float:
        if self._origin is None:
            self._origin = ts_us
        return (ts_us - self._origin) / 1e6

    def _frame_seconds(self, ts_us: int, elapsed: Any) -> float:
        """A sample's time: its monotonic `elapsed_s` where it has one, else its wall time."""
        wall = self._seconds(ts_us)
        if _num(elapsed) is None:
            return wall - self._shift_us / 1e6
        if self._mono0 is None:
            self._mono0 = elapsed - wall
        t = elapsed - self._mono0
        self._shift_us = round((wall - t) * 1e6)
        return t

    def _event_seconds(self, ts_us: int) -> float:
        """An event's time on the samples' clock: its wall time less the wall clock's step so far."""
        return self._seconds(ts_us) - self._shift_us / 1e6

    def _gpu_positions(self, attrs: dict[str, Any]) -> tuple[int, ...]:
        chosen = attrs.get("gpu")
        if isinstance(chosen, str) and chosen.startswith("gpu") and chosen[3:].isdigit():
            chosen = int(chosen[3:])
        if isinstance(chosen, int) and not isinstance(chosen, bool) and chosen in self.gpu_indices:
            return (self.gpu_indices.index(chosen),)
        return tuple(range(len(self.gpu_indices)))

    def _make(self, span_id: str, event: dict[str, Any], attrs: dict[str, Any], start: float,
              start_us: int) -> _Open:
        return _Open(span_id, str(event.get("name")), event.get("parent_id"), attrs, start, start_us,
                     self._gpu_positions(attrs))

    def _open_span(self, span_id: str, event: dict[str, Any], attrs: dict[str, Any], start: float,
                   start_us: int) -> None:
        if len(self._open) >= MAX_OPEN:
            del self._open[next(iter(self._open))]
            self.stats.abandoned += 1
        self._open[span_id] = self._make(span_id, event, attrs, start, start_us)
        self.stats.open = len(self._open)

    def _advance(self, span: _Open, upto: float) -> None:
        """Apply the ring's samples after `span.applied_upto`, up to `upto`, in order."""
        fresh = []
        for sample in reversed(self._ring):
            if sample.t <= span.applied_upto:
                break
            if sample.t <= upto:
                fresh.append(sample)
        end = span.end if span.end is not None else float("inf")
        for sample in reversed(fresh):
            if sample.t >= span.start:  # `apply` counts the part of the interval before `t` the span covers
                span.apply(sample, inside=sample.t <= end)
            span.applied_upto = sample.t

    def _finish_due(self, newest: float) -> None:
        still = []
        for span in self._ending:
            if newest >= span.end:  # type: ignore[operator]
                self._finish(span)
            else:
                still.append(span)
        self._ending = still

    def _finish(self, span: _Open) -> None:
        assert span.end is not None
        self._advance(span, float("inf"))
        if span.n == 0 and self._ring:  # shorter than a tick: the closest sample, if one is near
            def distance(sample: Sample) -> float:
                return max(span.start - sample.t, sample.t - span.end, 0.0)  # type: ignore[operator]

            closest = min(self._ring, key=distance)
            if distance(closest) <= CLOSEST_S:
                span.apply(closest, energy=False)
        self._add(self._row(span))

    def _row(self, span: _Open) -> dict[str, Any]:
        attrs = span.attrs
        duration = span.duration_s if span.duration_s is not None else 0.0
        text = attrs.get("text")
        chars = attrs.get("text_length_chars", len(text) if isinstance(text, str) else None)
        tokens = _num(attrs.get("tokens", attrs.get("text_length_tokens")))
        audio_s = _num(attrs.get("audio_s"))
        cpu_j = span.cpu_j if span.cpu_seen else None
        gpu_j, method, uncertain = self._gpu_energy(span, duration)
        energy = None if cpu_j is None and gpu_j is None else (cpu_j or 0.0) + (gpu_j or 0.0)
        gpu_names = [self._names.get(self.gpu_indices[i]) for i in span.gpus]
        dominant = max(span.causes, key=lambda c: span.causes[c]) if span.throttled else None
        row: dict[str, Any] = {
            "request_id": str(attrs.get("request_id", span.span_id)),
            "name": span.name,
            **self._context,
            "gpu_name": next((n for n in gpu_names if n), None),
            "text_length_chars": chars,
            "text_length_tokens": attrs.get("text_length_tokens", attrs.get("tokens")),
            "start_time": iso_from_us(span.start_us),
            "end_time": iso_from_us(span.end_us),
            "total_duration_s": duration,
            "peak_memory_mb": span.mem_mb,
            "peak_memory_percent": span.mem_pct,
            "peak_gpu_memory_mb": span.gpu_mem,
            "peak_temperature_c": span.temp,
            "throttle_detected": span.throttled > 0 if span.masked else None,
            "rtf": duration / audio_s if audio_s else None,
            "tokens_per_second": tokens / duration if tokens is not None and duration > 0 else None,
            "success": span.success,
            "error_message": span.error,
            "span_id": span.span_id,
            "parent_id": None if span.parent_id is None else str(span.parent_id),
            "samples": span.n,
            "energy_j": energy,
            "gpu_energy_j": gpu_j,
            "cpu_energy_j": cpu_j,
            "joules_per_token": energy / tokens if energy is not None and tokens else None,
            "throttle_fraction": span.throttled / span.masked if span.masked else None,
            "dominant_throttle": dominant,
            "mean_sm_active_pct": span.sm_sum / span.sm_n if span.sm_n else None,
            "gpu_energy_method": method,
            "energy_uncertain": uncertain,
        }
        for key, value in attrs.items():
            if key in CONSUMED_ATTRS:
                continue
            row[f"attr_{key}" if key in row else key] = value
        return row

    def _gpu_energy(self, span: _Open, duration: float) -> tuple[float | None, str, bool]:
        """The span's GPU joules, their method, and whether the window is too short for the counter."""
        if not span.gpu_seen:
            return None, "none", False
        if not span.gpu_counted:
            return span.gpu_j, "integrated_power", False
        periods = [p for p in (self._periods[i].period_s for i in span.gpus) if p is not None]
        if periods and duration < UNCERTAIN_PERIODS * max(periods):
            if span.gpu_power_seen:
                return span.gpu_power_j, "integrated_power", True
            return span.gpu_j, "counter", True
        return span.gpu_j, "counter", False

    def add_row(self, row: dict[str, Any]) -> None:
        """Take a finished span's row made elsewhere (a repaired session's journal): counted in the
        summary, kept among the recent ones, journaled."""
        with self._lock:
            self._finished = []
            self._add(row)

    def _add(self, row: dict[str, Any]) -> None:
        self.stats.add(row)
        self._finished.append(row)
        if self._sink is not None:
            self._sink(row)
        if self._journal is None and self._journal_path is not None:
            self._journal = open(self._journal_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the session)
        if self._journal is not None:
            self._journal.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
            self._dirty = True

    def _flush(self) -> None:
        if self._dirty and self._journal is not None:
            self._journal.flush()
            self._dirty = False

