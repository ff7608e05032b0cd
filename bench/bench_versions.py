"""Before and after a change: the sampler, recorder, HTTP and dashboard figures of two checkouts, in one run.

Run: python bench/bench_versions.py --baseline DIR [--quick] [--rounds N]

DIR is another checkout of rigscope with its own virtualenv ("old"), e.g.
`git worktree add ../old REV && python -m venv ../old/.venv && ../old/.venv/bin/pip install -e ../old`;
this checkout is "new". Each tree is measured with its own code and its own interpreter:

- sampler, recorder, http, tick_cost: each tree's own `bench/bench_<name>.py`, run by its own
  `.venv/bin/python` with the tree as working directory and PYTHONPATH, old, new, old, new ...
  for N rounds (default 2), with run.py's shorter arguments (RUN_ARGS; one run a round for
  tick_cost), or `--quick`; a tree without the script is skipped. Each
  script writes `bench/results/<name>.json` inside its own tree; the figures that
  bench/figures.py publishes are read from it, then the file the tree had before is put back,
  so this comparison never replaces a tree's own results.
- dashboard: both trees' `rigscope demo --gpus-sim 4 --hz 10 --fps 2`, recording into a
  temporary directory, with their own temporary XDG_RUNTIME_DIR and RIGSCOPE_DIR, started at
  the same time, each in its own tmux server (private socket, 160x50), as bench_dashboard.py
  runs its tools: after its warm-up, the CPU time of each process tree (children included)
  over 20 s (10 s with --quick) as % of one core, and its RSS at the end; N rounds, the order
  of the two flipping every round.

Every figure is lower-is-better. Verdict: the ratio new/old of the medians is "no worse" when
it is at most 1 + noise, "better" below 1 - noise, else "WORSE"; noise is the larger of 10 %
and the rounds' spread, (max - min) / median, of either tree. The load (`uptime`) at the start
and the end is printed and kept. Prints one table and writes bench/results/versions.json.
Not part of `bench/run.py` (it needs a baseline); a whole run with 2 rounds takes about
14 minutes on the 2-core development machine; 3.5 with --quick --rounds 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_dashboard import WARMUP_S, Config, measure
from common import ROOT, median, print_table, write_result  # noqa: I001  (bench/ is on sys.path)
from run import RUN_ARGS

TOLERANCE = 0.10
SCRIPTS = ("sampler", "recorder", "http", "tick_cost")
# bench_tick_cost.py is not in run.py: its arguments here (the rounds alternate the trees already).
SCRIPT_ARGS = {**RUN_ARGS, "tick_cost": ["--runs", "1"]}
DEMO_ARGS = ("demo", "--gpus-sim", "4", "--hz", "10", "--fps", "2")
Figures = dict[str, float | None]  # figure label -> value (None: not in this result)


# ---------------------------------------------------------------- the figures of each result

def sampler_figures(r: dict[str, Any]) -> Figures:
    return {f"sampling thread at {c['hz']:g} Hz, % of a core": c["ours_pct"]
            for c in r["rates"] if c["hz"] in (10.0, 100.0)}


def recorder_figures(r: dict[str, Any]) -> Figures:
    out: Figures = {f"recorder thread per sample, {c['gpus']} GPU, {c['label']}, µs": c["write_cpu_us_per_sample"]
                    for c in r["write_costs"]}
    out.update({f"Parquet bytes per sample, {s['gpus']} GPU": s["parquet_bytes_per_sample"] for s in r["sizes"]})
    return out


def http_figures(r: dict[str, Any]) -> Figures:
    out: Figures = {}
    for s in r["scrape"]:
        out[f"{s['measure']}, p50 ms"] = s["p50_ms"]
        out[f"{s['measure']}, p99 ms"] = s["p99_ms"]
    for lag in r["lag"]:
        out[f"sample_lag_ms p99, {lag['condition']}"] = lag["p99_ms"]
    return out


def tick_cost_figures(r: dict[str, Any]) -> Figures:
    return {f"{f['config']} at {f['hz']:g} Hz, {f['figure']}": f["new"] for f in r["figures"]}


EXTRACT: dict[str, Callable[[dict[str, Any]], Figures]] = {
    "sampler": sampler_figures, "recorder": recorder_figures, "http": http_figures, "tick_cost": tick_cost_figures}


# ---------------------------------------------------------------- the two trees

@dataclass(frozen=True)
class Tree:
    role: str        # "old" or "new"
    root: Path
    python: Path

    @property
    def env(self) -> dict[str, str]:
        """Its own code first on the path, whatever the interpreter's install points at."""
        return {"PYTHONPATH": str(self.root)}

    def revision(self) -> str:
        done = subprocess.run(["git", "-C", str(self.root), "describe", "--always", "--dirty"],
                              capture_output=True, text=True)
        return done.stdout.strip() or "unknown"


