"""Attach: what viewers cost a recorder, and how fast a viewer of a day-long recording shows its first frame.

(a) `rigscope record --source sim --gpus-sim 4 --hz 10` runs as a subprocess with 0, 1 and 4
headless viewers attached (each a process of its own that reads and decodes every message,
as the dashboard's attach source does), and with one real `rigscope attach` in tmux when tmux is there; the recorder's CPU time (user + system, psutil) is
measured over a window after a warm-up, and the `sample_lag_ms` of the rows recorded in that
window gives p50/p99. The configurations alternate for `--rounds` rounds; medians are quoted.
(b) `rigscope run --source sim --gpus-sim 4 --speed max --baseline 24h -- sleep ...` records a
simulated day in virtual time, then goes on in real time with that day behind it; once it is
live, a viewer attaches (`rigscope.attach_source.AttachSource`: the hour before from the files,
then the live batches) and the time to its first frame is measured, `--attaches` times.

Targets (issue): recorder CPU < 0.3 % of a core per viewer; sample-lag p99 unchanged within 1 ms;
first frame < 1 s on a recorder that has run 24 h.

Run: python bench/bench_attach.py [--quick] [--window S] [--rounds N] [--hours H]
Prints tables and writes bench/results/attach.json.  The machine's load is written with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import polars as pl
import psutil
from common import median, percentile, print_table, rigscope_command, verdict, write_result  # noqa: I001

HZ = 10.0
GPUS = 4
VIEWERS = (0, 1, 4)
TARGET_CPU_PER_VIEWER_PCT = 0.3
TARGET_LAG_DELTA_MS = 1.0
TARGET_FIRST_FRAME_S = 1.0
WARM_S = 3.0
VIEWER = """
import sys
from rigscope.attach_client import AttachClient
client = AttachClient(sys.argv[1])
print(sum(1 for message in client.messages() if message["t"] == "batch"), flush=True)
"""


def attach_socket(root: Path, timeout_s: float = 60.0) -> tuple[Path, str]:
    """(session folder, attach socket) of the one recorder writing under `root`, once it listens."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for meta in root.glob("*/meta.json"):
            try:
                path = json.loads(meta.read_text())["monitoring"]["attach_socket"]
            except (OSError, ValueError, KeyError):
                continue
            if path and os.path.exists(path):
                return meta.parent, path
        time.sleep(0.1)
    raise RuntimeError(f"no recorder under {root} listened within {timeout_s} s")


def lag_of(session: Path, since_s: float, until_s: float) -> list[float]:
    table = pl.read_parquet(session / "samples.parquet", columns=["elapsed_s", "sample_lag_ms"])
    window = table.filter(pl.col("elapsed_s").is_between(since_s, until_s))
    return [float(v) for v in window["sample_lag_ms"].drop_nulls()]


@contextmanager
def dashboard_in_tmux(session: str) -> Iterator[None]:
    """A real `rigscope attach` dashboard in a tmux server of its own (160x45), for the duration of the block."""
    server = f"bench-attach-{os.getpid()}"
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(["tmux", "-L", server, "-f", os.devnull, "new-session", "-d", "-x", "160", "-y", "45",
                    shlex.join(rigscope_command("attach", session))], check=True, env=env)
    try:
        yield
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], check=False)


