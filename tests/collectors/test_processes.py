"""The process collector over a faked NVML process list (visible and invisible pids), and the slow tier."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.nvml import GpuProcess
from collectors.process_tier import ProcessTier
from collectors.processes import ProcessCollector, short_command
from collectors.stream import Batch, FrameQueue, LossyQueue
from tests.waiting import wait_sync

INVISIBLE = 99_999_999  # above any pid_max: no such process in this namespace


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--rank", "0"])
    # Until the exec is done its command line is the forking parent's: the tests read the child's own.
    wait_sync(lambda: "--rank" in psutil.Process(process.pid).cmdline(), 10, "the child's command line")
    yield process
    process.kill()
    process.wait()


def nvml(child_pid: int, util: dict[int, tuple[float | None, float | None]] | None) -> FakeNvml:
    gpus = [FakeGpu(processes=[GpuProcess(child_pid, "compute", 3 << 30), GpuProcess(INVISIBLE, "compute", 1 << 29)],
                    process_util=util),
            FakeGpu(processes=lambda tick: [GpuProcess(os.getpid(), "graphics", None)] if tick else [])]
    return FakeNvml(gpus)


def test_visible_and_invisible_pids(child: subprocess.Popen[bytes]) -> None:
    backend = nvml(child.pid, {child.pid: (88.0, 12.0)})
    collector = ProcessCollector(backend, [0, 1])
    first = {row["pid"]: row for row in collector.rows(1_000)}
    assert set(first) == {child.pid, INVISIBLE}
    mine, hidden = first[child.pid], first[INVISIBLE]
    assert mine["visible"] and mine["user"] == getpass.getuser() and mine["gpu"] == 0
    assert mine["gpu_mem_bytes"] == 3 << 30 and (mine["sm_pct"], mine["mem_pct"]) == (88.0, 12.0)
    assert mine["command"].endswith("time.sleep(60) --rank 0") and not mine["command"].startswith("/")
    assert mine["rss_bytes"] > 0 and mine["running_s"] >= 0 and mine["ts"] == 1_000
    assert mine["cpu_pct"] is None  # no earlier reading to measure CPU % against
    assert hidden["visible"] is False and hidden["gpu_mem_bytes"] == 1 << 29  # kept, with its memory
    assert hidden["user"] is None and hidden["command"] is None and hidden["sm_pct"] is None
    backend.begin_tick(1)
    backend.begin_tick(1)  # GPU 1's tick 1 (the fake's first begin_tick only starts it)
    second = {row["pid"]: row for row in collector.rows(2_000)}
    assert second[child.pid]["cpu_pct"] is not None
    assert second[os.getpid()]["kind"] == "graphics" and second[os.getpid()]["gpu"] == 1
    assert second[os.getpid()]["gpu_mem_bytes"] is None


def test_utilization_not_supported_is_null_and_told_once(child: subprocess.Popen[bytes]) -> None:
    backend = nvml(child.pid, None)
    collector = ProcessCollector(backend, [0])
    for tick in range(3):
        rows = collector.rows(tick)
        assert all(row["sm_pct"] is None and row["mem_pct"] is None for row in rows)
    notices = collector.drain_notices()
    assert len(notices) == 1 and "per-process utilization not supported" in notices[0]
    assert backend.calls[(0, "process_utilization")] == 1  # not asked again


def test_lost_gpu_is_told_and_the_others_go_on(child: subprocess.Popen[bytes]) -> None:
    backend = nvml(child.pid, {})
    backend.lose_gpu(0, at_tick=0)
    backend.begin_tick(1)
    backend.begin_tick(1)
    collector = ProcessCollector(backend, [0, 1])
    assert [row["pid"] for row in collector.rows(0)] == [os.getpid()]
    assert any("gpu0 lost" in n for n in collector.drain_notices())


def test_top_cpu_processes(child: subprocess.Popen[bytes]) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        collector = ProcessCollector(None, [], top=100_000)  # every process: this machine is shared
        assert collector.rows(0) == []  # the first pass only sets the CPU baselines
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True)
        rows = {r["pid"]: r for r in collector.rows(1)}
        assert all(r["kind"] == "host" and r["gpu"] is None and r["cpu_pct"] is not None for r in rows.values())
        assert rows[busy.pid]["cpu_pct"] > 0
        cpus = [r["cpu_pct"] for r in rows.values()]
        assert cpus == sorted(cpus, reverse=True)
        assert len(ProcessCollector(None, [], top=2).rows(0)) == 0
    finally:
        busy.kill()
        busy.wait()


def test_short_command() -> None:
    assert short_command(["/usr/bin/python3", "train.py", "--lr", "3"]) == "python3 train.py --lr 3"
    assert short_command([], "kworker/0:1") == "kworker/0:1"
    assert len(short_command(["x" * 500])) == 160


def frames(*elapsed: float) -> FrameQueue:
    queue = LossyQueue(100)
    for e in elapsed:
        queue.offer(Batch({"ts": int(e * 1e6), "elapsed_s": e}))
    queue.close()
    return queue


def test_tier_ticks_every_interval_of_sample_time_with_the_frame_ts() -> None:
    seen: list[int] = []
    recorded: list[list[dict]] = []
    tier = ProcessTier(frames(*(i * 0.5 for i in range(10))), lambda ts, frame: (seen.append(ts) or [{"ts": ts}]), 2.0)
    tier.sink = recorded.append
    tier.start()
    assert tier.finished.wait(5)
    assert seen == [0, 2_000_000, 4_000_000]
    assert tier.latest.version == 3 and tier.latest.ts == 4_000_000 and tier.latest.rows == ({"ts": 4_000_000},)
    assert len(recorded) == 3


def test_tier_failure_is_told_once_and_the_tier_goes_on() -> None:
    told: list[str] = []

    def broken(ts: int, frame: dict) -> list[dict]:
        raise RuntimeError("boom")

    tier = ProcessTier(frames(0, 2, 4), broken, 2.0, on_notice=told.append)
    tier.start()
    assert tier.finished.wait(5)
    assert told == ["processes: process list failed (RuntimeError: boom)"] and tier.latest.version == 0
