"""Peak memory of `rigscope report` and `rigscope analyze` against the session's length: it must be flat.

Sessions of 8 simulated GPUs at 100 Hz (231 columns) are made from a real one: one loop of the
simulated scenario (9 minutes: every phase, a collapse per GPU) is recorded with `rigscope record
--source sim --gpus-sim 8 --hz 100 --speed max`, then its samples and events are repeated (times
shifted) to each length (rounded to whole loops): `samples.parquet` written by a streaming sink in the
recorder's row groups; meta.json keeps the recorder's, with the counts and the end of the longer session.

Each length is measured in fresh processes: `rigscope report SESSION --out FILE` and `rigscope analyze
SESSION --out FILE.parquet`, peak RSS from the kernel's accounting of the finished child (`wait4`'s
ru_maxrss), and the wall time.  The slope is MB of peak RSS per hour of session between the shortest
and the longest length; flat means a day costs what an hour does.

Target (issue): a 24 h 8-GPU 100 Hz session reports and analyzes under 1 GB; the slope flat.

Run: python bench/bench_stream_memory.py [--minutes 18 63 243] [--keep DIR] [--quick]
Prints a table and writes bench/results/stream_memory.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl  # noqa: E402
from common import print_table, rigscope_command, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.timeutil import iso_from_us, us_from_iso  # noqa: E402
from recordings.session import row_group_rows  # noqa: E402

HZ = 100
GPUS = 8
SEED_S = 540  # collectors.scenario.LOOP_S
TARGET_MB = 1024.0
MB = 1024 * 1024


def record_seed(root: Path) -> Path:
    """A real loop of the simulated source: meta.json, events.jsonl and samples.parquet as the recorder writes them."""
    shutil.rmtree(root, ignore_errors=True)
    command = rigscope_command("record", "--source", "sim", "--gpus-sim", str(GPUS), "--hz", str(HZ), "--speed", "max",
                               "--duration", f"{SEED_S}s", "--dir", str(root))
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (session,) = (path.parent for path in root.glob("*/meta.json"))
    return session


def make_session(seed: Path, target: Path, minutes: float) -> int:
    """`target`: the seed session with its samples repeated to `minutes`; returns its row count."""
    shutil.copytree(seed, target, ignore=shutil.ignore_patterns("samples.parquet", "report.md"))
    meta = json.loads((seed / "meta.json").read_text())
    samples = pl.scan_parquet(seed / "samples.parquet")
    rows = samples.select(pl.len()).collect().item()
    copies = max(1, round(minutes * 60 / SEED_S))
    period_us = round(rows / HZ * 1e6)
    events = [json.loads(line) for line in (seed / "events.jsonl").read_text().splitlines()]
    with open(target / "events.jsonl", "w") as handle:
        for k in range(copies):
            for event in events:
                handle.write(json.dumps(shifted(event, k * period_us)) + "\n")
    repeated = pl.concat([
        samples.with_columns(pl.col("ts") + pl.duration(microseconds=k * period_us),
                             pl.col("elapsed_s") + k * period_us / 1e6)
        for k in range(copies)
    ])
    repeated.sink_parquet(target / "samples.parquet", compression="zstd", row_group_size=row_group_rows(meta))
    end_us = us_from_iso(meta["session_start"]) + copies * period_us
    meta.update(total_samples=rows * copies, session_end=iso_from_us(end_us))
    meta["summary"]["duration_s"] = copies * period_us / 1e6
    meta["summary"]["samples"] = rows * copies
    (target / "meta.json").write_text(json.dumps(meta))
    return rows * copies


# Started from a small process: a forked child's peak RSS counts the pages it shares with its parent
# before exec, and this one holds polars and the session it just wrote.
MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def shifted(event: dict[str, Any], shift_us: int) -> dict[str, Any]:
    """An event moved `shift_us` later: its `ts`, and the session times (s) of a collapse or a clock step."""
    moved = {**event, "ts": iso_from_us(us_from_iso(event["ts"]) + shift_us)}
    for key in ("start", "end", "elapsed_s"):
        if isinstance(event.get(key), (int, float)):
            moved[key] = event[key] + shift_us / 1e6
    return moved


def peak_rss(*args: str) -> dict[str, float]:
    """Run rigscope with `args` in a fresh process; its peak RSS (MB) and wall time (s)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *rigscope_command(*args)], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    code, max_rss_kb = (int(word) for word in done.stdout.split())
    if code != 0:
        raise RuntimeError(f"rigscope {' '.join(args)} exited {code}: {done.stderr.strip()}")
    return {"peak_rss_mb": max_rss_kb * 1024 / MB, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[18.0, 63.0, 243.0],
                        help="session lengths to measure, rounded to whole 9-minute loops (default: 18 63 243)")
    parser.add_argument("--keep", type=Path, help="make the sessions in this directory and keep them")
    parser.add_argument("--quick", action="store_true", help="9 and 18 minutes (a smoke run)")
    options = parser.parse_args()
    lengths = [9.0, 18.0] if options.quick else sorted(options.minutes)

    with tempfile.TemporaryDirectory(prefix="rigscope-bench-stream-") as tmp:
        work = options.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"recording a {SEED_S} s seed session ({GPUS} simulated GPUs, {HZ} Hz) ...", flush=True)
        seed = record_seed(work / "seed")
        results: list[dict[str, Any]] = []
        for minutes in lengths:
            session = work / f"session-{minutes:g}min"
            if session.exists():
                shutil.rmtree(session)
            rows = make_session(seed, session, minutes)
            size = (session / "samples.parquet").stat().st_size
            print(f"{minutes:g} min: {rows:,} rows, samples.parquet {size / MB:.0f} MB; measuring ...", flush=True)
            report = peak_rss("report", str(session), "--out", str(work / "report.md"))
            analyze = peak_rss("analyze", str(session), "--out", str(work / "derived.parquet"))
            (work / "derived.parquet").unlink(missing_ok=True)
            results.append({"minutes": rows / HZ / 60, "rows": rows, "samples_parquet_mb": size / MB,
                            "report": report, "analyze": analyze})
            if options.keep is None:
                shutil.rmtree(session)

    def slope(command: str) -> float | None:
        first, last = results[0], results[-1]
        hours = (last["minutes"] - first["minutes"]) / 60
        return (last[command]["peak_rss_mb"] - first[command]["peak_rss_mb"]) / hours if hours > 0 else None

    slopes = {command: slope(command) for command in ("report", "analyze")}
    # A day at the measured slope from the longest length measured.
    day = {command: results[-1][command]["peak_rss_mb"] + max(0.0, slopes[command] or 0.0)
           * (24 - results[-1]["minutes"] / 60) for command in slopes}
    rows = [[f"{r['minutes']:g} min ({r['rows']:,} rows)", f"{r['report']['peak_rss_mb']:.0f} MB",
             f"{r['report']['wall_s']:.1f} s", f"{r['analyze']['peak_rss_mb']:.0f} MB", f"{r['analyze']['wall_s']:.1f} s"]
            for r in results]
    rows.append(["slope (MB per hour of session)", f"{slopes['report'] or 0:+.1f}", "",
                 f"{slopes['analyze'] or 0:+.1f}", ""])
    rows.append(["24 h at that slope", f"{day['report']:.0f} MB", verdict(day["report"] < TARGET_MB),
                 f"{day['analyze']:.0f} MB", verdict(day["analyze"] < TARGET_MB)])
    print_table(["session", "report peak", "report wall", "analyze peak", "analyze wall"], rows,
                title=f"Peak RSS of report and analyze, {GPUS} simulated GPUs at {HZ} Hz")
    write_result("stream_memory", {"hz": HZ, "gpus": GPUS, "seed_s": SEED_S, "target_mb": TARGET_MB,
                                   "results": results, "slope_mb_per_hour": slopes, "day_estimate_mb": day,
                                   "pass": all(value < TARGET_MB for value in day.values())})


if __name__ == "__main__":
    main()
