"""The drift-free ticker and the sampler, on an injected virtual clock (no sleeps)."""

from __future__ import annotations

import dataclasses
import errno
import re
import threading
from pathlib import Path

import pytest

from collectors.background import BackgroundGroup
from collectors.base import Collector, Reading
from collectors.clock import RealClock, ScaledClock, VirtualClock
from collectors.phased_clock import PhasedClock
from collectors.sampler import Sampler
from collectors.stream import (
    CONSUMER_POLL_S,
    END,
    EXPORTER,
    PROCESS_TIER,
    SCREEN,
    SESSION_WRITER,
    SPAN_ASSEMBLER,
    LosslessQueue,
    LossyQueue,
    PolledQueue,
)
from collectors.ticker import Ticker


class SlowClock(VirtualClock):
    """Every tick's work takes `cost` seconds of clock time."""

    def __init__(self, cost: float) -> None:
        super().__init__(start_wall_us=0)
        self.cost = cost


class Counting(Collector):
    name = "counting"

    def __init__(self, clock: VirtualClock | None = None, cost: float = 0.0) -> None:
        super().__init__()
        self.calls: list[float] = []
        self.clock, self.cost = clock, cost

    def read(self, elapsed_s: float) -> Reading:
        self.calls.append(elapsed_s)
        if self.clock is not None:
            self.clock.advance(self.cost)
        return {"cpu_util_pct": float(len(self.calls))}


def test_ticks_fall_on_absolute_deadlines_without_drift():
    clock = VirtualClock()
    ticker = Ticker(10, clock, duration_s=1000)
    ticks = list(ticker.ticks(threading.Event()))
    assert len(ticks) == 10_000
    assert ticks[-1].due == ticks[0].due + 999.9 or abs(ticks[-1].due - ticks[0].due - 999.9) < 1e-6
    assert all(t.lag_s == 0 for t in ticks)
    assert ticker.missed == 0


def test_late_tick_runs_and_reports_its_lag():
    clock = VirtualClock()
    ticker = Ticker(10, clock, duration_s=1)
    seen = []
    for tick in ticker.ticks(threading.Event()):
        seen.append(tick)
        if tick.index == 3:
            clock.advance(0.05)  # this tick's work overran by half a period
    assert [t.index for t in seen] == list(range(10))
    assert abs(seen[4].lag_s) < 1e-9  # the schedule absorbed it: tick 4 was still on time
    clock = VirtualClock()
    ticker = Ticker(10, clock, duration_s=1)
    seen = []
    for tick in ticker.ticks(threading.Event()):
        seen.append(tick)
        if tick.index == 3:
            clock.advance(0.25)  # overran by more than a period: slots are counted, not lost silently
    assert ticker.missed == 1
    assert seen[4].index == 5
    assert abs(seen[4].lag_s - 0.05) < 1e-9


def test_sampler_stamps_frames_and_stops_at_duration():
    clock = VirtualClock(start_wall_us=1_000_000)
    collector = Counting()
    sampler = Sampler([collector], hz=4, clock=clock, duration_s=2.0)
    frames = sampler.attach(LossyQueue(10_000))
    sampler.run_inline()
    received = []
    while (batch := frames.get(timeout=0)) is not END and batch is not None:
        received.append(batch.frame)
    assert len(received) == 8
    assert [f["elapsed_s"] for f in received] == [i * 0.25 for i in range(8)]
    assert received[1]["ts"] == 1_250_000
    assert received[0]["cpu_util_pct"] == 1.0
    assert sampler.stats.samples == 8


def test_full_queue_counts_drops_instead_of_blocking():
    sampler = Sampler([Counting()], hz=10, clock=VirtualClock(), duration_s=5)
    frames = sampler.attach(LossyQueue(10))
    sampler.run_inline()  # nobody reads: the sampler must still finish, and say what it dropped
    assert sampler.stats.samples == 50
    assert frames.dropped == 41  # 40 that did not fit, and the oldest, to make room for END
    received = [frames.get(timeout=0) for _ in range(10)]
    assert received[-1] is END and all(b.frame is not None for b in received[:-1])


def test_lossless_queue_waits_for_its_consumer():
    sampler = Sampler([Counting()], hz=10, clock=VirtualClock(), duration_s=5)
    frames = sampler.attach(LosslessQueue(2))
    got = []

    def drain() -> None:
        while (batch := frames.get(timeout=5)) not in (END, None):
            got.append(batch)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    sampler.run_inline()
    reader.join(timeout=10)
    assert len(got) == 50 and frames.dropped == 0


