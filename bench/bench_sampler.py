"""Sampler cost: CPU time of the sampling thread as % of one core, at 1, 10 and 100 Hz, against the bare-psutil floor.

Ours: `Sampler.run_inline()` on a RealClock with every host collector that
`rigscope record` runs on a machine without GPUs (CpuCollector, RaplCollector,
HostCollector, and SelfUsageCollector, which reads once a second) and
`SignalPipeline([])`, one
subscriber drained by a consumer thread; the cost is the `time.thread_time()`
delta of the sampling thread divided by the wall time of the run.
Bare floor: a loop on the same absolute deadlines (k / hz) that only calls the
psutil functions a host sampler needs (cpu_percent(percpu=True), cpu_freq,
sensors_temperatures, virtual_memory, swap_memory, disk_io_counters,
net_io_counters), measured the same way.  Ours and bare runs alternate; each
figure is the median of the runs.

Also: each psutil call's cost timed over many iterations and summed (µs per
sample), the same fields read directly from kept-open /proc files
(collectors.procfs) beside the psutil calls they replace, and our per-sample
cost of each collector's `read` (the host tier reads at its default 2 Hz, so its
figure is amortized over the ticks) and of the signals stage.

Targets (issues): ours <= 1.2x bare; <= 1.2 % of a core at 10 Hz, <= 3 % at 100 Hz.

Run: python bench/bench_sampler.py [--quick] [--runs N] [--seconds S]
Prints a table and writes bench/results/sampler.json.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
from common import median, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors import procfs
from collectors.clock import RealClock
from collectors.cpu import CpuCollector
from collectors.host import HostCollector
from collectors.rapl import RaplCollector
from collectors.sampler import Sampler
from collectors.self_usage import SelfUsageCollector
from collectors.signals import SignalPipeline
from collectors.stream import END, FrameQueue, LossyQueue

RATES = (1.0, 10.0, 100.0)
TARGET_RATIO = 1.2
TARGET_PCT = {10.0: 1.2, 100.0: 3.0}

PSUTIL_CALLS: dict[str, Callable[[], Any]] = {
    "cpu_percent(percpu=True)": lambda: psutil.cpu_percent(percpu=True),
    "cpu_freq()": psutil.cpu_freq,
    "sensors_temperatures()": lambda: getattr(psutil, "sensors_temperatures", dict)(),
    "virtual_memory()": psutil.virtual_memory,
    "swap_memory()": psutil.swap_memory,
    "disk_io_counters()": psutil.disk_io_counters,
    "net_io_counters()": psutil.net_io_counters,
}


def direct_calls() -> dict[str, tuple[str, Callable[[], Any]]]:
    """Each direct /proc read, by the psutil call(s) it replaces."""
    stat, meminfo = procfs.ProcFile("/proc/stat"), procfs.ProcFile("/proc/meminfo")
    diskstats, net_dev, own = procfs.ProcFile("/proc/diskstats"), procfs.ProcFile("/proc/net/dev"), procfs.ProcFile(
        "/proc/self/stat")
    whole, last = procfs.DiskFilter(), [procfs.cpu_times(stat.read())]

    def cpu() -> Any:
        now = procfs.cpu_times(stat.read())
        cores, last[0] = procfs.busy_percent(last[0], now), now
        return cores

    return {
        "cpu_percent(percpu=True)": ("/proc/stat", cpu),
        "virtual_memory() + swap_memory()": ("/proc/meminfo", lambda: procfs.meminfo(meminfo.read())),
        "disk_io_counters()": ("/proc/diskstats", lambda: procfs.diskstats(diskstats.read(), whole)),
        "net_io_counters()": ("/proc/net/dev", lambda: procfs.net_dev(net_dev.read())),
        "Process: cpu_times() + memory_info()": ("/proc/self/stat", lambda: procfs.task_stat(own.read())),
    }


def direct_costs(min_seconds: float) -> list[dict[str, Any]]:
    """µs per call of each direct read beside the psutil call(s) it replaces, timed the same way."""
    process = psutil.Process()
    replaced: dict[str, Callable[[], Any]] = {
        "cpu_percent(percpu=True)": PSUTIL_CALLS["cpu_percent(percpu=True)"],
        "virtual_memory() + swap_memory()": lambda: (psutil.virtual_memory(), psutil.swap_memory()),
        "disk_io_counters()": psutil.disk_io_counters,
        "net_io_counters()": psutil.net_io_counters,
        "Process: cpu_times() + memory_info()": lambda: (process.cpu_times(), process.memory_info()),
    }
    rows = []
    for name, (path, direct) in direct_calls().items():
        before, after = time_call(replaced[name], min_seconds), time_call(direct, min_seconds)
        rows.append({"psutil": name, "direct": path, "psutil_cpu_us": before["cpu_us"],
                     "direct_cpu_us": after["cpu_us"], "speedup": before["cpu_us"] / after["cpu_us"]})
    return rows


def host_collectors() -> list[Any]:
    """The collectors of `rigscope record` on a machine without GPUs, in its order."""
    return [CpuCollector(), RaplCollector(), HostCollector(), SelfUsageCollector()]


def _drain(frames: FrameQueue) -> None:
    while frames.get(timeout=5.0) is not END:
        pass


def run_ours(hz: float, seconds: float) -> dict[str, Any]:
    """One run of the real sampler in this thread; its thread CPU time over the wall time."""
    sampler = Sampler(host_collectors(), hz, RealClock(), duration_s=seconds, signals=SignalPipeline([]))
    consumer = threading.Thread(target=_drain, args=(sampler.attach(LossyQueue(10_000)),), daemon=True)
    consumer.start()
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    sampler.run_inline()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    consumer.join()
    return {"cpu_s": cpu, "wall_s": wall, "pct": 100.0 * cpu / wall, "samples": sampler.stats.samples,
            "missed": sampler.ticker.missed}


def bare_sample() -> None:
    for call in PSUTIL_CALLS.values():
        call()


def run_bare(hz: float, seconds: float) -> dict[str, Any]:
    """The floor: the psutil calls alone, on the same absolute deadlines and the same kind of wait."""
    period, never = 1.0 / hz, threading.Event()
    psutil.cpu_percent(percpu=True)  # primed, as CpuCollector does
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    start, slot = time.monotonic(), 0
    while slot * period < seconds - 1e-9:
        delay = start + slot * period - time.monotonic()
        if delay > 0:
            never.wait(delay)
        bare_sample()
        slot += 1
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_s": cpu, "wall_s": wall, "pct": 100.0 * cpu / wall, "samples": slot, "missed": 0}


def compare(hz: float, seconds: float, runs: int) -> dict[str, Any]:
    """Alternate ours and bare runs (the order flips every run); medians of each."""
    ours: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    for i in range(runs):
        order = (("ours", run_ours, ours), ("bare", run_bare, bare))
        for label, runner, sink in order if i % 2 == 0 else order[::-1]:
            result = runner(hz, seconds)
            sink.append(result)
            print(f"  {hz:g} Hz run {i + 1}/{runs} {label}: {result['pct']:.3f} % of a core "
                  f"({result['samples']} samples)", flush=True)
    ours_pct = median([r["pct"] for r in ours])
    bare_pct = median([r["pct"] for r in bare])
    return {"hz": hz, "seconds": seconds, "runs": runs, "ours_pct": ours_pct, "bare_pct": bare_pct,
            "ratio": ours_pct / bare_pct if bare_pct > 0 else None, "ours_runs": ours, "bare_runs": bare}


def time_call(call: Callable[[], Any], min_seconds: float) -> dict[str, float]:
    """µs per call of `call`: thread CPU and wall, over at least `min_seconds` and 100 calls."""
    call()
    count, cpu0, wall0 = 0, time.thread_time(), time.perf_counter()
    while count < 100 or time.perf_counter() - wall0 < min_seconds:
        for _ in range(50):
            call()
        count += 50
    return {"cpu_us": (time.thread_time() - cpu0) / count * 1e6,
            "wall_us": (time.perf_counter() - wall0) / count * 1e6, "calls": count}


def call_costs(min_seconds: float) -> dict[str, dict[str, float]]:
    return {name: time_call(call, min_seconds) for name, call in PSUTIL_CALLS.items()}


def collector_costs(min_seconds: float, hz: float = 10.0) -> dict[str, dict[str, float]]:
    """Per-sample cost of each host collector's read, of all together, and of the signals stage."""
    collectors = host_collectors()
    clock = {"t": 0.0}

    def reader(collector: Any) -> Callable[[], Any]:
        def read() -> Any:
            clock["t"] += 1.0 / hz
            return collector.read(clock["t"])
        return read

    costs = {f"{type(c).__name__}.read": time_call(reader(c), min_seconds) for c in collectors}
    costs["all reads"] = {key: sum(costs[f"{type(c).__name__}.read"][key] for c in collectors)
                                for key in ("cpu_us", "wall_us")}
    costs["signals stage (SignalPipeline([]).process)"] = signals_cost(collectors, min_seconds, hz)
    return costs


