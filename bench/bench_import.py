"""`rigscope import` of a long nvidia-smi log: throughput and peak memory.

A `nvidia-smi --query-gpu=timestamp,index,name,pci.bus_id,utilization.gpu,utilization.memory,memory.used,
memory.total,temperature.gpu,power.draw,power.limit,clocks.sm --format=csv -l 1` log of 8 GPUs at 1 Hz is
generated for DAYS days (a week by default: 4.8 million rows), then imported by `rigscope import` in a
fresh process; the figures are its wall time, rows per second and peak resident memory (the child's
maxrss). Target: a week imports in under 300 MB.

Run: python bench/bench_import.py [--days D] [--gpus N] [--quick]
Prints a table and writes bench/results/import.json.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, print_table, rigscope_command, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

TARGET_MB = 300.0
HEADER = ("timestamp, index, name, pci.bus_id, utilization.gpu [%], utilization.memory [%], memory.used [MiB], "
          "memory.total [MiB], temperature.gpu, power.draw [W], power.limit [W], clocks.sm [MHz]\n")


def generate(path: Path, days: float, gpus: int) -> int:
    """Write the log; its number of rows."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    seconds = int(days * 86400)
    rows = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for second in range(seconds):
            stamp = (start + timedelta(seconds=second)).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
            lines = []
            for gpu in range(gpus):
                util = (second * 7 + gpu * 13) % 101
                lines.append(f"{stamp}, {gpu}, NVIDIA H100 80GB HBM3, 00000000:{gpu * 16 + 24:02X}:00.0, {util} %, "
                             f"{util // 2} %, {20000 + util * 500} MiB, 81559 MiB, {40 + util // 3}, "
                             f"{100 + util * 5}.25 W, 700.00 W, {1400 + util * 5} MHz\n")
            out.write("".join(lines))
            rows += gpus
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a tenth of a day (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.days = 0.1
    work = Path(tempfile.mkdtemp(prefix="rigscope-bench-import-"))
    try:
        log = work / "gpus.csv"
        rows = generate(log, args.days, args.gpus)
        size_mb = log.stat().st_size / 2**20
        started = time.perf_counter()
        done = subprocess.run(rigscope_command("import", str(log), "--dir", str(work / "sessions"), "--tz", "UTC"),
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip()}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = peak_mb < TARGET_MB if args.days >= 7 and args.gpus >= 8 else None
    print_table(("log", "rows", "MB", "wall s", "rows/s", "peak MB", f"< {TARGET_MB:.0f} MB"),
                [(f"{args.days:g} d x {args.gpus} GPUs @ 1 Hz", rows, size_mb, wall, rows / wall, peak_mb, verdict(ok))],
                title="rigscope import of an nvidia-smi --query-gpu log")
    write_result("import", {"days": args.days, "gpus": args.gpus, "rows": rows, "file_mb": size_mb, "wall_s": wall,
                            "rows_per_s": rows / wall, "peak_rss_mb": peak_mb, "target_mb": TARGET_MB, "pass": ok,
                            "quick": args.quick})


if __name__ == "__main__":
    main()
