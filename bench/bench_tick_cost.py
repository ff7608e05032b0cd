"""Tick cost: CPU µs of the sampling thread per tick and of the recorder thread per row, in a running monitor.

The monitor is the one `rigscope demo --gpus-sim 4` builds (`MonitorConfig(source="sim",
gpus_sim=4, record=True)`, real clock, recording into a temporary directory) and the one of
`rigscope record` on this machine (`source="system"`: the host collectors, and NVML where
there is a GPU), without the event receiver; both at 10 and 100 Hz.  Each run starts a fresh
monitor in a child process, lets it warm up, then reads the CPU time of the `rigscope-sampler`
and `rigscope-recorder` threads (their per-thread CPU clocks, `time.pthread_getcpuclockid`)
over a window of wall time, and divides by the ticks sampled and the rows recorded in that
window.  Thread CPU time counts only what that thread ran, so the figures hold on a loaded
machine (caches shared with other work aside), but a thread woken 10 or 100 times a second
finds its caches cold and its core slowed down: those figures are several times the warm ones.
Warm: the same work back to back, as the issue's floor: the sampler's `run_inline` on a virtual
clock (no waits) with the demo's collectors or the host ones and the signal pipeline, and the
recorder's thread body on the frames of a simulated run already queued (up to its close), each
as thread CPU time per tick or row.  Every figure is the median of the runs.

`--baseline DIR` measures another checkout too (its own `.venv/bin/python`, its code first on
PYTHONPATH), run for run alternating with this one, and prints the ratio new/old; the runs
themselves use only `Monitor`, `MonitorConfig` and thread names, which older checkouts have.

No target in the issue; the figures say where the sampler's and recorder's time goes.

Run: python bench/bench_tick_cost.py [--quick] [--runs N] [--seconds S] [--baseline DIR]
Prints a table and writes bench/results/tick_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RATES = (10.0, 100.0)
CONFIGS = ("sim4", "system")
WARMUP_S = 2.0
WARM_TICKS = 3000
THREADS = {"sampler": "rigscope-sampler", "recorder": "rigscope-recorder"}


# ---------------------------------------------------------------- one run (in a child process)

def thread_cpu_s(name: str) -> float | None:
    """CPU seconds of this process's live thread named `name`; None when there is none."""
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return None


def measure(config: str, hz: float, seconds: float) -> dict[str, Any]:
    """Start the monitor, warm up, then µs of CPU per tick (sampler) and per row (recorder) over `seconds`."""
    from rigscope.monitor import Monitor, MonitorConfig

    with tempfile.TemporaryDirectory(prefix="rigscope-bench-tick-") as scratch:
        source = "sim" if config == "sim4" else "system"
        monitor = Monitor(MonitorConfig(source=source, gpus_sim=4, hz=hz, record=True, directory=scratch,
                                        receive_events=False))
        monitor.start()
        try:
            time.sleep(WARMUP_S)
            recorder = monitor.recorder
            assert recorder is not None
            cpu0 = {role: thread_cpu_s(name) for role, name in THREADS.items()}
            ticks0, rows0, wall0 = monitor.stats.samples, recorder.samples, time.perf_counter()
            time.sleep(seconds)
            cpu1 = {role: thread_cpu_s(name) for role, name in THREADS.items()}
            ticks, rows, wall = monitor.stats.samples - ticks0, recorder.samples - rows0, time.perf_counter() - wall0
            columns = len(monitor.columns)
        finally:
            monitor.stop()
    spent = {role: None if cpu0[role] is None or cpu1[role] is None else cpu1[role] - cpu0[role]  # type: ignore[operator]
             for role in THREADS}
    return {
        "config": config, "hz": hz, "wall_s": wall, "ticks": ticks, "rows": rows, "columns": columns,
        "sampler_us_per_tick": None if spent["sampler"] is None or not ticks else spent["sampler"] / ticks * 1e6,
        "recorder_us_per_row": None if spent["recorder"] is None or not rows else spent["recorder"] / rows * 1e6,
        "sampler_pct": None if spent["sampler"] is None else 100.0 * spent["sampler"] / wall,
        "recorder_pct": None if spent["recorder"] is None else 100.0 * spent["recorder"] / wall,
    }


def collectors_of(config: str) -> tuple[list[Any], list[int]]:
    """The collectors `Monitor` builds for `config` (without GPUs for "system"), and the GPU indices."""
    from collectors.cpu import CpuCollector
    from collectors.host import HostCollector
    from collectors.rapl import RaplCollector
    from collectors.self_usage import SelfUsageCollector
    from collectors.simulated import SimulatedCollector

    if config == "sim4":
        return [SimulatedCollector(gpu_count=4, host_hz=2.0), SelfUsageCollector()], [0, 1, 2, 3]
    return [CpuCollector(), RaplCollector(), HostCollector(2.0), SelfUsageCollector()], []


