"""The process tier: its CPU cost, and the fast tier's sample lag with and without it.

Setup: 300 sleeping host processes (`sleep`, children of this benchmark) and a
faked NVML (`FakeNvml`) with 8 GPUs that list 50 of those pids as their GPU
processes (so the host side is real psutil work on real processes), per-process
utilization supported; with the default (GPU processes only) and with the 10
busiest host processes by CPU added (`--proc-top 10`, which reads every process's stat).

(a) CPU: the `ProcessCollector` reads N ticks back to back in this thread;
    CPU seconds per tick (thread time) divided by the 2 s interval is the share
    of one core.  Target (issue): under 1 % (the default tier).
(b) Lag: the host sampler of bench_lag at 10 Hz, in rounds of 10 s (4 rounds
    per condition, in turns; 1 round of 5 s with --quick): without the slow tier,
    with a `ProcessTier` (every 2 s) reading its stream as in `rigscope`, and with
    it and top 10.  Each condition's p99 is taken over all its rounds.  Target:
    sample_lag_ms p99 unchanged (within 1 ms).

Run: python bench/bench_processes.py [--quick] [--rounds N]
Prints tables and writes bench/results/processes.json.
"""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager
from typing import Any

from bench_sampler import host_collectors
from common import children, percentile, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.clock import RealClock
from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.nvml import GpuProcess
from collectors.process_tier import ProcessTier
from collectors.processes import ProcessCollector
from collectors.sampler import Sampler
from collectors.signals import SignalPipeline
from collectors.stream import END, LossyQueue

HOST_PROCESSES, GPUS, GPU_PROCESSES, TOP = 300, 8, 50, 10
INTERVAL_S, HZ = 2.0, 10.0
TARGET_CORE_PCT, TARGET_LAG_DELTA_MS = 1.0, 1.0


def sleepers(count: int) -> AbstractContextManager[list[int]]:
    return children(["sleep", "600"], count)


def gpu_collector(pids: list[int], top: int = 0) -> ProcessCollector:
    per_gpu: list[list[GpuProcess]] = [[] for _ in range(GPUS)]
    for n, pid in enumerate(pids[:GPU_PROCESSES]):
        per_gpu[n % GPUS].append(GpuProcess(pid, "compute", (1 + n % 7) << 30))
    gpus = [FakeGpu(processes=procs, process_util={p.pid: (50.0, 10.0) for p in procs}) for procs in per_gpu]
    return ProcessCollector(FakeNvml(gpus), range(GPUS), top=top)


def tier_cpu(collector: ProcessCollector, ticks: int) -> dict[str, Any]:
    collector.rows(0)  # the first tick builds the psutil objects; the steady state is what runs every 2 s
    per_tick = []
    for tick in range(ticks):
        start = time.thread_time()
        rows = collector.rows(tick)
        per_tick.append(time.thread_time() - start)
    mean = sum(per_tick) / len(per_tick)
    return {"ticks": ticks, "rows_per_tick": len(rows), "cpu_ms_per_tick_mean": mean * 1000,
            "cpu_ms_per_tick_p99": percentile([t * 1000 for t in per_tick], 99),
            "core_pct": 100 * mean / INTERVAL_S}


def lags(seconds: float, collector: ProcessCollector | None) -> tuple[list[float], int]:
    """One round of the host sampler (and the slow tier when `collector`): every frame's lag, slow ticks."""
    sampler = Sampler(host_collectors(), HZ, RealClock(), duration_s=seconds, signals=SignalPipeline([]))
    frames = sampler.attach(LossyQueue(10_000))
    tier = None
    if collector is not None:
        tier = ProcessTier(sampler.attach(LossyQueue(100)), collector.rows, INTERVAL_S)
        tier.start()
    found: list[float] = []
    sampler.start()
    while (batch := frames.get(timeout=seconds + 10)) is not END:
        if batch is not None and batch.frame is not None:
            found.append(batch.frame["sample_lag_ms"])
    sampler.join()
    if tier is not None:
        tier.join(10)
    return found, tier.ticks if tier else 0


def lag_rounds(pids: list[int], rounds: int, seconds: float) -> list[dict[str, Any]]:
    """Rounds without the tier, with it, and with it and top 10, in turns (who goes first rotates)."""
    conditions: dict[str, Any] = {"off": None, "on": 0, f"on, top {TOP}": TOP}
    found: dict[str, list[float]] = {name: [] for name in conditions}
    ticks = dict.fromkeys(conditions, 0)
    names = list(conditions)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            top = conditions[name]
            lag, slow = lags(seconds, None if top is None else gpu_collector(pids, top))
            found[name] += lag
            ticks[name] += slow
    return [{"slow_tier": name, "samples": len(v), "slow_ticks": ticks[name], "p50_ms": percentile(v, 50),
             "p99_ms": percentile(v, 99), "max_ms": max(v)} for name, v in found.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ticks, 10 s per lag run (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="lag rounds of each condition (default 4; 1 quick)")
    options = parser.parse_args()
    seconds, ticks, rounds = (5.0, 10, 1) if options.quick else (10.0, 50, 4)
    rounds = options.rounds or rounds
    with sleepers(HOST_PROCESSES) as pids:
        time.sleep(0.5)
        cpu = [{"top": top, **tier_cpu(gpu_collector(pids, top), ticks)} for top in (0, TOP)]
        cpu[0]["pass"] = cpu[0]["core_pct"] < TARGET_CORE_PCT
        print_table(["--proc-top", "ticks", "rows/tick", "CPU ms/tick", "p99 ms", "% of a core at 2 s", "target", ""],
                    [[c["top"], c["ticks"], c["rows_per_tick"], c["cpu_ms_per_tick_mean"], c["cpu_ms_per_tick_p99"],
                      c["core_pct"], f"< {TARGET_CORE_PCT:g} %" if "pass" in c else "—", verdict(c.get("pass"))]
                     for c in cpu], digits=3,
                    title=f"process tier: {HOST_PROCESSES} sleeping host processes, {GPUS} GPUs, {GPU_PROCESSES} GPU processes")
        runs = lag_rounds(pids, rounds, seconds)
    delta = runs[1]["p99_ms"] - runs[0]["p99_ms"]
    ok = delta < TARGET_LAG_DELTA_MS
    print_table(["slow tier", "samples", "slow ticks", "p50 ms", "p99 ms", "max ms"],
                [[r["slow_tier"], r["samples"], r["slow_ticks"], r["p50_ms"], r["p99_ms"], r["max_ms"]] for r in runs],
                digits=3, title=f"fast tier sample_lag_ms at {HZ:g} Hz: p99 {delta:+.3f} ms with the default slow tier "
                                f"(target < {TARGET_LAG_DELTA_MS:g} ms): {verdict(ok)}")
    write_result("processes", {"quick": options.quick, "host_processes": HOST_PROCESSES, "gpus": GPUS,
                               "gpu_processes": GPU_PROCESSES, "top": TOP, "interval_s": INTERVAL_S,
                               "cpu": cpu, "lag": runs, "p99_delta_ms": delta, "lag_pass": ok})


if __name__ == "__main__":
    main()
