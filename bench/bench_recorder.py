"""Recorder cost: CPU µs of the recorder thread per sample, and bytes per sample-hour on disk.

Write cost: frames of the simulated source (1 and 4 GPUs) at 10 Hz, made by the
real sampler (VirtualClock, SignalPipeline) into one subscriber queue, are fed
to a `Recorder`; the recorder thread's body runs in the calling thread so that
`time.thread_time()` measures it.  Per sample: everything up to the close
(queue get, JSON journal line, CSV row, periodic flush, a Parquet part per
segment), as the recorder thread's CPU time and as the process's (which adds
polars' worker threads landing the Parquet parts).  The close (last part,
compaction into samples.parquet, meta.json) is reported apart, as wall time.
Parquet alone and Parquet + CSV.

Size: `rigscope record --source sim --speed max --hz 10 --duration 10m --format both`
(1 and 4 GPUs); samples.parquet and samples.csv per sample, and scaled to one
hour at 10 Hz (36,000 samples).

No target in the issue; the figures say what recording costs.

Run: python bench/bench_recorder.py [--quick]
Prints tables and writes bench/results/recorder.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from common import median, print_table, rigscope_command, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.clock import VirtualClock
from collectors.sampler import Sampler
from collectors.schema import session_columns
from collectors.signals import SignalPipeline
from collectors.simulated import SimulatedCollector
from collectors.stream import FrameQueue, LossyQueue
from recordings.recorder import Recorder, RecorderOptions
from recordings.session import FORMAT, create_session_dir

HZ = 10
HOUR_SAMPLES = 3600 * HZ
GPU_COUNTS = (1, 4)
FORMATS = {"parquet": frozenset({"parquet"}), "parquet+csv": frozenset({"parquet", "csv"})}


def simulated_frames(gpus: int, seconds: float) -> FrameQueue:
    """Every batch of a simulated run, as the sampler hands them to a subscriber, ending with END."""
    samples = round(seconds * HZ)
    sampler = Sampler([SimulatedCollector(gpu_count=gpus)], HZ, VirtualClock(), duration_s=seconds,
                      signals=SignalPipeline(list(range(gpus))))
    frames = sampler.attach(LossyQueue(samples + 1000))
    sampler.run_inline()
    return frames


def time_recorder(gpus: int, seconds: float, formats: frozenset[str], root: Path) -> dict[str, Any]:
    """Thread CPU of the recorder per sample, up to its close, and of the close."""
    frames = simulated_frames(gpus, seconds)
    session = create_session_dir(root, datetime.now(UTC), "bench")
    meta = {"format": FORMAT, "session_id": session.name, "status": "recording", "gpus": [],
            "warnings": [], "total_samples": 0, "summary": {}}
    recorder = Recorder(session, meta, session_columns(range(gpus)), frames, RecorderOptions(formats))
    marks: dict[str, float] = {}
    close = recorder._close

    def timed_close() -> None:
        marks["close_cpu"] = time.thread_time()
        marks["close_process"] = time.process_time()
        marks["close_wall"] = time.perf_counter()
        close()

    recorder._close = timed_close  # type: ignore[method-assign]
    cpu0, process0, wall0 = time.thread_time(), time.process_time(), time.perf_counter()
    recorder._run()  # the recorder thread's body, in this thread
    cpu1, wall1 = time.thread_time(), time.perf_counter()
    if recorder.error:
        raise RuntimeError(recorder.error)
    samples = recorder.samples
    return {
        "gpus": gpus, "formats": sorted(formats), "samples": samples, "columns": len(recorder.columns),
        "write_cpu_us_per_sample": (marks["close_cpu"] - cpu0) / samples * 1e6,
        "write_wall_us_per_sample": (marks["close_wall"] - wall0) / samples * 1e6,
        "write_process_cpu_us_per_sample": (marks["close_process"] - process0) / samples * 1e6,
        "close_cpu_s": cpu1 - marks["close_cpu"], "close_wall_s": wall1 - marks["close_wall"],
        "dropped": frames.dropped,
    }


def write_costs(seconds: float, repeats: int) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="rigscope-bench-recorder-") as tmp:
        for gpus in GPU_COUNTS:
            for label, formats in FORMATS.items():
                runs = [time_recorder(gpus, seconds, formats, Path(tmp)) for _ in range(repeats)]
                best = dict(runs[0])
                for key in ("write_cpu_us_per_sample", "write_wall_us_per_sample", "write_process_cpu_us_per_sample",
                            "close_cpu_s", "close_wall_s"):
                    best[key] = median([r[key] for r in runs])
                best.update({"label": label, "repeats": repeats})
                print(f"  {gpus} GPU, {label}: {best['write_cpu_us_per_sample']:.1f} µs/sample", flush=True)
                results.append(best)
    return results


def session_sizes(gpus: int, duration: str) -> dict[str, Any]:
    """Record a simulated session with --format both; sizes and rows of its files."""
    with tempfile.TemporaryDirectory(prefix="rigscope-bench-size-") as tmp:
        command = rigscope_command("record", "--source", "sim", "--speed", "max", "--hz", str(HZ), "--duration",
                                   duration, "--format", "both", "--gpus-sim", str(gpus), "--dir", tmp)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (session,) = Path(tmp).glob("*/meta.json")
        directory = session.parent
        parquet, csv = directory / "samples.parquet", directory / "samples.csv"
        rows_parquet = pl.scan_parquet(parquet).select(pl.len()).collect().item()
        with open(csv, "rb") as handle:
            rows_csv = sum(1 for _ in handle) - 1
        meta = json.loads(session.read_text())
        return {
            "gpus": gpus, "duration": duration, "total_samples": meta["total_samples"],
            "parquet_bytes": parquet.stat().st_size, "parquet_rows": rows_parquet,
            "csv_bytes": csv.stat().st_size, "csv_rows": rows_csv,
            "parquet_bytes_per_sample": parquet.stat().st_size / rows_parquet,
            "csv_bytes_per_sample": csv.stat().st_size / rows_csv,
            "parquet_mb_per_hour_10hz": parquet.stat().st_size / rows_parquet * HOUR_SAMPLES / 1e6,
            "csv_mb_per_hour_10hz": csv.stat().st_size / rows_csv * HOUR_SAMPLES / 1e6,
        }


def report(costs: list[dict[str, Any]], sizes: list[dict[str, Any]]) -> None:
    print_table(["frames", "format", "columns", "samples", "thread CPU µs/sample", "process CPU µs/sample",
                 "wall µs/sample", "close wall ms"],
                [[f"sim, {c['gpus']} GPU", c["label"], c["columns"], c["samples"], c["write_cpu_us_per_sample"],
                  c["write_process_cpu_us_per_sample"], c["write_wall_us_per_sample"], c["close_wall_s"] * 1000]
                 for c in costs],
                digits=1, title=f"Recorder thread cost at {HZ} Hz (median of runs)")
    rows = []
    for s in sizes:
        rows.append([f"sim, {s['gpus']} GPU", "Parquet (zstd)", s["parquet_rows"], s["parquet_bytes_per_sample"],
                     s["parquet_mb_per_hour_10hz"]])
        rows.append([f"sim, {s['gpus']} GPU", "CSV", s["csv_rows"], s["csv_bytes_per_sample"],
                     s["csv_mb_per_hour_10hz"]])
    print_table(["session", "file", "rows", "bytes/sample", "MB per hour at 10 Hz"], rows, digits=1,
                title="Size on disk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    options = parser.parse_args()
    seconds, repeats, duration = (180.0, 1, "2m") if options.quick else (1800.0, 3, "10m")

    costs = write_costs(seconds, repeats)
    sizes = [session_sizes(gpus, duration) for gpus in GPU_COUNTS]
    report(costs, sizes)
    write_result("recorder", {"quick": options.quick, "hz": HZ, "simulated_seconds_per_run": seconds,
                              "write_costs": costs, "sizes": sizes})


if __name__ == "__main__":
    main()