def measure_warm(config: str, hz: float) -> dict[str, Any]:
    """Warm µs per tick of the sampler (virtual clock, no waits) and per row of the recorder (frames queued)."""
    from collectors.clock import VirtualClock
    from collectors.sampler import Sampler
    from collectors.schema import session_columns
    from collectors.signals import SignalPipeline
    from collectors.stream import LossyQueue
    from recordings.recorder import Recorder, RecorderOptions

    collectors, gpus = collectors_of(config)
    sampler = Sampler(collectors, hz, VirtualClock(), duration_s=WARM_TICKS / hz, signals=SignalPipeline(gpus))
    frames = sampler.attach(LossyQueue(WARM_TICKS + 1000))
    cpu0 = time.thread_time()
    sampler.run_inline()
    sampler_us = (time.thread_time() - cpu0) / sampler.stats.samples * 1e6
    for collector in collectors:
        collector.close()
    with tempfile.TemporaryDirectory(prefix="rigscope-bench-tick-") as scratch:
        meta = {"format": 1, "session_id": "bench", "status": "recording", "gpus": [], "warnings": [],
                "total_samples": 0, "summary": {}}
        recorder = Recorder(Path(scratch), meta, session_columns(gpus), frames, RecorderOptions())
        marks: dict[str, float] = {}
        close = recorder._close

        def timed_close() -> None:  # the close (Parquet, compaction) is no row's cost
            marks["close"] = time.thread_time()
            close()

        recorder._close = timed_close  # type: ignore[method-assign]
        cpu0 = time.thread_time()
        recorder._run()  # the recorder thread's body, in this thread
        recorder_us = (marks["close"] - cpu0) / recorder.samples * 1e6
    return {"config": config, "hz": hz, "warm": True, "ticks": sampler.stats.samples, "rows": recorder.samples,
            "sampler_us_per_tick": sampler_us, "recorder_us_per_row": recorder_us}


# ---------------------------------------------------------------- the runs (in the parent)

def run_child(tree: Path, python: str, config: str, hz: float, seconds: float, warm: bool) -> dict[str, Any]:
    """One run in a fresh interpreter that imports rigscope from `tree`."""
    argv = [python, str(Path(__file__).resolve()), "--measure", config, "--hz", str(hz), "--seconds", str(seconds),
            *(["--warm"] if warm else [])]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise SystemExit(f"bench_tick_cost: a run in {tree} failed (exit {done.returncode}): {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def trees(baseline: str | None, root: Path) -> dict[str, tuple[Path, str]]:
    """role -> (checkout, interpreter): this checkout ("new"), and the baseline ("old") when given."""
    found = {"new": (root, sys.executable)}
    if baseline is not None:
        old = Path(baseline).resolve()
        python = old / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"bench_tick_cost: {baseline} has no .venv/bin/python")
        found = {"old": (old, str(python)), **found}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per configuration and rate (default 3; 1 quick)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds of each run (default 10; 3 quick)")
    parser.add_argument("--baseline", metavar="DIR", help="also measure this other checkout (with its own .venv)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    parser.add_argument("--measure", choices=CONFIGS, help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--hz", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    seconds = options.seconds or (3.0 if options.quick else 10.0)
    if options.measure:
        run = measure_warm(options.measure, options.hz) if options.warm else measure(options.measure, options.hz, seconds)
        print(json.dumps(run))
        return
    report(options, seconds)


def report(options: argparse.Namespace, seconds: float) -> None:
    from common import ROOT, median, print_table, write_result  # bench/ is on sys.path; not in the child

    runs = options.runs or (1 if options.quick else 3)
    configs = [c for c in options.configs.split(",") if c]
    if unknown := [c for c in configs if c not in CONFIGS]:
        raise SystemExit(f"bench_tick_cost: unknown configuration {', '.join(unknown)}")
    checkouts = trees(options.baseline, ROOT)
    results: list[dict[str, Any]] = []
    for config in configs:
        for hz in RATES:
            for i in range(runs):
                order = list(checkouts.items()) if i % 2 == 0 else list(checkouts.items())[::-1]
                for role, (tree, python) in order:
                    for warm in (False, True):
                        run = {"tree": role, "warm": warm, **run_child(tree, python, config, hz, seconds, warm)}
                        results.append(run)
                        print(f"  {config} {hz:g} Hz{' warm' if warm else ''} run {i + 1}/{runs} {role}: sampler "
                              f"{run['sampler_us_per_tick']:.1f} µs/tick, recorder {run['recorder_us_per_row']:.1f} "
                              "µs/row", flush=True)

    def med(role: str, config: str, hz: float, warm: bool, key: str) -> float | None:
        values = [r[key] for r in results if (r["tree"], r["config"], r["hz"], r["warm"]) == (role, config, hz, warm)
                  and r[key] is not None]
        return median(values) if values else None

    rows, figures = [], []
    for warm in (False, True):
        for config in configs:
            for hz in RATES:
                for key, label in (("sampler_us_per_tick", "sampler µs/tick"), ("recorder_us_per_row", "recorder µs/row")):
                    by_role = {role: med(role, config, hz, warm, key) for role in checkouts}
                    old, new = by_role.get("old"), by_role["new"]
                    ratio = new / old if old and new is not None else None
                    name = f"{key}_warm" if warm else key
                    figures.append({"config": config, "hz": hz, "figure": name, **by_role, "ratio": ratio})
                    rows.append([f"{config} {hz:g} Hz {label}{', warm' if warm else ''}", *by_role.values(),
                                 *([ratio] if "old" in by_role else [])])
    headers = ["figure", *checkouts, *(["new/old"] if "old" in checkouts else [])]
    print_table(headers, rows, digits=2, title=f"CPU per tick and per row, median of {runs} runs of {seconds:g} s")
    write_result("tick_cost", {
        "quick": options.quick, "runs": runs, "seconds": seconds, "warmup_s": WARMUP_S,
        "trees": {role: str(tree) for role, (tree, _) in checkouts.items()}, "figures": figures, "runs_detail": results,
    })


if __name__ == "__main__":
    main()