def one_config(viewers: int, window_s: float, workdir: Path, dashboard: bool = False) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(dir=workdir))
    recorder = subprocess.Popen(rigscope_command("record", "--source", "sim", "--gpus-sim", str(GPUS), "--hz",
                                                 str(HZ), "--dir", str(root)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients: list[subprocess.Popen[str]] = []
    try:
        session, path = attach_socket(root)
        clients = [subprocess.Popen([sys.executable, "-c", VIEWER, path], stdout=subprocess.PIPE, text=True)
                   for _ in range(viewers - dashboard)]
        screen = dashboard_in_tmux(session.name) if dashboard else nullcontext()
        screen.__enter__()
        time.sleep(WARM_S)
        process = psutil.Process(recorder.pid)
        before, started = process.cpu_times(), time.monotonic()
        load_before = os.getloadavg()[0]
        time.sleep(window_s)
        after, elapsed = process.cpu_times(), time.monotonic() - started
        cpu_pct = 100 * ((after.user - before.user) + (after.system - before.system)) / elapsed
        load_after = os.getloadavg()[0]
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)
        if dashboard:
            screen.__exit__(None, None, None)
    received = [int((client.communicate(timeout=30)[0] or "0").strip() or 0) for client in clients]
    meta = json.loads((session / "meta.json").read_text())
    lags = lag_of(session, WARM_S + 1.0, WARM_S + 1.0 + window_s)
    return {"viewers": viewers, "dashboard": dashboard, "cpu_pct": cpu_pct, "p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
            "samples": meta.get("total_samples"), "batches_per_viewer": received,
            "load_1m": [load_before, load_after]}


def viewer_costs(window_s: float, rounds: int, workdir: Path) -> dict[str, Any]:
    runs = [one_config(n, window_s, workdir) for _ in range(rounds) for n in VIEWERS]
    if shutil.which("tmux"):  # one real dashboard in a terminal, as the one viewer
        runs += [one_config(1, window_s, workdir, dashboard=True) for _ in range(rounds)]
    rows = []
    for n in VIEWERS:
        mine = [r for r in runs if r["viewers"] == n and not r["dashboard"]]
        rows.append({"viewers": n, "cpu_pct": median([r["cpu_pct"] for r in mine]),
                     "p50_ms": median([r["p50_ms"] for r in mine]), "p99_ms": median([r["p99_ms"] for r in mine]),
                     "runs": mine})
    dashboards = [r for r in runs if r["dashboard"]]
    if dashboards:
        rows.append({"viewers": 1, "dashboard": True, "cpu_pct": median([r["cpu_pct"] for r in dashboards]),
                     "p50_ms": median([r["p50_ms"] for r in dashboards]),
                     "p99_ms": median([r["p99_ms"] for r in dashboards]), "runs": dashboards})
    base = rows[0]
    for row in rows[1:]:
        row["cpu_per_viewer_pct"] = (row["cpu_pct"] - base["cpu_pct"]) / row["viewers"]
        row["lag_p99_delta_ms"] = row["p99_ms"] - base["p99_ms"]
        row["pass"] = (row["cpu_per_viewer_pct"] < TARGET_CPU_PER_VIEWER_PCT
                       and row["lag_p99_delta_ms"] < TARGET_LAG_DELTA_MS)  # lower is no regression
    print_table(["viewers", "recorder CPU %", "per viewer %", "lag p50 ms", "lag p99 ms", "Δp99 ms", "verdict"],
                [[f"{r['viewers']}{' (tmux dashboard)' if r.get('dashboard') else ''}", r["cpu_pct"], r.get("cpu_per_viewer_pct"), r["p50_ms"], r["p99_ms"],
                  r.get("lag_p99_delta_ms"), verdict(r.get("pass"))] for r in rows],
                title=f"recorder at {HZ:g} Hz, {GPUS} simulated GPUs, {window_s:g} s windows, median of {rounds}")
    return {"rows": rows, "window_s": window_s, "rounds": rounds}


def first_frames(hours: float, attaches: int, workdir: Path) -> dict[str, Any]:
    from rigscope.attach_source import AttachSource

    root = Path(tempfile.mkdtemp(dir=workdir))
    made = time.monotonic()
    runner = subprocess.Popen(rigscope_command("run", "--source", "sim", "--gpus-sim", str(GPUS), "--hz", str(HZ),
                                               "--speed", "max", "--baseline", f"{hours:g}h", "--cooldown", "0",
                                               "--dir", str(root), "--", "sleep", "600"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        session, path = attach_socket(root)
        parts = int(hours * 60)  # a part a minute: the simulated day done, the recorder is live
        while len(list((session / "samples").glob("part-*"))) < parts:
            if runner.poll() is not None:
                raise RuntimeError("rigscope run ended before its baseline did")
            time.sleep(2)
        made_s = time.monotonic() - made
        time.sleep(3)
        timings = []
        for _ in range(attaches):
            started = time.monotonic()
            source = AttachSource(path)
            while source.first_frame_at is None and time.monotonic() - started < 30:
                time.sleep(0.005)
            shown = source.feed.snapshot(3600.0, ["gpu0_util_pct"])
            timings.append({"first_frame_s": (source.first_frame_at or float("nan")) - started,
                            "history_points_1h": len(shown.series["gpu0_util_pct"])})
            source.close()
        parts = len(list((session / "samples").glob("part-*")))
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(120)
    first = [t["first_frame_s"] for t in timings]
    result = {"hours": hours, "session_made_s": made_s, "parts": parts, "attaches": timings,
              "first_frame_p50_s": median(first), "first_frame_max_s": max(first),
              "pass": max(first) < TARGET_FIRST_FRAME_S}
    print_table(["recorded", "parts", "first frame p50 s", "max s", "1 h window points", "verdict"],
                [[f"{hours:g} h", parts, result["first_frame_p50_s"], result["first_frame_max_s"],
                  timings[-1]["history_points_1h"], verdict(result["pass"])]],
                title=f"attach to a recorder that has run {hours:g} h ({made_s:.0f} s to simulate)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s windows, one round, a 1 h session")
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--attaches", type=int, default=5)
    parser.add_argument("--part", choices=["viewers", "first-frame", "both"], default="both")
    args = parser.parse_args()
    if args.quick:
        args.window, args.rounds, args.hours, args.attaches = 8.0, 1, 1.0, 3
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="bench-attach-")  # never a user's own recorders
    workdir = Path(tempfile.mkdtemp(prefix="bench-attach-sessions-"))
    result: dict[str, Any] = {"hz": HZ, "gpus": GPUS, "cpu_count": psutil.cpu_count(),
                              "load_1m_at_start": os.getloadavg()[0]}
    if args.part in ("viewers", "both"):
        result["viewers"] = viewer_costs(args.window, args.rounds, workdir)
    if args.part in ("first-frame", "both"):
        result["first_frame"] = first_frames(args.hours, args.attaches, workdir)
    write_result("attach", result)


if __name__ == "__main__":
    main()
