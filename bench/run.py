"""Run rigscope's benchmarks, one after another, each in its own process.

Run: python bench/run.py [NAME ...] [--quick]
Names: sampler, lag, memory, recorder, crash, signals, dashboard, replay, probe, http (default: all, in that order).
--quick shortens every benchmark (a smoke run; its figures are not the ones to quote).
Each benchmark prints its table and writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, str] = {
    "sampler": "bench_sampler.py",
    "lag": "bench_lag.py",
    "memory": "bench_memory.py",
    "recorder": "bench_recorder.py",
    "crash": "bench_crash.py",
    "signals": "bench_signals.py",
    "dashboard": "bench_dashboard.py",
    "replay": "bench_replay.py",
    "probe": "bench_probe.py",
    "http": "bench_http.py",
}

# bench_signals.py has no --quick: smaller sizes instead.
QUICK_ARGS: dict[str, list[str]] = {"signals": ["--rows", "50000", "--ticks", "5000"]}


def command_for(name: str, quick: bool) -> list[str]:
    extra = (QUICK_ARGS.get(name, ["--quick"]) if quick else [])
    return [sys.executable, str(HERE / BENCHMARKS[name]), *extra]


def run(name: str, quick: bool) -> tuple[int, float]:
    """Run one benchmark; its exit code and wall seconds."""
    print(f"\n=== {name}{' (quick)' if quick else ''} ===", flush=True)
    start = time.perf_counter()
    code = subprocess.call(command_for(name, quick), cwd=HERE.parent)
    return code, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="shorten every benchmark (smoke run)")
    options = parser.parse_args()
    unknown = [n for n in options.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")

    outcomes = {name: run(name, options.quick) for name in options.names or list(BENCHMARKS)}
    print("\n=== done ===")
    for name, (code, seconds) in outcomes.items():
        print(f"{name:<10} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:7.1f} s")
    return 0 if all(code == 0 for code, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
