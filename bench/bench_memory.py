"""RSS growth of a recording: a simulated hour at 100 Hz, as fast as possible, through the whole pipeline.

Runs `rigscope record --source sim --speed max --hz 100 --duration 1h --dir TMP`
as a subprocess and polls its RSS (psutil) every 0.25 s.  Progress is read from
the session's segment files (one per `--segment-interval` of sample time, 60 in
the hour): the baseline is the RSS when 5 % of the samples are done (after
warm-up), the steady maximum is the largest RSS while at most 95 % are done
(before the recorder's close and compaction), growth is their difference.  As
the RSS saw-tooths with each Parquet part, the drift of the median RSS from
5-30 % to 70-95 % of the samples is reported too (a trend, not a spike).  Also
reported: the peak during close, the wall time, samples per second, and frames
the sampler dropped because the recorder fell behind (the sampler never waits).

Target (issue): growth < 20 MB over the simulated hour.

Run: python bench/bench_memory.py [--quick]   (--quick: 6 simulated minutes, 60 segments of 6 s)
Prints a table and writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from common import median, print_table, rigscope_command, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

HZ = 100
POLL_S = 0.25
TARGET_GROWTH_MB = 20.0
MB = 1024 * 1024
_PART = re.compile(r"part-(\d+)\.")


def progress(root: Path) -> tuple[int, bool]:
    """Highest segment number so far, and whether compaction into samples.parquet has begun."""
    highest, closing = 0, False
    for session in root.iterdir() if root.is_dir() else ():
        closing |= (session / "samples.parquet").exists() or (session / ".samples.parquet.tmp").exists()
        samples = session / "samples"
        if samples.is_dir():
            for path in samples.iterdir():
                match = _PART.match(path.name)
                if match:
                    highest = max(highest, int(match.group(1)))
    return highest, closing


def watch(command: list[str], root: Path) -> tuple[list[tuple[float, int, int, bool]], float, int]:
    """Run `command`, polling (seconds, RSS bytes, segment, closing) until it exits; also wall time and exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    handle = psutil.Process(proc.pid)
    polls: list[tuple[float, int, int, bool]] = []
    while proc.poll() is None:
        try:
            rss = handle.memory_info().rss
        except psutil.NoSuchProcess:
            break
        segment, closing = progress(root)
        polls.append((time.perf_counter() - start, rss, segment, closing))
        time.sleep(POLL_S)
    code = proc.wait()
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"rigscope record exited {code}: {proc.stderr.read() if proc.stderr else ''}")
    return polls, wall, code


def analyse(polls: list[tuple[float, int, int, bool]], parts: int) -> dict[str, Any]:
    """Baseline at 5 %, steady max up to 95 %, peak during close, from the polls."""
    baseline_part = round(parts * 0.05) + 1  # segment k starts at (k-1)/parts of the samples
    steady_last_part = round(parts * 0.95)
    at_5 = next((p for p in polls if p[2] >= baseline_part), None)
    steady = [p for p in polls if at_5 is not None and at_5[0] <= p[0] and p[2] <= steady_last_part and not p[3]]
    closing = [p for p in polls if p[3] or p[2] > steady_last_part]
    if at_5 is None or not steady:
        raise RuntimeError("the run was too short to poll its progress (no poll between 5 % and 95 %)")
    peak_steady = max(steady, key=lambda p: p[1])
    early = [p[1] for p in steady if p[2] <= round(parts * 0.30)]
    late = [p[1] for p in steady if p[2] > round(parts * 0.70)]
    return {
        "rss_at_5pct_mb": at_5[1] / MB,
        "rss_at_5pct_t_s": at_5[0],
        "rss_max_to_95pct_mb": peak_steady[1] / MB,
        "rss_max_to_95pct_t_s": peak_steady[0],
        "rss_at_95pct_mb": steady[-1][1] / MB,
        "growth_mb": (peak_steady[1] - at_5[1]) / MB,
        "rss_median_5_30pct_mb": median(early) / MB if early else None,
        "rss_median_70_95pct_mb": median(late) / MB if late else None,
        "drift_mb": (median(late) - median(early)) / MB if early and late else None,
        "peak_at_close_mb": max(p[1] for p in closing) / MB if closing else None,
        "peak_overall_mb": max(p[1] for p in polls) / MB,
        "polls": len(polls),
        "steady_polls": len(steady),
    }


def session_meta(root: Path) -> dict[str, Any]:
    metas = list(root.glob("*/meta.json"))
    if len(metas) != 1:
        raise RuntimeError(f"expected one session, found {len(metas)}")
    return json.loads(metas[0].read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 simulated minutes instead of an hour (smoke test)")
    options = parser.parse_args()
    duration_s, segment_s = (360.0, 6.0) if options.quick else (3600.0, 60.0)
    parts = round(duration_s / segment_s)

    with tempfile.TemporaryDirectory(prefix="rigscope-bench-memory-") as tmp:
        root = Path(tmp) / "sessions"
        command = rigscope_command("record", "--source", "sim", "--speed", "max", "--hz", str(HZ),
                                   "--duration", f"{duration_s:g}s", "--segment-interval", f"{segment_s:g}",
                                   "--dir", str(root))
        print(f"recording a simulated {duration_s / 60:g} min at {HZ} Hz as fast as possible ...", flush=True)
        polls, wall, _ = watch(command, root)
        meta = session_meta(root)
    figures = analyse(polls, parts)
    expected = round(duration_s * HZ)
    recorded = int(meta["total_samples"])
    figures.update({
        "wall_s": wall,
        "samples_expected": expected,
        "samples_recorded": recorded,
        "samples_dropped": expected - recorded,
        "samples_per_s": recorded / wall,
        "sampled_per_s": expected / wall,
        "status": meta["status"],
    })
    ok = figures["growth_mb"] < TARGET_GROWTH_MB
    rows = [
        ["RSS at 5 % (baseline)", f"{figures['rss_at_5pct_mb']:.1f} MB", ""],
        ["RSS max up to 95 %", f"{figures['rss_max_to_95pct_mb']:.1f} MB", ""],
        ["growth", f"{figures['growth_mb']:.1f} MB", f"< {TARGET_GROWTH_MB:g} MB {verdict(ok)}"],
        ["median RSS at 5-30 % / 70-95 %",
         f"{figures['rss_median_5_30pct_mb']:.1f} / {figures['rss_median_70_95pct_mb']:.1f} MB", ""],
        ["drift of the medians", f"{figures['drift_mb']:+.1f} MB", ""],
        ["peak during close/compaction",
         f"{figures['peak_at_close_mb']:.1f} MB" if figures["peak_at_close_mb"] else "—", ""],
        ["wall time", f"{wall:.1f} s", ""],
        ["samples recorded / sampled", f"{recorded:,} / {expected:,}", ""],
        ["recorded samples per second", f"{figures['samples_per_s']:,.0f}", ""],
    ]
    print_table(["measure", "value", "target"], rows, title=f"RSS of rigscope record, simulated {duration_s / 60:g} min at {HZ} Hz")
    timeline = [{"t_s": round(t, 2), "rss_mb": round(rss / MB, 2), "segment": seg, "closing": closing}
                for t, rss, seg, closing in polls[::4]]
    write_result("memory", {"quick": options.quick, "hz": HZ, "duration_s": duration_s, "segment_s": segment_s,
                            "command": ["rigscope", *command[3:-1], "TMP"], "target_growth_mb": TARGET_GROWTH_MB,
                            "pass": ok, **figures, "timeline_every_1s": timeline})


if __name__ == "__main__":
    main()
