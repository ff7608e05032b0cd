"""The HTTP exporter's view of the frame stream: a small thread keeps an immutable snapshot up to date.

`ExportFeed` drains one sampler subscription and folds every batch into
running totals: the latest frame, GPU throttle seconds per cause (weighted as
`signals.throttle` does, by the time to the next frame), disk and network
bytes (each frame's rate times its tick), collapse events per device (counted
from `collapse_start` events), workload states seen, and spans (paired
`span_start`/`span_end` events).  After each drained run of batches it
publishes an `ExportSnapshot`; HTTP handler threads only read that reference,
so a scrape never waits for the sampler and the sampler never waits for a
scrape.  Nothing here touches the network or Textual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collectors.energy import EnergyAccount
from collectors.event_kinds import EventKind
from collectors.sampler import END, Batch, FrameQueue
from collectors.signals.throttle import GPU_IDLE, ThrottleAccount
from collectors.timeutil import us_from_iso
from collectors.values import finite as _number

HEURISTIC_STATES = ("idle", "data_prep", "io", "compute")
THROTTLE_CAUSES = ("power_cap", "thermal", "power_brake", "other")
# Upper bounds (seconds) of the span duration histogram; +Inf is implied.
SPAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Bytes counters: (counter key, rate column).
IO_RATES = (("disk_read", "disk_read_bps"), ("disk_written", "disk_write_bps"),
            ("network_receive", "net_recv_bps"), ("network_transmit", "net_sent_bps"))
MAX_STATES = 32  # tag names are free text: keep the label set bounded
MAX_SPAN_NAMES = 100  # further names count under OTHER_SPANS
OTHER_SPANS = "other"
MAX_OPEN_SPANS = 1000
MIB = 1 << 20


@dataclass(frozen=True)
class SpanStats:
    """Finished spans of one name (or all names): counts, durations and the TTS averages' sums."""

    name: str
    count: int = 0
    successful: int = 0
    bucket_counts: tuple[int, ...] = (0,) * len(SPAN_BUCKETS)  # per bucket, not cumulative
    timed: int = 0  # spans with a known duration
    duration_sum: float = 0.0
    duration_min: float | None = None
    duration_max: float | None = None
    rtf_sum: float = 0.0
    rtf_n: int = 0
    peak_memory_sum_mb: float = 0.0
    peak_memory_n: int = 0
    peak_memory_max_mb: float | None = None
    tokens_per_second_sum: float = 0.0
    tokens_per_second_n: int = 0

    @property
    def failed(self) -> int:
        return self.count - self.successful

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound, count of timed spans at or below it), +Inf last."""
        out, running = [], 0
        for bound, count in zip(SPAN_BUCKETS, self.bucket_counts):
            running += count
            out.append((bound, running))
        out.append((float("inf"), self.timed))
        return out


class _SpanAccount:
    """Mutable twin of SpanStats, owned by the feed thread."""

    __slots__ = ("name", "count", "successful", "buckets", "timed", "duration_sum", "duration_min", "duration_max",
                 "rtf_sum", "rtf_n", "mem_sum", "mem_n", "mem_max", "tps_sum", "tps_n")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = self.successful = self.timed = self.rtf_n = self.mem_n = self.tps_n = 0
        self.buckets = [0] * len(SPAN_BUCKETS)
        self.duration_sum = self.rtf_sum = self.mem_sum = self.tps_sum = 0.0
        self.duration_min: float | None = None
        self.duration_max: float | None = None
        self.mem_max: float | None = None

    def add(self, success: bool, duration: float | None, rtf: float | None, peak_mb: float | None,
            tokens_per_s: float | None) -> None:
        self.count += 1
        self.successful += success
        if duration is not None:
            self.timed += 1
            self.duration_sum += duration
            self.duration_min = duration if self.duration_min is None else min(self.duration_min, duration)
            self.duration_max = duration if self.duration_max is None else max(self.duration_max, duration)
            for i, bound in enumerate(SPAN_BUCKETS):
                if duration <= bound:
                    self.buckets[i] += 1
                    break
        if rtf is not None:
            self.rtf_sum += rtf
            self.rtf_n += 1
        if peak_mb is not None:
            self.mem_sum += peak_mb
            self.mem_n += 1
            self.mem_max = peak_mb if self.mem_max is None else max(self.mem_max, peak_mb)
        if tokens_per_s is not None:
            self.tps_sum += tokens_per_s
            self.tps_n += 1

    def frozen(self) -> SpanStats:
        return SpanStats(self.name, self.count, self.successful, tuple(self.buckets), self.timed, self.duration_sum,
                         self.duration_min, self.duration_max, self.rtf_sum, self.rtf_n, self.mem_sum, self.mem_n,
                         self.mem_max, self.tps_sum, self.tps_n)


@dataclass
class _OpenSpan:
    name: str
    start_us: int | None
    attrs: dict[str, Any]
    peak_mem_bytes: float | None = None


@dataclass(frozen=True)
class ExportSnapshot:
    """What the endpoints read: never mutated once published."""

    frame: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    samples: int = 0
    dropped: int = 0
    throttle_s: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # gpu prefix -> THROTTLE_CAUSES order
    collapse_events: Mapping[str, int] = field(default_factory=dict)  # device prefix -> collapse_start count
    peaks: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)  # device -> max °C, max W
    io_bytes: Mapping[str, float] = field(default_factory=dict)  # IO_RATES keys -> bytes since the first frame
    states: tuple[str, ...] = HEURISTIC_STATES
    spans: tuple[SpanStats, ...] = ()  # per name
    span_totals: SpanStats = SpanStats("")
    open_spans: int = 0
    energy: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # device -> EnergyAccount.summary()
    last_frame_monotonic: float | None = None  # time.monotonic() when the latest frame arrived
    ended: bool = False


class ExportFeed:
    """A thread that drains `frames` into running totals and publishes an `ExportSnapshot`."""

    def __init__(self, frames: FrameQueue | None, gpu_prefixes: Sequence[str], device_prefixes: Sequence[str]) -> None:
        self._frames = frames
        self._gpus = list(gpu_prefixes)
        self._devices = list(device_prefixes)
        self._throttle = {p: ThrottleAccount() for p in self._gpus}
        self._masks = {p: 0 for p in self._gpus}
        self._mask_cols = [(p, f"{p}_throttle_reasons") for p in self._gpus]
        self._collapses = {p: 0 for p in self._devices}
        self._peaks: dict[str, list[float | None]] = {p: [None, None] for p in self._devices}
        self._peak_cols = [(self._peaks[p], f"{p}_temp_c", f"{p}_power_w") for p in self._devices]
        self._energy = {p: EnergyAccount("rapl" if p == "cpu" else "integrated_power") for p in self._devices}
        self._energy_cols = [(self._energy[p], f"{p}_power_w", None if p == "cpu" else f"{p}_energy_j")
                             for p in self._devices]
        self._io = {key: 0.0 for key, _ in IO_RATES}
        self._states = list(HEURISTIC_STATES)
        self._open: dict[Any, _OpenSpan] = {}
        self._span_names: dict[str, _SpanAccount] = {}
        self._span_totals = _SpanAccount("")
        self._spans_frozen: tuple[tuple[SpanStats, ...], SpanStats] = ((), self._span_totals.frozen())
        self._frame: Mapping[str, Any] = {}
        self._t_prev: float | None = None
        self._samples = 0
        self._last_frame_at: float | None = None
        self._ended = False
        self.started_monotonic = time.monotonic()
        self._snapshot = ExportSnapshot()
        self._stop = threading.Event()
        # Called in the feed thread right after each publish (the HTTP exporter renders there while
        # scrapes come fast, so that renders follow a tick instead of colliding with the next one).
        self.on_publish: Callable[[ExportSnapshot], None] | None = None
        self._thread = threading.Thread(target=self._run, name="rigscope-http-feed", daemon=True)

    # -- thread ------------------------------------------------------------
    def start(self) -> None:
        self.started_monotonic = time.monotonic()
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        source = self._frames
        assert source is not None
        try:
            self._follow(source)
        finally:  # however it ends, a lossless queue (virtual time) must not hold the sampler
            source.abandon()

    def _follow(self, source: FrameQueue) -> None:
        while not self._stop.is_set():
            batch = source.get(timeout=0.25)
            taken = 0
            while batch is not None:  # drain what is queued, then publish once
                if batch is END:
                    self._ended = True
                    self.publish()
                    return
                self.take(batch)
                taken += 1
                if taken >= 512:
                    break
                batch = source.get(timeout=0)
            if taken:
                self.publish()

    def snapshot(self) -> ExportSnapshot:
        """The latest published snapshot (any thread)."""
        return self._snapshot

    # -- folding batches (the feed thread, or a test, calls these) ---------
    def take(self, batch: Batch) -> None:
        if batch.frame is not None:
            self._take_frame(batch.frame)
        for event in batch.events:
            self._take_event(event)

    def _take_frame(self, frame: Mapping[str, Any]) -> None:
        t = _number(frame.get("elapsed_s"))
        dt = t - self._t_prev if t is not None and self._t_prev is not None else 0.0
        if dt > 0:
            # A sample's throttle mask weighs the time to the next sample (signals.throttle does the same).
            for prefix, mask in self._masks.items():
                if mask:
                    self._throttle[prefix].add(dt, mask)
            # A rate covers the tick that ends at its frame.
            for key, column in IO_RATES:
                rate = _number(frame.get(column))
                if rate is not None and rate > 0:
                    self._io[key] += rate * dt
        for prefix, column in self._mask_cols:
            read = frame.get(column)
            if isinstance(read, int):
                mask = read
            else:  # null, or a float read back from a CSV
                number = _number(read)
                mask = 0 if number is None else int(number)
            self._masks[prefix] = mask & ~GPU_IDLE
        if t is not None:
            self._t_prev = t
            for account, power_col, counter_col in self._energy_cols:
                account.add(t, _number(frame.get(power_col)), _number(frame.get(counter_col)) if counter_col else None)
        for peak, temp_col, power_col in self._peak_cols:
            for i, value in enumerate((_number(frame.get(temp_col)), _number(frame.get(power_col)))):
                if value is not None and (peak[i] is None or value > peak[i]):  # type: ignore[operator]
                    peak[i] = value
        state = frame.get("workload_state")
        if isinstance(state, str) and state and state not in self._states and len(self._states) < MAX_STATES:
            self._states.append(state)
        mem = _number(frame.get("mem_used_bytes"))
        if mem is not None:
            for span in self._open.values():
                if span.peak_mem_bytes is None or mem > span.peak_mem_bytes:
                    span.peak_mem_bytes = mem
        self._frame = frame  # frames are not changed once the sampler has sent them
        self._samples += 1
        self._last_frame_at = time.monotonic()

    def _take_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("kind")
        if kind == EventKind.COLLAPSE_START:
            device = str(event.get("device"))
            self._collapses[device] = self._collapses.get(device, 0) + 1
        elif kind == EventKind.SPAN_START:
            self._span_started(event)
        elif kind == EventKind.SPAN_END:
            self._span_ended(event)

    # -- spans -------------------------------------------------------------
    def _span_started(self, event: Mapping[str, Any]) -> None:
        if len(self._open) >= MAX_OPEN_SPANS:  # a workload that never ends its spans: forget the oldest
            self._open.pop(next(iter(self._open)))
        attrs = event.get("attrs")
        self._open[_span_key(event)] = _OpenSpan(str(event.get("name") or "span"), _ts_us(event),
                                                 dict(attrs) if isinstance(attrs, dict) else {})

    def _span_ended(self, event: Mapping[str, Any]) -> None:
        opened = self._open.pop(_span_key(event), None)
        attrs: dict[str, Any] = dict(opened.attrs) if opened else {}
        if isinstance(event.get("attrs"), dict):
            attrs.update(event["attrs"])
        name = str(event.get("name") or (opened.name if opened else "span"))
        duration = _number(event.get("duration_s"))
        if duration is None:
            duration = _number(event.get("total_duration_s"))
        if duration is not None and duration < 0:
            duration = None
        end_us = _ts_us(event)
        start_us = opened.start_us if opened is not None else _ts_us({"ts": event.get("start_ts")})
        if duration is None and start_us is not None and end_us is not None:
            duration = max(0.0, (end_us - start_us) / 1e6)
        success = event.get("success")
        success = bool(success) if isinstance(success, bool) else not event.get("error")
        rtf = _number(event.get("rtf")) if "rtf" in event else _number(attrs.get("rtf"))
        audio_s = _number(attrs.get("audio_s"))
        if rtf is None and duration is not None and audio_s:
            rtf = duration / audio_s
        peak_mb = _number(event.get("peak_memory_mb"))
        if peak_mb is None:
            peak = opened.peak_mem_bytes if opened else None
            if peak is None:  # shorter than a tick: the closest sample
                peak = _number(self._frame.get("mem_used_bytes"))
            peak_mb = None if peak is None else peak / MIB
        tokens = _number(attrs.get("tokens"))
        if tokens is None:
            tokens = _number(attrs.get("text_length_tokens"))
        tps = tokens / duration if tokens is not None and duration else None
        if name not in self._span_names and len(self._span_names) >= MAX_SPAN_NAMES:
            name = OTHER_SPANS
        account = self._span_names.setdefault(name, _SpanAccount(name))
        for target in (account, self._span_totals):
            target.add(success, duration, rtf, peak_mb, tps)
        self._spans_frozen = (tuple(a.frozen() for a in self._span_names.values()), self._span_totals.frozen())

    # -- publishing ----------------------------------------------------------
    def publish(self) -> ExportSnapshot:
        spans, totals = self._spans_frozen
        self._snapshot = ExportSnapshot(
            frame=MappingProxyType(self._frame),
            samples=self._samples,
            dropped=self._frames.dropped if self._frames is not None else 0,
            throttle_s=MappingProxyType({p: (a.power_cap_s, a.thermal_s, a.power_brake_s, a.other_s)
                                         for p, a in self._throttle.items()}),
            collapse_events=MappingProxyType(dict(self._collapses)),
            peaks=MappingProxyType({p: (v[0], v[1]) for p, v in self._peaks.items()}),
            io_bytes=MappingProxyType(dict(self._io)),
            states=tuple(self._states),
            spans=spans,
            span_totals=totals,
            open_spans=len(self._open),
            energy=MappingProxyType({p: account.summary() for p, account in self._energy.items()}),
            last_frame_monotonic=self._last_frame_at,
            ended=self._ended,
        )
        if self.on_publish is not None:
            try:
                self.on_publish(self._snapshot)
            except Exception:  # noqa: BLE001 (a failing hook never stops the feed)
                pass
        return self._snapshot

    def take_all(self, batches: Iterable[Batch]) -> ExportSnapshot:
        """Fold batches in the calling thread and publish (tests, benchmarks)."""
        for batch in batches:
            if batch is END:
                self._ended = True
                break
            self.take(batch)
        return self.publish()


def _span_key(event: Mapping[str, Any]) -> Any:
    key = event.get("span_id")
    return key if isinstance(key, (str, int)) and not isinstance(key, bool) else ("name", str(event.get("name")))


def _ts_us(event: Mapping[str, Any]) -> int | None:
    ts = event.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        return us_from_iso(ts)
    except ValueError:
        return None
