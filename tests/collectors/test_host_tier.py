"""The host tier: memory, swap, disk and network read at their own rate, carried with their own time, null when stalled."""

from __future__ import annotations

import pytest

from collectors.clock import VirtualClock
from collectors.host import HostCollector
from collectors.sampler import END, Sampler
from collectors.schema import HOST_TIER_COLUMNS, HOST_TIME_COLUMN
from collectors.stream import LossyQueue


class ScriptedReads:
    """Host reads that count themselves, advance their counters by 1 MB a read, and fail on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def memory(self) -> tuple[int, int, float, int]:
        if self.failing:
            raise OSError(5, "Input/output error")  # an injected stall: the read does not answer
        self.calls += 1
        return 8 << 30, self.calls << 20, 1.0 * self.calls, 0

    def counters(self) -> tuple[int, int, int, int]:
        mb = self.calls << 20
        return mb, 2 * mb, 3 * mb, 4 * mb

    def close(self) -> None:
        pass


def run_sampler(collector: HostCollector, hz: float, seconds: float) -> list[dict]:
    sampler = Sampler([collector], hz=hz, clock=VirtualClock(), duration_s=seconds)
    frames = sampler.attach(LossyQueue(100_000))
    sampler.run_inline()
    received = []
    while (batch := frames.get(timeout=0)) is not END and batch is not None:
        if batch.frame is not None:
            received.append(batch.frame)
    return received


def test_a_100_hz_frame_with_a_2_hz_host_tier_records_each_host_value_once_per_host_tick():
    reads = ScriptedReads()
    frames = run_sampler(HostCollector(hz=2.0, reads=reads), hz=100, seconds=3.0)
    assert len(frames) == 300
    assert reads.calls == 6  # at 0, 0.5, ..., 2.5 s: not 300
    read_at = sorted({f[HOST_TIME_COLUMN] for f in frames})
    assert read_at == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    for frame in frames:
        age = frame["elapsed_s"] - frame[HOST_TIME_COLUMN]
        assert -1e-9 <= age < 0.5  # carried, never fresher than its read
    # each host value belongs to one read: the rows of one host tick carry that read's value
    by_read = {}
    for frame in frames:
        by_read.setdefault(frame[HOST_TIME_COLUMN], set()).add(frame["mem_used_bytes"])
    assert all(len(values) == 1 for values in by_read.values())
    assert len({f["mem_used_bytes"] for f in frames}) == 6
    # rates are over the host interval (1 MB per 0.5 s read), not over a 10 ms tick
    assert [f["disk_read_bps"] for f in frames if f[HOST_TIME_COLUMN] > 0] == pytest.approx([2 << 20] * 250)


def test_a_stalled_host_tier_is_null_with_its_time_never_the_last_values_carried():
    reads = ScriptedReads()
    collector = HostCollector(hz=2.0, reads=reads)
    rows = [collector.read(k / 100) for k in range(100)]  # one second: reads at 0 and 0.5
    assert rows[99][HOST_TIME_COLUMN] == 0.5 and rows[99]["mem_used_bytes"] == 2 << 20
    reads.failing = True
    stalled = [collector.read(k / 100) for k in range(100, 200)]
    assert all(row[column] is None for row in stalled for column in HOST_TIER_COLUMNS)
    assert any("host read failed" in notice for notice in collector.drain_notices())
    reads.failing = False
    back = [collector.read(k / 100) for k in range(200, 250)]
    assert back[0][HOST_TIME_COLUMN] == 2.0 and back[0]["mem_used_bytes"] == 3 << 20
    assert back[0]["disk_read_bps"] is None  # a rate needs two reads on each side of the stall


def test_a_rate_above_the_sampling_rate_reads_every_tick():
    reads = ScriptedReads()
    frames = run_sampler(HostCollector(hz=100.0, reads=reads), hz=10, seconds=1.0)
    assert reads.calls == 10
    assert [f[HOST_TIME_COLUMN] for f in frames] == [f["elapsed_s"] for f in frames]


def test_the_simulated_source_holds_its_host_values_on_the_same_tier():
    from collectors.simulated import SimulatedCollector

    sim = SimulatedCollector(1, seed=2, host_hz=2.0)
    every_tick = SimulatedCollector(1, seed=2)
    at = sim.read(10.73)
    assert at[HOST_TIME_COLUMN] == 10.5
    assert {c: at[c] for c in HOST_TIER_COLUMNS} == {c: sim.read(10.5)[c] for c in HOST_TIER_COLUMNS}
    assert at["mem_used_bytes"] == every_tick.read(10.5)["mem_used_bytes"]
    assert at["cpu_util_pct"] == every_tick.read(10.73)["cpu_util_pct"]  # CPU utilization stays on the fast tier


def test_a_recorded_session_holds_each_host_read_with_its_time(tmp_path):
    import json

    import polars as pl

    from rigscope.monitor import Monitor, MonitorConfig

    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=1, hz=20.0, speed=None, duration_s=5.0, host_hz=2.0,
                                    directory=str(tmp_path), receive_events=False))
    monitor.start()
    monitor.wait()
    monitor.stop()
    assert monitor.session is not None
    samples = pl.read_parquet(monitor.session / "samples.parquet")
    assert samples.height == 100
    assert samples[HOST_TIME_COLUMN].unique().sort().to_list() == pytest.approx([k / 2 for k in range(10)])
    per_read = samples.group_by(HOST_TIME_COLUMN).agg(pl.col("mem_used_bytes").n_unique(), pl.len())
    assert per_read["mem_used_bytes"].to_list() == [1] * 10 and per_read["len"].to_list() == [10] * 10
    assert samples["cpu_util_pct"].n_unique() > 50  # the fast tier moves every tick
    assert json.loads((monitor.session / "meta.json").read_text())["monitoring"]["host_hz"] == 2.0
