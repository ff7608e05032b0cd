"""Run rigscope's benchmarks, each in its own process, then regenerate docs/PERFORMANCE.md.

Run: python bench/run.py [NAME ...] [--quick] [--page-only]
Each benchmark prints its table and writes bench/results/<name>.json; the page is then rebuilt
from every result there is (bench/page.py), so running one benchmark refreshes its rows only.
The whole set runs in about 14 minutes on the 2-core development machine: run.py gives some
benchmarks fewer or shorter runs than their own defaults (RUN_ARGS below); a script run alone
takes its longer defaults.
--quick shortens every benchmark (a smoke run; its figures are not the ones to quote).
--page-only rebuilds the page from the results already there, running nothing.

Adding a benchmark:
  1. write bench/bench_NAME.py: it prints a table and calls common.write_result("NAME", {...});
     give it --quick (or a QUICK_ARGS entry below);
  2. add a function NAME(result) -> list[Figure] to bench/figures.py: the figures the page quotes,
     each with its goal from the issue and whether it passed;
  3. add one line to BENCHMARKS below, and a paragraph for it in bench/PERFORMANCE.template.md
     (the hand-written explanations; the summary table is generated).
bench/bench_versions.py (this checkout against another, --baseline DIR) is not in BENCHMARKS on purpose:
it needs a baseline; bench/PERFORMANCE.template.md says how to run it ("Before and after a change").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import figures  # noqa: E402  (bench/ is on sys.path)
import page  # noqa: E402


@dataclass(frozen=True)
class Benchmark:
    script: str
    figures: figures.Extractor


# In the order they run (the page's summary keeps it).
BENCHMARKS: dict[str, Benchmark] = {
    "sampler": Benchmark("bench_sampler.py", figures.sampler),
    "lag": Benchmark("bench_lag.py", figures.lag),
    "load": Benchmark("bench_load.py", figures.load),
    "memory": Benchmark("bench_memory.py", figures.memory),
    "recorder": Benchmark("bench_recorder.py", figures.recorder),
    "crash": Benchmark("bench_crash.py", figures.crash),
    "signals": Benchmark("bench_signals.py", figures.signals),
    "dashboard": Benchmark("bench_dashboard.py", figures.dashboard),
    "panes": Benchmark("bench_panes.py", figures.panes),
    "redraw": Benchmark("bench_redraw.py", figures.redraw),
    "floor": Benchmark("bench_floor.py", figures.floor),
    "replay": Benchmark("bench_replay.py", figures.replay),
    "probe": Benchmark("bench_probe.py", figures.probe),
    "http": Benchmark("bench_http.py", figures.http),
    "slowloris": Benchmark("bench_slowloris.py", figures.slowloris),
    "catalog": Benchmark("bench_catalog.py", figures.catalog),
    "import": Benchmark("bench_import.py", figures.importing),
    "report": Benchmark("bench_report.py", figures.report),
    "stream_memory": Benchmark("bench_stream_memory.py", figures.stream_memory),
    "processes": Benchmark("bench_processes.py", figures.processes),
    "timeline": Benchmark("bench_timeline.py", figures.timeline),
    "attach": Benchmark("bench_attach.py", figures.attach),
}

# Fewer or shorter runs than the scripts' own defaults, so that the whole set fits in 15 minutes;
# the dashboard keeps the 3 rounds of 60 s.
RUN_ARGS: dict[str, list[str]] = {
    "sampler": ["--runs", "3", "--seconds", "3"],
    "lag": ["--seconds", "20"],
    "load": ["--seconds", "20"],
    "crash": ["--kills", "10"],
    "panes": ["--seconds", "10"],
    "replay": ["--opens", "3"],
    "probe": ["--bursts", "100"],
    "http": ["--rounds", "3", "--seconds", "6", "--scrape-seconds", "8"],
    "slowloris": ["--rounds", "2", "--seconds", "8"],
    "processes": ["--rounds", "2"],
    "attach": ["--window", "15", "--rounds", "2", "--hours", "6"],  # a 24 h session takes 12 minutes to simulate
}

# bench_signals.py has no --quick: smaller sizes instead.
QUICK_ARGS: dict[str, list[str]] = {"signals": ["--rows", "50000", "--ticks", "5000"], "panes": ["--seconds", "5"]}


def command_for(name: str, quick: bool) -> list[str]:
    extra = QUICK_ARGS.get(name, ["--quick"]) if quick else RUN_ARGS.get(name, [])
    return [sys.executable, str(HERE / BENCHMARKS[name].script), *extra]


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
    parser.add_argument("--page-only", action="store_true", help="only rebuild docs/PERFORMANCE.md from the results")
    options = parser.parse_args()
    unknown = [n for n in options.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")

    outcomes = {} if options.page_only else {name: run(name, options.quick)
                                              for name in options.names or list(BENCHMARKS)}
    if outcomes:
        print("\n=== done ===")
        for name, (code, seconds) in outcomes.items():
            print(f"{name:<10} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:7.1f} s")
    written = page.write({name: b.figures for name, b in BENCHMARKS.items()})
    print(f"wrote {written.relative_to(HERE.parent)}")
    return 0 if all(code == 0 for code, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
