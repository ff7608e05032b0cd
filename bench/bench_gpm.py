"""GPM sampling cost through the real pynvml: 8 mocked H100s, GPM at 1 Hz, in % of a core.

Two measurements, each in a child process that loaded the mock libnvidia-ml (tests/nvml_mock; its
GPM entry points keep counters in the sample handles, as the driver does, and answer in well under
a microsecond, so the figures are pynvml's, ctypes' and rigscope's own cost, minus the driver's):

- `round`: one GPM round of every GPU (`PynvmlBackend.gpm_sample`: a sample into the older of the
  two buffers, then the metrics against the other), timed over `--rounds` rounds; at 1 Hz a round
  a second costs its CPU time in % of a core;
- `collector`: `GpuCollector.read` of every GPU at `--hz` with GPM every second against the same
  reads without GPM, `--reads` reads each, alternating; (on - off) per second of sampling.

Run: python bench/bench_gpm.py [--gpus 8] [--rounds 300] [--hz 10] [--reads 600] [--runs 5]
Prints a table and writes bench/results/gpm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, median, print_table, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.gpu import GpuCollector
from collectors.nvml import PynvmlBackend


def gpm_round(gpus: int, rounds: int) -> dict[str, Any]:
    backend = PynvmlBackend()
    for index in range(gpus):
        backend.gpm_sample(index)  # allocates the buffers, takes the first sample
    cpu0 = time.process_time()
    for _ in range(rounds):
        for index in range(gpus):
            values = backend.gpm_sample(index)
    cpu = time.process_time() - cpu0
    assert values is not None and values["sm_active_pct"] is not None
    backend.shutdown()
    return {"us_per_round": cpu / rounds * 1e6}


def collector_reads(gpus: int, hz: float, reads: int, runs: int) -> dict[str, Any]:
    """CPU per second of sampling with GPM every second and without, the two alternating."""
    backend = PynvmlBackend()
    costs: dict[str, list[float]] = {"on": [], "off": []}
    for run in range(runs):
        for kind in ("on", "off") if run % 2 == 0 else ("off", "on"):
            collector = GpuCollector(backend, range(gpus), 1.0 if kind == "on" else None)
            cpu0 = time.process_time()
            for k in range(reads):
                row = collector.read(k / hz)
            costs[kind].append((time.process_time() - cpu0) / (reads / hz))
            assert (row.get("gpu0_sm_active_pct") is not None) == (kind == "on")
    backend.shutdown()
    return {"cpu_s_per_s": {kind: median(values) for kind, values in costs.items()}, "runs": costs}


def child(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    if kind == "round":
        return gpm_round(args.gpus, args.rounds)
    return collector_reads(args.gpus, args.hz, args.reads, args.runs)


def environment(directory: Path, gpus: int, rounds_of: str) -> dict[str, str]:
    """The mock and an 8-H100 scenario (with GPM) whose GPUs' ticks count calls of `rounds_of`."""
    from tests.nvml_mock.build import build
    from tests.nvml_mock.scenario import Scenario, h100

    return Scenario(directory, [h100(i) for i in range(gpus)], rounds_of=rounds_of).env(build())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--reads", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=("round", "collector"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    results: dict[str, Any] = {}
    for kind, rounds_of in (("round", "nvmlGpmSampleGet"), ("collector", "nvmlDeviceGetUtilizationRates")):
        with tempfile.TemporaryDirectory() as directory:
            env = {**os.environ, **environment(Path(directory), args.gpus, rounds_of)}
            argv = [sys.executable, __file__, "--child", kind, *(f"--{k}={getattr(args, k)}"
                                                                for k in ("gpus", "rounds", "hz", "reads", "runs"))]
            out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
            results[kind] = json.loads(out.splitlines()[-1])
    round_pct = results["round"]["us_per_round"] / 1e6 * 100.0  # one round a second
    cost = results["collector"]["cpu_s_per_s"]
    added_pct = (cost["on"] - cost["off"]) * 100.0
    print_table(["measure", "value"], [
        (f"GPM round of {args.gpus} GPUs (us CPU)", results["round"]["us_per_round"]),
        ("GPM at 1 Hz, rounds alone (% of a core)", round_pct),
        (f"reads at {args.hz:g} Hz without GPM (% of a core)", cost["off"] * 100.0),
        (f"reads at {args.hz:g} Hz with GPM at 1 Hz (% of a core)", cost["on"] * 100.0),
        ("added by GPM (% of a core)", added_pct),
    ], digits=3, title=f"{args.gpus} mocked H100s, median of {args.runs} runs of {args.reads} reads")
    write_result("gpm", {"gpus": args.gpus, "rounds": args.rounds, "hz": args.hz, "reads": args.reads,
                         "runs_each": args.runs, "us_per_round": results["round"]["us_per_round"],
                         "round_pct_of_a_core_at_1hz": round_pct, "added_pct_of_a_core": added_pct, **results})


if __name__ == "__main__":
    main()