def baseline_tree(directory: str) -> Tree | str:
    """The baseline checkout, or why it cannot be one."""
    root = Path(directory).resolve()
    python = root / ".venv" / "bin" / "python"
    if not (root / "bench").is_dir():
        return f"{directory} has no bench/: give a checkout of rigscope"
    if not python.exists():
        return f"{directory} has no .venv/bin/python: make its virtualenv and pip install -e it first"
    return Tree("old", root, python)


def imports_own_code(tree: Tree) -> str | None:
    """None when the tree's interpreter imports rigscope from the tree; else why not."""
    try:
        done = subprocess.run([str(tree.python), "-c", "import rigscope; print(rigscope.__file__)"], cwd=tree.root,
                              env={**os.environ, **tree.env}, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{tree.python} does not run: {error}"
    found = done.stdout.strip()
    if done.returncode != 0:
        return f"{tree.python} cannot import rigscope: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    if not Path(found).resolve().is_relative_to(tree.root):
        return f"{tree.python} imports rigscope from {found}, outside {tree.root}"
    return None


@contextmanager
def kept(path: Path) -> Iterator[None]:
    """Put back the file that was at `path` (or none) after the block."""
    before = path.read_bytes() if path.exists() else None
    try:
        yield
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)


def run_script(tree: Tree, name: str, quick: bool) -> tuple[Figures | None, str, float]:
    """One run of the tree's own bench script: its figures (None when it failed), what happened, seconds."""
    result = tree.root / "bench" / "results" / f"{name}.json"
    argv = [str(tree.python), f"bench/bench_{name}.py", *(["--quick"] if quick else SCRIPT_ARGS.get(name, []))]
    started = time.perf_counter()
    with kept(result), tempfile.TemporaryDirectory(prefix="rigscope-bench-versions-") as scratch:
        env = {**os.environ, **tree.env, **private_dirs(Path(scratch))}
        done = subprocess.run(argv, cwd=tree.root, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0 or not result.exists():
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
            return None, f"failed (exit {done.returncode}): {tail[0][:200]}", seconds
        try:
            return EXTRACT[name](json.loads(result.read_text())), "ok", seconds
        except (KeyError, TypeError, ValueError) as error:
            return None, f"its result has no {error} (an older layout?)", seconds


def private_dirs(scratch: Path) -> dict[str, str]:
    """A runtime directory (0700, as XDG_RUNTIME_DIR must be) and a sessions directory of its own."""
    runtime, sessions = scratch / "runtime", scratch / "sessions"
    runtime.mkdir(mode=0o700)
    sessions.mkdir()
    return {"XDG_RUNTIME_DIR": str(runtime), "RIGSCOPE_DIR": str(sessions)}


# ---------------------------------------------------------------- the dashboard, both at once

def demo_config(tree: Tree, scratch: Path) -> Config:
    # tool is not "rigscope": bench_dashboard would then read a `self_threads` column older sessions lack.
    return Config(tree.role, f"rigscope demo ({tree.role})", f"rigscope-{tree.role}",
                  lambda d: [str(tree.python), "-m", "rigscope", *DEMO_ARGS, "--dir", str(d)],
                  {**tree.env, **private_dirs(scratch)})


def dashboard_round(trees: list[Tree], seconds: float, serial: int) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="rigscope-bench-versions-") as scratch:
        configs = []
        for tree in trees:
            (Path(scratch) / tree.role).mkdir()
            configs.append(demo_config(tree, Path(scratch) / tree.role))
        return {run["config"]: run for run in measure(configs, seconds, serial)}


def dashboard_figures(run: dict[str, Any]) -> Figures | None:
    if not run.get("ok"):
        return None
    return {"rigscope demo 10 Hz, 2 fps, 4 GPUs, CPU % of a core": run["cpu_pct"],
            "its tmux server (what it draws), CPU % of a core": run["tmux_server_cpu_pct"],
            "rigscope demo RSS at the end, MB": run["rss_mb"]}


# ---------------------------------------------------------------- comparing

def spread(values: list[float]) -> float:
    middle = median(values)
    return (max(values) - min(values)) / middle if len(values) > 1 and middle > 0 else 0.0


def compare(old: list[float], new: list[float]) -> dict[str, Any]:
    """Medians, ratio and verdict of one figure (lower is better)."""
    row: dict[str, Any] = {"old": old, "new": new, "old_median": median(old) if old else None,
                           "new_median": median(new) if new else None, "ratio": None, "noise": None, "verdict": "—"}
    if not old or not new or row["old_median"] <= 0:
        return row
    noise = max(TOLERANCE, spread(old), spread(new))
    ratio = row["new_median"] / row["old_median"]
    verdict = "better" if ratio < 1 - noise else "no worse" if ratio <= 1 + noise else "WORSE"
    row.update({"ratio": ratio, "noise": noise, "verdict": verdict})
    return row


