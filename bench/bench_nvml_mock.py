"""NVML sampling cost through the real pynvml: 8 mocked H100s at 100 Hz, next to the fake backend.

The mock libnvidia-ml (tests/nvml_mock, built against NVIDIA's nvml.h) answers in well under a
microsecond, so what a run costs over the fake backend is what pynvml and ctypes cost users on a
real box, minus the driver's own time.  Each run is a child process sampling for `--seconds` on
a real clock, as `rigscope record` does: the GPU collector read in its background thread
(`GpuCollector.threaded`), a `Sampler` with no signal stage, one consumer draining the frames.
Three kinds of run alternate: no GPU (the sampler alone), the fake backend (`FakeNvml`, 8 GPUs)
and the real `PynvmlBackend` over the mock (LD_LIBRARY_PATH, as users run it).  The figure is
the process CPU time per sample; per GPU is (backend - no GPU) / GPUs; each is the median of the runs.
The mock child also times each NVML call rigscope makes through pynvml (µs per call).

Run: python bench/bench_nvml_mock.py [--seconds S] [--runs N] [--hz HZ] [--gpus N]
Prints a table and writes bench/results/nvml_mock.json.
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

from common import ROOT, median, print_table, write_result  # noqa: I001  (bench/ is on sys.path)
from nvml_calls import call_costs

from collectors.clock import RealClock
from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.gpu import GpuCollector
from collectors.nvml import NvmlBackend, PynvmlBackend
from collectors.sampler import Sampler
from collectors.signals import SignalPipeline
from collectors.stream import END, FrameQueue, LossyQueue

KINDS = ("none", "fake", "mock")


def _drain(frames: FrameQueue) -> None:
    while frames.get(timeout=5.0) is not END:
        pass


def measure(kind: str, hz: float, seconds: float, gpus: int) -> dict[str, Any]:
    """One run in this process: its CPU time over the run, per sample."""
    backend: NvmlBackend | None = {"none": None, "fake": lambda: FakeNvml([FakeGpu() for _ in range(gpus)]),
                                   "mock": PynvmlBackend}[kind]  # type: ignore[assignment]
    collectors: list[Any] = []
    if backend is not None:
        backend = backend()  # type: ignore[operator]
        collectors.append(GpuCollector(backend, range(gpus)).threaded(hz))
    sampler = Sampler(collectors, hz, RealClock(), duration_s=seconds, signals=SignalPipeline([]))
    consumer = threading.Thread(target=_drain, args=(sampler.attach(LossyQueue(10_000)),), daemon=True)
    consumer.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sampler.run_inline()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    consumer.join()
    for collector in collectors:
        collector.close()
    samples = sampler.stats.samples
    result = {"kind": kind, "cpu_s": cpu, "wall_s": wall, "samples": samples, "missed": sampler.ticker.missed,
              "cpu_us_per_sample": cpu / samples * 1e6, "pct": 100.0 * cpu / wall}
    if kind == "mock":
        import pynvml

        pynvml.nvmlInit()
        result["calls_us"] = call_costs(pynvml, pynvml.nvmlDeviceGetHandleByIndex(0), 0.2)
        pynvml.nvmlShutdown()
    return result


def mock_environment(directory: Path, gpus: int) -> dict[str, str]:
    """Build the mock and write an 8-H100 scenario whose readings move with the monotonic clock."""
    from tests.nvml_mock.build import build
    from tests.nvml_mock.scenario import Scenario, h100

    scenario = Scenario(directory, [h100(i) for i in range(gpus)], hz=10)
    return scenario.env(build())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hz", type=float, default=100.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.hz, args.seconds, args.gpus)))
        return
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, **mock_environment(Path(directory), args.gpus)}
        for i in range(args.runs):
            for kind in KINDS if i % 2 == 0 else KINDS[::-1]:
                argv = [sys.executable, __file__, "--child", kind, "--hz", str(args.hz),
                        "--seconds", str(args.seconds), "--gpus", str(args.gpus)]
                out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
                result = json.loads(out.splitlines()[-1])
                runs[kind].append(result)
                print(f"  run {i + 1}/{args.runs} {kind}: {result['cpu_us_per_sample']:.0f} us a sample, "
                      f"{result['pct']:.2f} % of a core ({result['samples']} samples, {result['missed']} missed)",
                      flush=True)
    per_sample = {kind: median([r["cpu_us_per_sample"] for r in runs[kind]]) for kind in KINDS}
    pct = {kind: median([r["pct"] for r in runs[kind]]) for kind in KINDS}
    per_gpu = {kind: (per_sample[kind] - per_sample["none"]) / args.gpus for kind in ("fake", "mock")}
    print_table(["backend", "us a sample", "% of a core", "us a sample per GPU"],
                [(kind, per_sample[kind], pct[kind], per_gpu.get(kind)) for kind in KINDS], digits=1,
                title=f"{args.gpus} GPUs at {args.hz:g} Hz, {args.seconds:g} s runs, median of {args.runs}")
    calls = runs["mock"][0]["calls_us"]
    print_table(["NVML call through pynvml (mock)", "us cpu", "us wall"],
                [(name, c["cpu_us"], c["wall_us"]) for name, c in calls.items()], digits=2)
    write_result("nvml_mock", {"hz": args.hz, "seconds": args.seconds, "runs_each": args.runs, "gpus": args.gpus,
                               "cpu_us_per_sample": per_sample, "pct_of_a_core": pct,
                               "cpu_us_per_sample_per_gpu": per_gpu, "mock_calls_us": calls, "runs": runs})


if __name__ == "__main__":
    main()
