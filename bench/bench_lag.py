"""Sample lag: how late each tick runs (`sample_lag_ms` of the frames), p50/p99/max, at 10 Hz.

The host sampler of bench_sampler (CpuCollector, RaplCollector, HostCollector,
SelfUsageCollector, SignalPipeline([]), RealClock) runs in its background thread (`Sampler.start()`)
for 60 s (20 s with --quick), (a) on an idle machine and (b) while every core
runs a busy loop (one `python -c "while True: pass"` per core, killed after).
Frames are drained by a consumer and their `sample_lag_ms` collected.

Targets (issue): p99 < 2 ms idle, < 10 ms busy.

Run: python bench/bench_lag.py [--quick] [--seconds S]
Prints a table and writes bench/results/lag.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import AbstractContextManager
from typing import Any

from bench_sampler import host_collectors
from common import children, percentile, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.clock import RealClock
from collectors.sampler import Sampler
from collectors.signals import SignalPipeline
from collectors.stream import END, LossyQueue

HZ = 10.0
TARGET_P99_MS = {"idle": 2.0, "busy": 10.0}


def busy_cores(count: int) -> AbstractContextManager[list[int]]:
    """`count` busy-loop subprocesses for the duration of the block, at full speed first; killed after."""
    return children([sys.executable, "-c", "while True: pass"], count, settle_s=1.0)


def collect_lags(seconds: float) -> dict[str, Any]:
    """Run the host sampler in its own thread for `seconds`; every frame's sample_lag_ms."""
    sampler = Sampler(host_collectors(), HZ, RealClock(),
                      duration_s=seconds, signals=SignalPipeline([]))
    frames = sampler.attach(LossyQueue(10_000))
    lags: list[float] = []
    sampler.start()
    while (batch := frames.get(timeout=seconds + 10)) is not END:
        if batch is None:
            raise RuntimeError("the sampler stopped sending frames")
        if batch.frame is not None:
            lags.append(batch.frame["sample_lag_ms"])
    sampler.join()
    return {"samples": len(lags), "missed": sampler.ticker.missed, "lags_ms": lags}


def summarize(condition: str, run: dict[str, Any]) -> dict[str, Any]:
    lags = run["lags_ms"]
    p99 = percentile(lags, 99)
    return {"condition": condition, "samples": run["samples"], "missed_ticks": run["missed"],
            "p50_ms": percentile(lags, 50), "p99_ms": p99, "max_ms": max(lags),
            "target_p99_ms": TARGET_P99_MS[condition], "pass": p99 < TARGET_P99_MS[condition]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s per condition instead of 60 s (smoke test)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per condition (default 60; 20 quick)")
    options = parser.parse_args()
    seconds = options.seconds or (20.0 if options.quick else 60.0)
    cores = os.cpu_count() or 1

    print(f"idle: {seconds:g} s at {HZ:g} Hz", flush=True)
    idle = summarize("idle", collect_lags(seconds))
    print(f"busy: {seconds:g} s at {HZ:g} Hz with {cores} busy-loop processes", flush=True)
    with busy_cores(cores):
        busy = summarize("busy", collect_lags(seconds))

    rows = [[r["condition"], r["samples"], r["missed_ticks"], r["p50_ms"], r["p99_ms"], r["max_ms"],
             f"p99 < {r['target_p99_ms']:g} ms", verdict(r["pass"])] for r in (idle, busy)]
    print_table(["machine", "samples", "missed", "p50 ms", "p99 ms", "max ms", "target", ""], rows, digits=3,
                title=f"sample_lag_ms at {HZ:g} Hz")
    write_result("lag", {"quick": options.quick, "hz": HZ, "seconds": seconds, "busy_processes": cores,
                         "conditions": [idle, busy]})


if __name__ == "__main__":
    main()