def load_line() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True) if shutil.which("uptime") else None
    if done and done.returncode == 0:
        return done.stdout.strip()
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Compare this checkout of rigscope (new) with another (old, --baseline DIR) in one run: "
                    "sampler, recorder and HTTP benchmarks (each tree's own script and interpreter, alternating) "
                    "and the dashboard (both at once in tmux).",
        epilog="DIR: a checkout with its own virtualenv, e.g. git worktree add ../old REV, then "
               "python -m venv ../old/.venv and ../old/.venv/bin/pip install -e ../old. "
               "Writes bench/results/versions.json.")
    parser.add_argument("--baseline", required=True, metavar="DIR", help="the other checkout (old); this one is new")
    parser.add_argument("--quick", action="store_true", help="--quick to every script, 10 s dashboard windows")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of old and new for every benchmark (default 2)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join([*SCRIPTS, 'dashboard'])}")
    options = parser.parse_args()
    wanted = options.only.split(",") if options.only else [*SCRIPTS, "dashboard"]
    unknown = [n for n in wanted if n not in (*SCRIPTS, "dashboard")]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}")
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    old = baseline_tree(options.baseline)
    if isinstance(old, str):
        print(f"bench_versions: {old}", file=sys.stderr)
        return 2
    new = Tree("new", ROOT, Path(sys.executable))
    for tree in (old, new):
        if why := imports_own_code(tree):
            print(f"bench_versions: {why}", file=sys.stderr)
            return 2
    if "dashboard" in wanted and shutil.which("tmux") is None:
        print("bench_versions: the dashboard comparison needs tmux (or leave it out with --only)", file=sys.stderr)
        return 2

    seconds = 10.0 if options.quick else 20.0
    revisions = {tree.role: tree.revision() for tree in (old, new)}
    load_start = load_line()
    print(f"old: {old.root} ({revisions['old']})\nnew: {new.root} ({revisions['new']})\n"
          f"{options.rounds} rounds{' (quick)' if options.quick else ''}; at start: {load_start}", flush=True)

    values: dict[str, dict[str, dict[str, list[float]]]] = {}  # benchmark -> figure -> role -> values
    runs: list[dict[str, Any]] = []
    failed = False

    def keep(benchmark: str, role: str, figures: Figures) -> None:
        for label, value in figures.items():
            if value is not None:
                values.setdefault(benchmark, {}).setdefault(label, {"old": [], "new": []})[role].append(value)

    for round_index in range(options.rounds):
        for name in (n for n in SCRIPTS if n in wanted):
            for tree in (old, new):
                if not (tree.root / "bench" / f"bench_{name}.py").exists():
                    print(f"round {round_index + 1}  {tree.role}  {name}: no bench/bench_{name}.py, skipped", flush=True)
                    continue
                figures, outcome, took = run_script(tree, name, options.quick)
                failed |= figures is None
                print(f"round {round_index + 1}  {tree.role}  {name:<9} {outcome}, {took:.0f} s", flush=True)
                runs.append({"round": round_index + 1, "tree": tree.role, "benchmark": name, "outcome": outcome,
                             "seconds": took, "figures": figures})
                if figures:
                    keep(name, tree.role, figures)
        if "dashboard" in wanted:
            trees = [old, new] if round_index % 2 == 0 else [new, old]
            for role, run in dashboard_round(trees, seconds, 2 * round_index).items():
                figures = dashboard_figures(run)
                failed |= figures is None
                shown = (f"{run['cpu_pct']:.2f} % CPU, {run['rss_mb']:.1f} MB" if figures
                         else f"failed: {run.get('error')}")
                print(f"round {round_index + 1}  {role}  dashboard {shown} "
                      f"({WARMUP_S:g} s warm-up, {seconds:g} s measured)", flush=True)
                runs.append({"round": round_index + 1, "tree": role, "benchmark": "dashboard", "run": run,
                             "figures": figures})
                if figures:
                    keep("dashboard", role, figures)

    load_end = load_line()
    rows = [{"benchmark": benchmark, "figure": label, **compare(by_role["old"], by_role["new"])}
            for benchmark, figures in values.items() for label, by_role in figures.items()]
    print_table(["benchmark", "figure", "old median", "new median", "new/old", "verdict"],
                [[r["benchmark"], r["figure"], r["old_median"], r["new_median"], r["ratio"], r["verdict"]]
                 for r in rows], digits=3,
                title=f"old {revisions['old']} against new {revisions['new']}, medians of {options.rounds} rounds "
                      f"(lower is better; no worse: new/old <= 1 + max(10 %, the rounds' spread))")
    print(f"\nload at start: {load_start}\nload at end:   {load_end}")
    write_result("versions", {
        "quick": options.quick, "rounds": options.rounds, "dashboard_seconds": seconds, "warmup_s": WARMUP_S,
        "trees": {tree.role: {"root": str(tree.root), "revision": revisions[tree.role]} for tree in (old, new)},
        "tolerance": TOLERANCE, "load_start": load_start, "load_end": load_end, "figures": rows, "runs": runs,
    })
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