class Hanging(Collector):
    name = "nvml"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.first = threading.Event()

    def read(self, elapsed_s: float) -> Reading:
        if self.first.is_set():
            self.release.wait()
        self.first.set()
        return {"gpu0_util_pct": 50.0}


def test_a_hung_slow_source_does_not_stall_sampling():
    hanging = Hanging()
    background = BackgroundGroup(hanging, {"": hanging}, hz=100, stale_after_s=3600)
    try:
        assert hanging.first.wait(5)
        while background.read(0.0) == {}:  # the first reading may not have been published yet
            pass
        assert background.read(0.0) == {"gpu0_util_pct": 50.0}  # latest value, returned at once
        stale = BackgroundGroup.__new__(BackgroundGroup)
        stale.__dict__.update(background.__dict__)
        stale._stale_after_s = -1.0  # anything is older than this: values become null, told once
        stale._notices, stale._noticed = [], set()
        assert stale.read(0.0) == {"gpu0_util_pct": None}
        assert stale.read(0.0) == {"gpu0_util_pct": None}
        [told] = stale.drain_notices()
        assert told.startswith("nvml: no reading for ") and told.endswith(" s (stalled); values are null until it answers")
    finally:
        hanging.release.set()
        background.close()


def test_posted_tag_reaches_the_signal_stage_and_subscribers():
    class Stage:
        def __init__(self) -> None:
            self.tags: list[tuple[int, str]] = []

        def add_tag(self, ts_us: int, state: str) -> None:
            self.tags.append((ts_us, state))

        def process(self, frame):
            return []

        def finish(self):
            return [{"kind": "collapse_end"}]

    stage = Stage()
    sampler = Sampler([Counting()], hz=1, clock=VirtualClock(start_wall_us=0), duration_s=2, signals=stage)
    frames = sampler.attach(LossyQueue(10_000))
    sampler.post_event({"ts": "1970-01-01T00:00:00.500000Z", "kind": "tag", "state": "eval"})
    sampler.run_inline()
    batches = []
    while (batch := frames.get(timeout=0)) is not END:
        batches.append(batch)
    assert stage.tags == [(500_000, "eval")]
    assert batches[0].events[0]["state"] == "eval"
    assert batches[-1].events == ({"kind": "collapse_end"},)


def test_polled_queue_hands_over_every_batch_in_order_then_end_then_nothing():
    sampler = Sampler([Counting()], hz=10, clock=VirtualClock(), duration_s=2)
    frames = sampler.attach(PolledQueue(10_000, 0.05))
    sampler.run_inline()
    received = []
    while (batch := frames.get(timeout=1.0)) is not END:
        assert batch is not None
        received.append(batch.frame["elapsed_s"])
    assert received == pytest.approx([i / 10 for i in range(20)])
    assert frames.get(timeout=None) is None  # after END it answers at once, never blocks


def test_polled_queue_wakes_a_waiting_reader_when_the_sampler_stops():
    sampler = Sampler([Counting()], hz=10, clock=VirtualClock(), duration_s=1)
    frames = sampler.attach(PolledQueue(10_000, 3600.0))  # a reader asleep for an hour must still see END
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend(iter(lambda: frames.get(timeout=None), END)), daemon=True)
    reader.start()
    sampler.run_inline()
    reader.join(timeout=30)
    assert not reader.is_alive() and len(got) == 10


def test_the_stream_policy_decides_every_sinks_queue_from_the_clock():
    """Virtual time (a run's fast phases too): every sink lossless and never polled, whatever its latency;
    real or sped-up time: lossy, sized by the rate, polled only by a sink that may be late."""
    for clock in (VirtualClock(), PhasedClock(None, 1.0), PhasedClock(60.0, 1.0)):
        stream = Sampler([Counting()], hz=100, clock=clock).stream
        for sink in (SESSION_WRITER, SPAN_ASSEMBLER, PROCESS_TIER, EXPORTER, SCREEN):
            frames = stream.subscribe(sink)
            assert type(frames) is LosslessQueue and frames.maxsize == sink.min_batches
    for clock in (RealClock(), ScaledClock(60.0)):
        stream = Sampler([Counting()], hz=100, clock=clock).stream
        writer, exporter, tier = (stream.subscribe(sink) for sink in (SESSION_WRITER, EXPORTER, PROCESS_TIER))
        assert type(writer) is PolledQueue and writer.poll_s == CONSUMER_POLL_S and writer.maxsize == 6000
        assert type(exporter) is LossyQueue and exporter.maxsize == 6000
        assert type(tier) is PolledQueue and tier.maxsize == 1000
        realtime = stream.subscribe(dataclasses.replace(SESSION_WRITER, latency_s=0.0))
        assert type(realtime) is LossyQueue  # --realtime: woken for every batch


