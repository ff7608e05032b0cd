"""`rigscope export --to perfetto` and `--to chrome-trace` of a 24 h, 10 Hz, one-GPU session: time and peak memory.

The one-GPU session is the replay benchmark's (`bench_replay.ensure_session`: recorded once with the
simulated source at --speed max, reused while complete).  With --gpus8-hours H an 8-GPU session of H hours
is recorded too (into bench/results/timeline-8gpu-Hh/, reused) and exported the same way: memory must
stay under 300 MB, whatever the length, since the samples are read a slice at a time.

Each figure is one fresh `python -m rigscope export ...` process (imports included): its wall time,
and its peak RSS from the kernel's accounting of that child (`wait4`'s `ru_maxrss`).

Run: python bench/bench_timeline.py [--quick] [--gpus8-hours H]   (--quick: a 1-hour session; not to quote)
Prints a table and writes bench/results/timeline.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_replay import ensure_session
from common import RESULTS, ROOT, print_table, rigscope_command, verdict, write_result  # noqa: I001

TARGET_RSS_MB = 300.0
MB = 1024 * 1024


def measured_export(session: Path, kind: str, out: Path) -> dict[str, float]:
    """Wall seconds, peak RSS (MB), events and file size (MB) of one export in a fresh process."""
    start = time.perf_counter()
    child = subprocess.Popen(rigscope_command("export", str(session), "--to", kind, "--out", str(out)), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"export --to {kind} failed: {stderr.strip()}")
    events = int(stdout.split(": ", 1)[1].split(" events", 1)[0])
    size = out.stat().st_size / MB
    out.unlink()
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss * 1024 / MB, "events": events, "file_mb": size,
            "events_per_s": events / wall}


def eight_gpu_session(hours: float) -> Path:
    from recordings.session import list_sessions, read_meta

    root = RESULTS / f"timeline-8gpu-{hours:g}h"
    sessions = list_sessions(root)
    if sessions and read_meta(sessions[-1]).get("status") == "complete":
        return sessions[-1]
    print(f"recording a simulated {hours:g} h, 10 Hz, 8-GPU session into {root.relative_to(ROOT)} (once) ...", flush=True)
    command = rigscope_command("record", "--source", "sim", "--speed", "max", "--hz", "10",
                               "--duration", f"{hours * 3600:g}s", "--gpus-sim", "8", "--dir", str(root))
    if subprocess.run(command, stdout=subprocess.DEVNULL, cwd=ROOT).returncode != 0:
        sys.exit("recording the 8-GPU session failed")
    return list_sessions(root)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-hour session (smoke run)")
    parser.add_argument("--gpus8-hours", type=float, default=0.0, metavar="H",
                        help="also export an H-hour, 8-GPU session (default: none)")
    options = parser.parse_args()
    hours = 1.0 if options.quick else 24.0
    runs = {f"{hours:g} h, 1 GPU": ensure_session(hours, 10.0)[0]}
    if options.gpus8_hours:
        runs[f"{options.gpus8_hours:g} h, 8 GPUs"] = eight_gpu_session(options.gpus8_hours)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=RESULTS) as scratch:
        for label, session in runs.items():
            results[label] = {kind: measured_export(session, kind, Path(scratch) / f"out.{kind}")
                              for kind in ("perfetto", "chrome-trace")}
    rows = [(label, kind, f"{r['wall_s']:.1f}", f"{r['peak_rss_mb']:.0f}", f"{r['events']:,}", f"{r['file_mb']:.0f}",
             verdict(r["peak_rss_mb"] < TARGET_RSS_MB))
            for label, kinds in results.items() for kind, r in kinds.items()]
    print_table(("session (10 Hz)", "to", "wall s", "peak RSS MB", "events", "file MB", f"RSS < {TARGET_RSS_MB:g} MB"),
                rows, title="rigscope export of a session as a timeline, one fresh process each")
    write_result("timeline", {"quick": options.quick, "hours": hours, "target_rss_mb": TARGET_RSS_MB,
                              "exports": results})


if __name__ == "__main__":
    main()
