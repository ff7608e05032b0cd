"""Peak memory of a session's close (the compaction of its segments) and of `rigscope repair`, by session length.

Builds sessions of 8 simulated GPUs at 100 Hz as a crashed recorder leaves them: one Parquet part per
minute of samples (`samples/part-NNNNNN.parquet`, 6,000 rows of the full schema each), status
`recording`, the recorder gone.  One minute is recorded through the real pipeline (simulated source,
signals, recorder) and repeated with its times shifted.  Then, each in a fresh process:

- `close`: the compaction the recorder runs at close (`segments.compact`: segments into samples.parquet);
- `repair`: `rigscope repair` as a whole (compaction, summary, report.md), on a fresh copy.

Peak RSS is the child's `ru_maxrss`; the baseline is its RSS after the imports.  Flat means the peak
above the baseline does not grow with the session's length.

Run: python bench/bench_close_memory.py [--minutes 15 60]   Prints a table and writes
bench/results/close_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from common import ROOT, print_table, write_result  # noqa: I001  (bench/ is on sys.path)

GPUS, HZ, SEGMENT_S = 8, 100.0, 60.0
MB = 1024 * 1024


def one_minute(root: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A minute of 8 GPUs at 100 Hz through the real pipeline: its samples and meta.json."""
    from collectors.clock import VirtualClock
    from collectors.sampler import Sampler
    from collectors.schema import session_columns
    from collectors.signals import SignalPipeline
    from collectors.simulated import SimulatedCollector
    from collectors.stream import LosslessQueue
    from recordings.recorder import Recorder, RecorderOptions
    from recordings.session import create_session_dir, read_meta

    indices = list(range(GPUS))
    signals = SignalPipeline(indices)
    sampler = Sampler([SimulatedCollector(gpu_count=GPUS, seed=1)], HZ, VirtualClock(), SEGMENT_S, signals)
    session = create_session_dir(root, datetime(2027, 1, 1), "bench")
    meta = {"format": "rigscope-session/1", "session_id": session.name, "status": "recording",
            "gpus": [{"index": i} for i in indices], "monitoring": {"sample_hz": HZ, "segment_interval_s": SEGMENT_S}}
    recorder = Recorder(session, meta, session_columns(indices), sampler.attach(LosslessQueue(10_000)),
                        RecorderOptions(segment_interval_s=SEGMENT_S * 2), summary=signals.summary)
    recorder.start()
    sampler.run_inline()
    recorder.join()
    return pl.read_parquet(session / "samples.parquet"), read_meta(session)


def build_session(root: Path, minutes: int, minute: pl.DataFrame, meta: dict[str, Any]) -> Path:
    """`minutes` parts of that minute, each shifted by its place, as a kill -9 leaves them."""
    session = root / f"20270101-000000-bench-{minutes}min"
    (session / "samples").mkdir(parents=True)
    for number in range(minutes):
        part = minute.with_columns(pl.col("ts") + timedelta(seconds=SEGMENT_S * number),
                                   pl.col("elapsed_s") + SEGMENT_S * number)
        part.write_parquet(session / "samples" / f"part-{number + 1:06d}.parquet", compression="zstd")
    (session / "events.jsonl").write_text("")
    meta = {**meta, "session_id": session.name, "status": "recording", "summary": {},
            "recorder": {"pid": 2**22 + 1, "hostname": socket.gethostname()}}
    (session / "meta.json").write_text(json.dumps(meta))
    return session


def child(step: str, session: Path) -> None:
    """In a fresh process: run one step and print its figures as JSON."""
    import psutil

    from recordings import segments
    from recordings.reader import session_columns_of
    from recordings.repair import repair_session
    from recordings.session import read_meta, row_group_rows

    meta = read_meta(session)
    baseline = psutil.Process().memory_info().rss
    start = time.perf_counter()
    if step == "close":
        rows = segments.compact(session, session_columns_of(meta), row_group_rows=row_group_rows(meta))
    else:
        rows = int(repair_session(session, force=True).split()[1])
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "baseline_mb": baseline / MB, "peak_mb": peak / MB, "wall_s": wall}))


def measure(step: str, session: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", step, str(session)], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[15, 60])
    parser.add_argument("--child", nargs=2, metavar=("STEP", "SESSION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rigscope-close-") as tmp:
        root = Path(tmp)
        minute, meta = one_minute(root / "source")
        for minutes in args.minutes:
            session = build_session(root, minutes, minute, meta)
            fresh = Path(shutil.copytree(session, root / f"{session.name}-repair"))
            for step, target in (("close", session), ("repair", fresh)):
                figures = measure(step, target)
                results.append({"step": step, "minutes": minutes, **figures,
                                "above_baseline_mb": figures["peak_mb"] - figures["baseline_mb"]})
            shutil.rmtree(session)
            shutil.rmtree(fresh)
    print_table(["step", "minutes", "rows", "baseline MB", "peak MB", "above baseline MB", "wall s"],
                [[r["step"], r["minutes"], r["rows"], r["baseline_mb"], r["peak_mb"], r["above_baseline_mb"], r["wall_s"]]
                 for r in results], digits=1, title=f"close and repair, {GPUS} GPUs at {HZ:g} Hz")
    write_result("close_memory", {"gpus": GPUS, "hz": HZ, "results": results, "cpu_count": os.cpu_count()})


if __name__ == "__main__":
    main()