def test_clock_kinds_are_checked_only_by_the_stream_policy():
    """Call sites ask the policy; none of them looks at the kind of clock to size or pace a queue."""
    root = Path(__file__).resolve().parents[2]
    checks = [str(path.relative_to(root)) for package in ("collectors", "recordings", "rigscope", "tui")
              for path in (root / package).rglob("*.py")
              if re.search(r"isinstance\([^)]*(VirtualClock|PhasedClock)\)", path.read_text(encoding="utf-8"))]
    assert checks == ["collectors/stream.py"]


class Recording:
    """A signal stage that notes how many reads had been made when each frame was derived."""

    def __init__(self, collector: Counting) -> None:
        self.collector = collector
        self.reads_at_derive: list[int] = []

    def add_tag(self, ts_us: int, state: str) -> None: ...

    def process(self, frame):
        self.reads_at_derive.append(len(self.collector.calls))
        return []

    def finish(self):
        return []


def run_recording(hz: float, seconds: float) -> tuple[Recording, list[float]]:
    collector = Counting()
    stage = Recording(collector)
    sampler = Sampler([collector], hz=hz, clock=VirtualClock(), duration_s=seconds, signals=stage)
    frames = sampler.attach(LossyQueue(10_000))
    sampler.run_inline()
    handed_out = [batch.frame["elapsed_s"] for batch in iter(lambda: frames.get(timeout=0), END) if batch.frame]
    return stage, handed_out


def test_above_10_hz_frames_are_derived_and_handed_out_a_tenth_of_a_second_at_a_time():
    stage, handed_out = run_recording(hz=100, seconds=0.35)
    # 35 reads: derived in tens after the 10th, 20th and 30th read, the last five when sampling stops.
    assert stage.reads_at_derive == [10] * 10 + [20] * 10 + [30] * 10 + [35] * 5
    assert handed_out == pytest.approx([i / 100 for i in range(35)])  # each with the time of its own read


def test_at_10_hz_and_below_each_frame_is_derived_right_after_its_read():
    stage, handed_out = run_recording(hz=10, seconds=1.0)
    assert stage.reads_at_derive == list(range(1, 11))
    assert len(handed_out) == 10


def test_a_tag_posted_while_frames_wait_applies_from_its_own_time():
    from collectors.signals import SignalPipeline
    from collectors.simulated import SimulatedCollector
    from collectors.timeutil import iso_from_us

    clock = VirtualClock(start_wall_us=0)
    sampler = Sampler([SimulatedCollector(1)], hz=100, clock=clock, duration_s=0.1, signals=SignalPipeline([0]))
    frames = sampler.attach(LossyQueue(10_000))
    # Posted before the batch of ten is derived: the frames read before 45 ms keep the heuristic's state.
    sampler.post_event({"ts": iso_from_us(45_000), "kind": "tag", "state": "eval"})
    sampler.run_inline()
    rows = [batch.frame for batch in iter(lambda: frames.get(timeout=0), END) if batch.frame]
    sources = [(row["ts"] >= 45_000, row["workload_source"]) for row in rows]
    assert len(rows) == 10
    assert all(source == "tag" for late, source in sources if late)
    assert all(source != "tag" for late, source in sources if not late)


def test_a_short_real_wait_sleeps_a_long_one_ends_when_stopped():
    import time

    from collectors.clock import wait_real

    stop = threading.Event()
    assert wait_real(0.01, stop) is False
    stop.set()
    assert wait_real(0.01, stop) is True  # stop is looked at once the short sleep is over
    started = time.monotonic()
    assert wait_real(3600.0, stop) is True and time.monotonic() - started < 60  # an hour's wait ends at once


class OutOfFiles(Counting):
    """Reads fail with EMFILE on ticks 2 and 3, as psutil does when the process has no file descriptor left."""

    def read(self, elapsed_s):
        reading = super().read(elapsed_s)
        if len(self.calls) in (2, 3):
            raise OSError(errno.EMFILE, "Too many open files")
        return reading


def test_a_failed_read_is_null_for_that_tick_with_one_notice():
    sampler = Sampler([OutOfFiles()], hz=10, clock=VirtualClock(), duration_s=1)
    frames = sampler.attach(LossyQueue(10_000))
    sampler.run_inline()  # the sampler goes on: no exception leaves it
    received = []
    while (batch := frames.get(timeout=0)) is not END and batch is not None:
        received.append(batch.frame)
    assert len(received) == 10
    assert [f.get("cpu_util_pct") for f in received[:5]] == [1.0, None, None, 4.0, 5.0]
    assert len(sampler.stats.notices) == 1 and "Too many open files" in sampler.stats.notices[0]
