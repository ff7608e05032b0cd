"""The HTTP exporter's view of the frame stream: a small thread keeps an immutable snapshot up to date.

`ExportFeed` drains one sampler subscription and folds every batch into
running totals: the latest frame, GPU throttle seconds per cause (weighted as
`signals.throttle` does, by the time to the next frame), disk and network
bytes (each frame's rate times its tick), collapse events per device (counted
from `collapse_start` events) and workload states seen.  A total whose reading
was never taken (a GPU that cannot say why it throttles, a box without disk
counters) is left out of the snapshot: unknown, not zero; so is a GPU's energy
counter once it is known not to advance under load (`energy.CounterWatch`).
Spans are not counted here: the snapshot takes the figures of the session's span statistics
(`collectors.span_stats`, fed by the span assembler), so `/metrics`, the JSON
bodies and `meta.json` agree.  After each drained run of batches it
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

from collectors.energy import CounterWatch, EnergyAccount
from collectors.event_kinds import EventKind
from collectors.sampler import END, Batch, FrameQueue
from collectors.schema import column
from collectors.signals.throttle import GPU_IDLE, ThrottleAccount
from collectors.span_stats import SpanFigures, SpanStatistics, SpanStats
from collectors.values import finite as _number

HEURISTIC_STATES = ("idle", "data_prep", "io", "compute")
THROTTLE_CAUSES = ("power_cap", "thermal", "power_brake", "other")
# Bytes counters: (counter key, rate column).
IO_RATES = (("disk_read", "disk_read_bps"), ("disk_written", "disk_write_bps"),
            ("network_receive", "net_recv_bps"), ("network_transmit", "net_sent_bps"))
MAX_STATES = 32  # tag names are free text: keep the label set bounded


@dataclass(frozen=True)
class ExportSnapshot:
    """What the endpoints read: never mutated once published."""

    frame: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    samples: int = 0
    dropped: int = 0
    # gpu prefix -> THROTTLE_CAUSES order; only GPUs whose throttle reasons were read at least once
    throttle_s: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    collapse_events: Mapping[str, int] = field(default_factory=dict)  # device prefix -> collapse_start count
    peaks: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)  # device -> max °C, max W
    io_bytes: Mapping[str, float] = field(default_factory=dict)  # IO_RATES keys -> bytes since the first frame (once read)
    states: tuple[str, ...] = HEURISTIC_STATES
    spans: tuple[SpanStats, ...] = ()  # finished spans per name (SpanStatistics.figures)
    span_totals: SpanStats = SpanStats("")
    open_spans: int = 0
    energy: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # device -> EnergyAccount.summary()
    energy_stuck: frozenset[str] = frozenset()  # gpu prefixes whose energy counter does not advance under load
    last_frame_monotonic: float | None = None  # time.monotonic() when the latest frame arrived
    ended: bool = False


class ExportFeed:
    """A thread that drains `frames` into running totals and publishes an `ExportSnapshot` with `spans`' figures."""

    def __init__(self, frames: FrameQueue | None, gpu_prefixes: Sequence[str], device_prefixes: Sequence[str],
                 spans: SpanStatistics | None = None) -> None:
        self._frames = frames
        self._spans = spans
        self._gpus = list(gpu_prefixes)
        self._devices = list(device_prefixes)
        self._throttle = {p: ThrottleAccount() for p in self._gpus}
        self._masks = {p: 0 for p in self._gpus}
        self._mask_cols = [(p, column(p, "throttle_reasons")) for p in self._gpus]
        self._collapses = {p: 0 for p in self._devices}
        self._peaks: dict[str, list[float | None]] = {p: [None, None] for p in self._devices}
        self._peak_cols = [(self._peaks[p], column(p, "temp_c"), column(p, "power_w")) for p in self._devices]
        self._energy = {p: EnergyAccount("rapl" if p == "cpu" else "integrated_power") for p in self._devices}
        self._energy_cols = [(self._energy[p], column(p, "power_w"), None if p == "cpu" else column(p, "energy_j"))
                             for p in self._devices]
        # Until it is known whether each GPU's energy counter advances: (watch, counter column, power column).
        self._energy_watch = {p: (CounterWatch(), column(p, "energy_j"), column(p, "power_w")) for p in self._gpus}
        self._energy_stuck: set[str] = set()
        self._io = {key: 0.0 for key, _ in IO_RATES}
        self._io_read: set[str] = set()  # IO_RATES keys whose rate some frame had
        self._states = list(HEURISTIC_STATES)
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
        for key, rate_col in IO_RATES:
            rate = _number(frame.get(rate_col))
            if rate is not None:
                self._io_read.add(key)
                if dt > 0 and rate > 0:  # a rate covers the tick that ends at its frame
                    self._io[key] += rate * dt
        for prefix, mask_col in self._mask_cols:
            read = frame.get(mask_col)
            bits = read if isinstance(read, int) else _number(read)  # or a float read back from a CSV
            if bits is None:
                self._masks[prefix] = 0  # unknown: the time to the next frame is not counted
                continue
            self._throttle[prefix].read()
            self._masks[prefix] = int(bits) & ~GPU_IDLE
        if t is not None:
            self._t_prev = t
            for account, power_col, counter_col in self._energy_cols:
                account.add(t, _number(frame.get(power_col)), _number(frame.get(counter_col)) if counter_col else None)
            if self._energy_watch:
                self._watch_energy(t, frame)
        for peak, temp_col, power_col in self._peak_cols:
            for i, value in enumerate((_number(frame.get(temp_col)), _number(frame.get(power_col)))):
                if value is not None and (peak[i] is None or value > peak[i]):  # type: ignore[operator]
                    peak[i] = value
        state = frame.get("workload_state")
        if isinstance(state, str) and state and state not in self._states and len(self._states) < MAX_STATES:
            self._states.append(state)
        self._frame = frame  # frames are not changed once the sampler has sent them
        self._samples += 1
        self._last_frame_at = time.monotonic()

    def _watch_energy(self, t: float, frame: Mapping[str, Any]) -> None:
        for prefix, (watch, counter_col, power_col) in list(self._energy_watch.items()):
            advances = watch.add(t, _number(frame.get(counter_col)), _number(frame.get(power_col)))
            if advances is not None:
                del self._energy_watch[prefix]
                if not advances:
                    self._energy_stuck.add(prefix)

    def _take_event(self, event: Mapping[str, Any]) -> None:
        if event.get("kind") == EventKind.COLLAPSE_START:
            device = str(event.get("device"))
            self._collapses[device] = self._collapses.get(device, 0) + 1

    # -- publishing ----------------------------------------------------------
    def publish(self) -> ExportSnapshot:
        spans = self._spans.figures() if self._spans is not None else SpanFigures()
        self._snapshot = ExportSnapshot(
            frame=MappingProxyType(self._frame),
            samples=self._samples,
            dropped=self._frames.dropped if self._frames is not None else 0,
            throttle_s=MappingProxyType({p: (a.power_cap_s, a.thermal_s, a.power_brake_s, a.other_s)
                                         for p, a in self._throttle.items() if a.observed_s is not None}),
            collapse_events=MappingProxyType(dict(self._collapses)),
            peaks=MappingProxyType({p: (v[0], v[1]) for p, v in self._peaks.items()}),
            io_bytes=MappingProxyType({key: self._io[key] for key in self._io_read}),
            states=tuple(self._states),
            spans=spans.names,
            span_totals=spans.totals,
            open_spans=spans.open,
            energy=MappingProxyType({p: account.summary() for p, account in self._energy.items()}),
            energy_stuck=frozenset(self._energy_stuck),
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

