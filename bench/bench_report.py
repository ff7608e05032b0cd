"""`rigscope report` on a 24 h, 10 Hz, one-GPU session and `rigscope compare --all` over 10 such sessions.

The session is the replay benchmark's (`bench_replay.ensure_session`: recorded once with the simulated
source at --speed max into bench/results/replay-24h-10hz/, reused while complete).  For compare, 10
sessions are made from it in bench/results/report-compare/: its files hard-linked (copied where links
fail), meta.json rewritten with its own id, host and one of 3 hardware tiers, so compare forms 3 groups.

Each figure is the wall time of a fresh `python -m rigscope ...` process (imports included), stdout to
a pipe, the page cache warm (one untimed run first); the median of --runs runs.
- report: `rigscope report SESSION --out FILE` (markdown only) and with `--plots DIR` (text plots, and
  PNGs when matplotlib is installed);
- compare: `rigscope compare --all --dir DIR` (terminal output) and with `--out DIR` (CSV, JSON,
  markdown, PNGs).
Targets: report < 5 s, compare --all over 10 sessions < 10 s (also with --out); none for --plots.

Run: python bench/bench_report.py [--quick]   (--quick: a 1-hour session; figures not to quote)
Prints a table and writes bench/results/report.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench_replay import ensure_session
from common import RESULTS, ROOT, median, print_table, rigscope_command, verdict, write_result  # noqa: I001

TARGET_REPORT_S = 5.0
TARGET_COMPARE_S = 10.0
SESSIONS = 10
TIERS = ("bench_tier_a", "bench_tier_b", "bench_tier_c")


def make_compare_dir(source: Path, count: int) -> Path:
    """`count` sessions made from `source`: files linked, meta.json with its own id, host and tier."""
    root = RESULTS / "report-compare"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    meta = json.loads((source / "meta.json").read_text())
    for i in range(count):
        target = root / f"{source.name}-{i + 1:02d}"
        target.mkdir()
        for path in source.iterdir():
            if path.is_file() and path.name != "meta.json":
                try:
                    os.link(path, target / path.name)
                except OSError:
                    shutil.copy2(path, target / path.name)
        copy = {**meta, "session_id": target.name,
                "host": {**meta["host"], "hostname": f"bench-host-{i % 5}", "hardware_tier": TIERS[i % len(TIERS)]}}
        (target / "meta.json").write_text(json.dumps(copy))
    return root


def timed(*args: str, runs: int) -> list[float]:
    """Wall seconds of `runs` fresh rigscope processes, after one untimed warm-up run."""
    seconds = []
    for attempt in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(rigscope_command(*args), cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"rigscope {' '.join(args)} failed: {done.stderr.strip()}")
        if attempt:
            seconds.append(elapsed)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-hour session (smoke run)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (default 3)")
    options = parser.parse_args()
    hours = 1.0 if options.quick else 24.0
    session, _ = ensure_session(hours, 10.0)
    rows_in_session = json.loads((session / "meta.json").read_text())["total_samples"]
    compare_root = make_compare_dir(session, SESSIONS)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        figures = {
            "report": timed("report", str(session), "--out", str(out / "r.md"), runs=options.runs),
            "report --plots": timed("report", str(session), "--out", str(out / "r.md"), "--plots", str(out / "p"),
                                    runs=options.runs),
            "compare --all": timed("compare", "--all", "--dir", str(compare_root), runs=options.runs),
            "compare --all --out": timed("compare", "--all", "--dir", str(compare_root), "--out", str(out / "c"),
                                         runs=options.runs),
        }
    # The targets are for the report and the comparison; plots (matplotlib, plotext) come on top.
    targets = {"report": TARGET_REPORT_S, "report --plots": None, "compare --all": TARGET_COMPARE_S,
               "compare --all --out": TARGET_COMPARE_S}
    rows = [(name, median(values), max(values), targets[name],
             verdict(None if targets[name] is None else median(values) < targets[name]))
            for name, values in figures.items()]
    print_table(("command", "median s", "max s", "target s", "verdict"), rows,
                title=f"{hours:g} h at 10 Hz ({rows_in_session:,} rows); compare over {SESSIONS} such sessions")
    pngs = importlib.util.find_spec("matplotlib") is not None  # the plots extra: without it, text plots only
    write_result("report", {"quick": options.quick, "pngs": pngs, "hours": hours, "rows_per_session": rows_in_session, "sessions_compared": SESSIONS,
                            "runs": options.runs, "seconds": figures,
                            "median_s": {name: median(values) for name, values in figures.items()},
                            "targets_s": targets})
    shutil.rmtree(compare_root, ignore_errors=True)


if __name__ == "__main__":
    main()
