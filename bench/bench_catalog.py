"""`rigscope ls` over many sessions: wall time of the whole command, and of the catalog alone.

A real session is recorded once (`rigscope record --source sim --speed max`, 2 GPUs, 10 Hz, 10 min);
its directory is copied to SESSIONS session directories (other ids; a few left `recording` by a dead
recorder, a few with a corrupt meta.json, as a real directory has). Then `rigscope ls --dir DIR` (and
`--json`) runs RUNS times in a fresh process each; the figure is the median (and the max) wall time,
beside a bare `python -c pass` for the interpreter's own start. `catalog()` in this process is timed too.
Target: a median under 1 s for 200 sessions (the max is shown beside it).

Run: python bench/bench_catalog.py [--quick] [--sessions N]
Prints a table and writes bench/results/catalog.json.
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

from common import ROOT, median, print_table, rigscope_command, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

TARGET_S = 1.0


def build(root: Path, count: int) -> None:
    record = tempfile.mkdtemp(prefix="rigscope-bench-rec-")
    subprocess.run(rigscope_command("record", "--source", "sim", "--speed", "max", "--hz", "10", "--duration", "10m",
                                    "--gpus-sim", "2", "--dir", record), check=True, capture_output=True, cwd=ROOT)
    (session,) = Path(record).iterdir()
    for number in range(count):
        target = root / f"2026{number // 28 + 1:02d}{number % 28 + 1:02d}-120000-node{number % 7}"
        shutil.copytree(session, target)
        if number % 50 == 7:
            (target / "meta.json").write_text('{"session_id": ')  # corrupt
        elif number % 50 == 13:
            meta = json.loads((target / "meta.json").read_text())
            meta.update(status="recording", recorder={"pid": 2**22 + 1, "hostname": "elsewhere"})
            (target / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(record)


def timed(command: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 15")
    options = parser.parse_args()
    runs = 3 if options.quick else 15
    root = Path(tempfile.mkdtemp(prefix="rigscope-bench-ls-"))
    try:
        build(root, options.sessions)
        sys.path.insert(0, str(ROOT))
        from recordings.catalog import catalog

        start = time.perf_counter()
        rows = catalog(root)
        in_process = time.perf_counter() - start
        assert len(rows) == options.sessions
        table = timed(rigscope_command("ls", "--dir", str(root)), runs)
        as_json = timed(rigscope_command("ls", "--dir", str(root), "--json"), runs)
        bare = timed([sys.executable, "-c", "pass"], runs)
    finally:
        shutil.rmtree(root)
    figures = {"sessions": options.sessions, "runs": runs, "quick": options.quick,
               "ls_median_s": median(table), "ls_max_s": max(table), "ls_json_median_s": median(as_json),
               "python_start_median_s": median(bare),
               "catalog_in_process_s": in_process, "target_s": TARGET_S,
               "pass": median(table) < TARGET_S and median(as_json) < TARGET_S}
    print_table(["measure", "seconds"], [
        (f"rigscope ls, {options.sessions} sessions, median / max of {runs}", f"{median(table):.3f} / {max(table):.3f}"),
        ("rigscope ls --json, median / max", f"{median(as_json):.3f} / {max(as_json):.3f}"),
        ("python -c pass, median (interpreter start)", f"{median(bare):.3f}"),
        ("catalog() in this process", f"{in_process:.3f}"),
        (f"target: median < {TARGET_S:g} s", verdict(figures["pass"])),
    ], title="rigscope ls")
    write_result("catalog", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