def signals_cost(collectors: list[Any], min_seconds: float, hz: float) -> dict[str, float]:
    """The signals stage on frames read from this machine, replayed at `hz` sample time."""
    frames = []
    for k in range(2000):
        frame: dict[str, Any] = {"ts": time.time_ns() // 1000, "elapsed_s": k / hz, "sample_lag_ms": 0.1}
        for collector in collectors:
            frame.update(collector.read(k / hz))
        frames.append(frame)
    pipeline = SignalPipeline([])
    step, wall0, cpu0, count = 1_000_000 / hz, time.perf_counter(), time.thread_time(), 0
    while count < len(frames) or time.perf_counter() - wall0 < min_seconds:
        frame = dict(frames[count % len(frames)])
        frame["elapsed_s"] = count / hz
        frame["ts"] = frames[0]["ts"] + int(count * step)
        pipeline.process(frame)
        count += 1
    return {"cpu_us": (time.thread_time() - cpu0) / count * 1e6,
            "wall_us": (time.perf_counter() - wall0) / count * 1e6, "calls": count}


def report(comparisons: list[dict[str, Any]], calls: dict[str, dict[str, float]],
           ours: dict[str, dict[str, float]], direct: list[dict[str, Any]]) -> None:
    rows = []
    for c in comparisons:
        target = TARGET_PCT.get(c["hz"])
        ok = c["ratio"] is not None and c["ratio"] <= TARGET_RATIO and (target is None or c["ours_pct"] <= target)
        rows.append([f"{c['hz']:g} Hz", c["ours_pct"], c["bare_pct"], c["ratio"],
                     f"<= {target:g} %, <= {TARGET_RATIO:g}x" if target else f"<= {TARGET_RATIO:g}x", verdict(ok)])
    print_table(["rate", "ours % core", "bare % core", "ours/bare", "target", ""], rows, digits=3,
                title="Sampling thread CPU, median of runs")
    call_rows = [[name, c["cpu_us"], c["wall_us"]] for name, c in calls.items()]
    call_rows.append(["sum (one bare sample)", sum(c["cpu_us"] for c in calls.values()),
                      sum(c["wall_us"] for c in calls.values())])
    print_table(["psutil call", "CPU µs", "wall µs"], call_rows, digits=1, title="psutil call costs, per call")
    print_table(["psutil call(s)", "CPU µs", "direct read", "CPU µs", "psutil/direct"],
                [[d["psutil"], d["psutil_cpu_us"], d["direct"], d["direct_cpu_us"], d["speedup"]] for d in direct],
                digits=1, title="psutil calls against the direct reads that replace them, per call")
    print_table(["our stage", "CPU µs", "wall µs"], [[n, c["cpu_us"], c["wall_us"]] for n, c in ours.items()],
                digits=1, title="Our per-sample costs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs of ours and of bare per rate (default 5; 3 quick)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds of each 10 and 100 Hz run, twice that at 1 Hz (default 10; 2 quick)")
    options = parser.parse_args()
    runs = options.runs or (3 if options.quick else 5)
    base = options.seconds or (2.0 if options.quick else 10.0)
    seconds = {1.0: max(3.0, 2 * base), 10.0: base, 100.0: base}
    min_call_s = 0.2 if options.quick else 1.0

    calls = call_costs(min_call_s)
    direct = direct_costs(min_call_s)
    ours = collector_costs(min_call_s)
    comparisons = [compare(hz, seconds[hz], runs) for hz in RATES]
    report(comparisons, calls, ours, direct)
    write_result("sampler", {
        "quick": options.quick,
        "targets": {"ratio_max": TARGET_RATIO, "pct_max": {f"{hz:g}": v for hz, v in TARGET_PCT.items()}},
        "rates": comparisons,
        "psutil_call_us": calls,
        "psutil_sum_us": {"cpu_us": sum(c["cpu_us"] for c in calls.values()),
                          "wall_us": sum(c["wall_us"] for c in calls.values())},
        "ours_per_sample_us": ours,
        "direct_vs_psutil_us": direct,
    })


if __name__ == "__main__":
    main()
