"""Dashboard cost: CPU and RSS of the whole `rigscope demo` in tmux, beside glances, btop and s-tui.

Every configuration runs inside its own detached tmux session on its own server socket
(`tmux -L <unique> new -d -s s -x 160 -y 50 "exec <command>"`); in a round they all run at
the same time, so every tool meets the same machine and the whole benchmark takes 4 minutes
instead of 25 (--one-at-a-time runs them one after the other). After a 5 s warm-up the CPU
time (user + system, of the tool's process tree: the pane's process and its children) is taken
over 60 s (15 s with --quick) and divided by the wall time, as % of one core; the tmux server's
CPU (which parses everything the tool draws) is measured apart. RSS is the tree's at the end of
the interval. 3 rounds; figures are medians of the 3.

  rigscope 10 Hz    rigscope demo --gpus-sim 4 --hz 10 --dir <tmp>   (recording on, the default)
  rigscope 100 Hz   the same at --hz 100
  rigscope 10 fps   the same at --hz 10 --fps 10 (redrawing 10 times a second)
  glances -t 1      glances, 1 s refresh; and glances at its default refresh (2 s)
  btop 1000 ms      btop with update_ms = 1000 in its config file; and update_ms = 100
  s-tui             s-tui at its default refresh (2 s)

Peers are installed into bench/results/peers/ (not tracked): glances and s-tui with pip into
their own venv, btop with `apt-get install -y btop` (root only). A peer that cannot be
installed or started is skipped, with the reason in the output and the JSON.

Key response: in a rigscope demo at 10 Hz, `tmux send-keys n`, then `tmux capture-pane -p` in
a tight loop until the note dialog ("Note at") is on screen; Escape, wait for it to close, again:
10 presses. Each poll is a tmux client process, so the figure includes up to one poll of latency
(the poll round trip is reported beside it).

Each rigscope's own budget by thread (sampler, recorder, feed, main = Textual's loop, ...: the
`self_threads` column its session recorded, % of one core, mean over the measured interval)
is reported beside its total, so a regression has an owner. The machine's load (`os.getloadavg`)
is kept with every run; the ratios against btop and glances are taken round by round (tools that
ran at the same time) and their median reported.

Targets (issues): rigscope at 10 Hz costs less CPU than `glances -t 1` in the same run; at
100 Hz under 10 % of a core; a key press shows its response in under 100 ms (median of 10);
idle RSS (rigscope at 10 Hz, end of the interval, median) under 120 MB. Against native tools,
same rounds: 10 Hz <= 0.6x btop at 100 ms and <= 0.6x `glances -t 1`; 100 Hz <= 1x btop at
100 ms; 10 fps at 10 Hz <= 1.5x btop at 100 ms.

Run: python bench/bench_dashboard.py [--quick] [--seconds S] [--rounds N] [--presses N]
Prints a table and writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from common import RESULTS, median, print_table, rigscope_command, verdict, write_result  # noqa: I001

PEERS = RESULTS / "peers"
VENV = PEERS / "venv"
PIP_PEERS = ("glances", "s-tui")
WIDTH, HEIGHT = 160, 50
WARMUP_S = 5.0
MB = 1024 * 1024

TARGET_100HZ_PCT = 10.0
TARGET_KEY_MS = 100.0
TARGET_IDLE_RSS_MB = 120.0
# (ours, native peer, at most ours / peer): the native-tools issue's targets, taken within each round.
NATIVE_TARGETS = (("rigscope-10", "btop-100", 0.6), ("rigscope-10", "glances-1s", 0.6),
                  ("rigscope-100", "btop-100", 1.0), ("rigscope-10fps", "btop-100", 1.5))
NOTE_TEXT = "Note at"

# Same locale and shell for every pane; btop refuses to start without a UTF-8 locale.
BASE_ENV = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "SHELL": "/bin/sh"}


@dataclass
class Config:
    key: str
    label: str
    tool: str                                # the peer it belongs to (rigscope, glances, btop, s-tui)
    argv: Callable[[Path], list[str]]        # given a scratch directory
    env: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- peers: install or skip

def run_quiet(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def install_pip_peers(skipped: dict[str, str]) -> dict[str, Path]:
    """glances and s-tui: the system's (apt-get install glances) where there is one, else in their own venv;
    their executables, by name."""
    found: dict[str, Path] = {name: Path(path) for name in PIP_PEERS if (path := shutil.which(name))}
    if len(found) == len(PIP_PEERS):
        return found
    python3 = shutil.which("python3")
    if not (VENV / "bin" / "python").exists():
        if python3 is None:
            for name in PIP_PEERS:
                skipped[name] = "no python3 to make a venv with"
            return found
        made = run_quiet([python3, "-m", "venv", str(VENV)])
        if made.returncode != 0:
            for name in PIP_PEERS:
                skipped[name] = f"python3 -m venv failed: {last_line(made.stderr)}"
            return found
    for name in (name for name in PIP_PEERS if name not in found):
        exe = VENV / "bin" / name
        if not exe.exists():
            print(f"installing {name} with pip into {VENV.relative_to(RESULTS.parent.parent)} ...", flush=True)
            done = run_quiet([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", name])
            if done.returncode != 0 or not exe.exists():
                skipped[name] = f"pip install {name} failed: {last_line(done.stderr or done.stdout)}"
                continue
        found[name] = exe
    return found


def install_btop(skipped: dict[str, str]) -> str | None:
    """btop from the system's packages (apt-get, as root); its path or None."""
    path = shutil.which("btop")
    if path:
        return path
    if shutil.which("apt-get") is None:
        skipped["btop"] = "not installed and no apt-get"
        return None
    if os.geteuid() != 0:
        skipped["btop"] = "not installed, and apt-get install needs root"
        return None
    print("installing btop with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "btop"]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # stale package lists: update once, try again
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    path = shutil.which("btop")
    if path is None:
        skipped["btop"] = f"apt-get install btop failed: {last_line(done.stderr or done.stdout)}"
    return path


def version_of(argv: list[str]) -> str | None:
    try:
        done = run_quiet(argv, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).strip()
    match = re.search(r"\d+\.\d+(\.\d+)?", text)
    return match.group(0) if match else (text.splitlines()[0][:80] if text else None)


def btop_config(update_ms: int) -> dict[str, str]:
    """An XDG_CONFIG_HOME whose btop/btop.conf sets update_ms (btop 1.2 has no flag for it)."""
    home = PEERS / f"btop-{update_ms}ms"
    (home / "btop").mkdir(parents=True, exist_ok=True)
    (home / "btop" / "btop.conf").write_text(f"update_ms = {update_ms}\n")
    return {"XDG_CONFIG_HOME": str(home)}


def btop_update_flag(btop: str) -> bool:
    """Whether this btop takes `--update <ms>` (newer versions do)."""
    try:
        return "--update" in run_quiet([btop, "--help"], timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def configurations(skipped: dict[str, str]) -> tuple[list[Config], dict[str, str | None]]:
    rigscope = [
        Config("rigscope-10", "rigscope 10 Hz", "rigscope",
               lambda d: rigscope_command("demo", "--gpus-sim", "4", "--hz", "10", "--dir", str(d))),
        Config("rigscope-100", "rigscope 100 Hz", "rigscope",
               lambda d: rigscope_command("demo", "--gpus-sim", "4", "--hz", "100", "--dir", str(d))),
        Config("rigscope-10fps", "rigscope 10 Hz, 10 fps", "rigscope",
               lambda d: rigscope_command("demo", "--gpus-sim", "4", "--hz", "10", "--fps", "10", "--dir", str(d))),
    ]
    peers: list[Config] = []
    versions: dict[str, str | None] = {}
    pip_tools = install_pip_peers(skipped)
    if "glances" in pip_tools:
        glances = str(pip_tools["glances"])
        versions["glances"] = version_of([glances, "--version"])
        peers += [Config("glances-1s", "glances -t 1", "glances", lambda d: [glances, "-t", "1"]),
                  Config("glances-default", "glances (default, 2 s)", "glances", lambda d: [glances])]
    btop = install_btop(skipped)
    if btop:
        versions["btop"] = version_of([btop, "--version"])
        for ms in (1000, 100):
            if btop_update_flag(btop):
                peers.append(Config(f"btop-{ms}", f"btop {ms} ms", "btop",
                                    lambda d, ms=ms: [btop, "--update", str(ms)]))
            else:
                peers.append(Config(f"btop-{ms}", f"btop {ms} ms", "btop", lambda d: [btop], btop_config(ms)))
    if "s-tui" in pip_tools:
        stui = str(pip_tools["s-tui"])
        versions["s-tui"] = version_of([stui, "--version"])
        peers.append(Config("s-tui", "s-tui (default, 2 s)", "s-tui", lambda d: [stui]))
    return rigscope + peers, versions


# ---------------------------------------------------------------- tmux and process trees

class Tmux:
    """One tmux server on its own socket, holding one session `s`."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-f", "/dev/null", "-L", self.name, *args],
                              capture_output=True, text=True, env=self.env)
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args[:2])}: {done.stderr.strip()}")
        return done.stdout

    def start(self, argv: list[str], cwd: Path) -> None:
        subprocess.run(["tmux", "-f", "/dev/null", "-L", self.name, "new", "-d", "-s", "s",
                        "-x", str(WIDTH), "-y", str(HEIGHT), "exec " + shlex.join(argv)],
                       check=True, cwd=cwd, env=self.env, capture_output=True)
        self("set", "-g", "remain-on-exit", "on")  # a tool that dies leaves its last screen to read

    def value(self, fmt: str) -> str:
        return self("display", "-p", "-t", "s", fmt).strip()

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "s", check=False)

    def stop(self) -> None:
        socket = self("display", "-p", "#{socket_path}", check=False).strip()
        self("kill-server", check=False)
        if socket:  # tmux leaves the socket file behind
            Path(socket).unlink(missing_ok=True)


def tree_snapshot(pid: int) -> dict[tuple[int, float], tuple[float, int, int]]:
    """CPU seconds (with reaped children), RSS and bytes written of a process and its descendants."""
    snapshot: dict[tuple[int, float], tuple[float, int, int]] = {}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return snapshot
    for proc in procs:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                cpu = times.user + times.system + times.children_user + times.children_system
                written = proc.io_counters().write_chars if hasattr(proc, "io_counters") else 0
                snapshot[(proc.pid, proc.create_time())] = (cpu, proc.memory_info().rss, written)
        except psutil.Error:
            continue
    return snapshot


def process_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class Run:
    """One configuration in its own tmux server: CPU % of its tree and of its server, RSS at the end."""

    def __init__(self, config: Config, serial: int) -> None:
        self.config = config
        self.tmux = Tmux(f"rigscope-bench-{os.getpid()}-{serial}", {**BASE_ENV, **config.env})
        self.scratch = Path(tempfile.mkdtemp(prefix="rigscope-bench-dash-"))
        self.result: dict[str, Any] = {"config": config.key}
        self.pane_pid: int | None = None
        self._before: dict[tuple[int, float], tuple[float, int, int]] = {}
        self._server_pid = 0
        self._server_before = 0.0
        self._start_wall = 0.0

    def attempt(self, step: Callable[..., None], *args: Any) -> None:
        """Run one step of the run unless an earlier one failed; a failure is kept in the result."""
        if self.result.get("ok") is False:
            return
        try:
            step(*args)
        except (RuntimeError, subprocess.CalledProcessError, ValueError, psutil.Error) as error:
            self.result.update({"ok": False, "error": str(error).strip()[:300]})

    def start(self) -> None:
        self.tmux.start(self.config.argv(self.scratch), self.scratch)
        self.pane_pid = int(self.tmux.value("#{pane_pid}"))
        self._server_pid = int(self.tmux.value("#{pid}"))

    def begin(self) -> None:
        """After the warm-up: the CPU counters the interval starts from."""
        if self.tmux.value("#{pane_dead}") == "1" or self.pane_pid is None:
            raise RuntimeError(f"exited during warm-up: {last_line(self.tmux.screen())}")
        self._start_wall = time.perf_counter()
        self._before, self._server_before = tree_snapshot(self.pane_pid), process_cpu(self._server_pid)

    def end(self, machine_busy: float) -> None:
        assert self.pane_pid is not None
        after, server_after = tree_snapshot(self.pane_pid), process_cpu(self._server_pid)
        wall = time.perf_counter() - self._start_wall
        if self.tmux.value("#{pane_dead}") == "1" or not after:
            raise RuntimeError(f"exited while measured: {last_line(self.tmux.screen())}")
        before = self._before
        cpu = sum(c - before.get(key, (0.0, 0, 0))[0] for key, (c, _, _) in after.items())
        written = sum(w - before.get(key, (0.0, 0, 0))[2] for key, (_, _, w) in after.items())
        screen = [line.rstrip() for line in self.tmux.screen().splitlines() if line.strip()]
        self.result.update({
            "ok": True, "wall_s": wall, "cpu_s": cpu, "cpu_pct": 100.0 * cpu / wall,
            "tmux_server_cpu_pct": 100.0 * (server_after - self._server_before) / wall,
            "rss_mb": sum(rss for _, rss, _ in after.values()) / MB, "processes": len(after),
            "written_kb_per_s": written / wall / 1024, "machine_busy_pct": machine_busy,
            "load_avg_1m": os.getloadavg()[0], "screen_top": screen[:1],
        })

    def stop(self) -> None:
        self.tmux.stop()  # SIGHUP to the pane: rigscope closes its session, the others just quit
        if self.pane_pid is not None:
            wait_gone(self.pane_pid)
        if self.config.tool == "rigscope" and self.result.get("ok"):
            self.result["threads_pct"] = thread_budget(self.scratch, self.result["wall_s"])
        shutil.rmtree(self.scratch, ignore_errors=True)


def thread_budget(scratch: Path, seconds: float) -> dict[str, float]:
    """% of one core per thread role over the measured interval: the mean of the `self_threads` values
    (one a second) that the session recorded in its last `seconds`."""
    import polars as pl

    files = sorted(scratch.glob("*/samples.parquet"))
    if not files:
        return {}
    frame = pl.read_parquet(files[0], columns=["elapsed_s", "self_threads"]).drop_nulls()
    if frame.is_empty():
        return {}
    last = frame["elapsed_s"].max()
    rows = frame.filter(pl.col("elapsed_s") > last - seconds)["self_threads"].to_list()
    values: dict[str, list[float]] = {}
    for text in (text for i, text in enumerate(rows) if i == 0 or rows[i - 1] != text):  # one a second
        for item in text.split():
            name, _, pct = item.partition("=")
            values.setdefault(name, []).append(float(pct))
    return {name: sum(pcts) / len(pcts) for name, pcts in sorted(values.items())}


def measure(configs: list[Config], seconds: float, first_serial: int) -> list[dict[str, Any]]:
    """One round: the configurations run at the same time, each in its own tmux server."""
    runs = [Run(config, first_serial + i) for i, config in enumerate(configs)]
    try:
        for run in runs:
            run.attempt(run.start)
        time.sleep(WARMUP_S)
        psutil.cpu_percent()  # starts the machine-wide interval
        for run in runs:
            run.attempt(run.begin)
        time.sleep(seconds)
        machine_busy = psutil.cpu_percent()
        for run in runs:
            run.attempt(run.end, machine_busy)
    finally:
        for run in runs:
            run.stop()
    return [run.result for run in runs]


def same_round_ratios(ours: list[dict[str, Any]], peer: list[dict[str, Any]]) -> list[float]:
    """ours / peer CPU of each round where both ran (at the same time, on the same machine)."""
    theirs = {r["round"]: r["cpu_pct"] for r in peer if r.get("ok") and r["cpu_pct"] > 0}
    return [r["cpu_pct"] / theirs[r["round"]] for r in ours if r.get("ok") and r["round"] in theirs]


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    """Wait for a tool to finish exiting (rigscope compacts its session), so runs never overlap."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for left in alive:
        left.kill()
    psutil.wait_procs(alive, timeout=5)


# ---------------------------------------------------------------- key response

def key_response(presses: int) -> dict[str, Any]:
    """Milliseconds from `send-keys n` until "Note at" is on the screen, `presses` times."""
    tmux = Tmux(f"rigscope-bench-{os.getpid()}-keys", BASE_ENV)
    scratch = Path(tempfile.mkdtemp(prefix="rigscope-bench-keys-"))
    latencies: list[float] = []
    polls: list[int] = []
    pane_pid = None
    try:
        tmux.start(rigscope_command("demo", "--gpus-sim", "4", "--hz", "10", "--dir", str(scratch)), scratch)
        pane_pid = int(tmux.value("#{pane_pid}"))
        time.sleep(WARMUP_S)
        started = time.perf_counter()  # the cost of one poll, alone
        for _ in range(20):
            tmux.screen()
        poll_ms = (time.perf_counter() - started) / 20 * 1000
        for _ in range(presses):
            started = time.perf_counter()
            tmux("send-keys", "-t", "s", "n")
            count = 0
            while True:
                count += 1
                if NOTE_TEXT in tmux.screen():
                    break
                if time.perf_counter() - started > 5.0:
                    raise RuntimeError("the note dialog did not open within 5 s")
            latencies.append((time.perf_counter() - started) * 1000)
            polls.append(count)
            tmux("send-keys", "-t", "s", "Escape")
            deadline = time.perf_counter() + 5.0
            while NOTE_TEXT in tmux.screen():
                if time.perf_counter() > deadline:
                    raise RuntimeError("the note dialog did not close within 5 s")
                time.sleep(0.01)
            time.sleep(0.5)
    except (RuntimeError, subprocess.CalledProcessError, ValueError) as error:
        return {"ok": False, "error": str(error), "latencies_ms": latencies}
    finally:
        tmux.stop()
        if pane_pid is not None:
            wait_gone(pane_pid)
        shutil.rmtree(scratch, ignore_errors=True)
    return {"ok": True, "presses": presses, "latencies_ms": latencies, "polls": polls,
            "median_ms": median(latencies), "max_ms": max(latencies), "min_ms": min(latencies),
            "poll_round_trip_ms": poll_ms}


# ---------------------------------------------------------------- main

def summarize(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r.get("ok")]
    row: dict[str, Any] = {"config": config.key, "label": config.label, "tool": config.tool,
                           "runs_ok": len(good), "runs": len(runs)}
    if not good:
        row["error"] = next((r.get("error") for r in runs if r.get("error")), "no run")
        return row
    for name in ("cpu_pct", "tmux_server_cpu_pct", "rss_mb", "written_kb_per_s", "machine_busy_pct", "load_avg_1m"):
        row[name] = median([r[name] for r in good])
    roles = {name for r in good for name in r.get("threads_pct", {})}
    if roles:
        row["threads_pct"] = {name: median([r.get("threads_pct", {}).get(name, 0.0) for r in good])
                              for name in sorted(roles)}
    row["cpu_pct_min"] = min(r["cpu_pct"] for r in good)
    row["cpu_pct_max"] = max(r["cpu_pct"] for r in good)
    row["with_server_pct"] = median([r["cpu_pct"] + r["tmux_server_cpu_pct"] for r in good])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s per run instead of 60 s (smoke test)")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 60, 15 with --quick)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every configuration (default 3)")
    parser.add_argument("--one-at-a-time", dest="together", action="store_false",
                        help="run the configurations one after the other instead of all at once (7 times longer)")
    parser.add_argument("--presses", type=int, default=10, help="key presses timed (default 10)")
    parser.add_argument("--only", help="comma-separated configuration keys (rigscope-10, rigscope-100 and "
                        "glances-1s are always kept, the targets need them)")
    options = parser.parse_args()
    if options.presses < 1:
        parser.error("--presses must be at least 1 (the key response is one of the figures)")
    seconds = options.seconds or (15.0 if options.quick else 60.0)
    if shutil.which("tmux") is None:
        sys.exit("bench_dashboard needs tmux")

    skipped: dict[str, str] = {}
    configs, peer_versions = configurations(skipped)
    if options.only:
        wanted = set(options.only.split(",")) | {"rigscope-10", "rigscope-100", "glances-1s"}
        configs = [c for c in configs if c.key in wanted]
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", flush=True)
    runs_per_round = 1 if options.together else len(configs)
    print(f"{len(configs)} configurations x {options.rounds} rounds, {seconds:g} s each after {WARMUP_S:g} s warm-up, "
          f"{'all at once' if options.together else 'one at a time'} "
          f"(about {runs_per_round * options.rounds * (seconds + WARMUP_S + 3) / 60:.0f} min)", flush=True)

    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in configs}
    labels = {c.key: c.label for c in configs}
    serial = 0
    for round_index in range(options.rounds):
        shift = round_index % len(configs)
        ordered = configs[shift:] + configs[:shift]
        groups = [ordered] if options.together else [[config] for config in ordered]
        for group in groups:
            for run in measure(group, seconds, serial):
                run["round"] = round_index + 1
                runs[run["config"]].append(run)
                shown = (f"{run['cpu_pct']:6.2f} % CPU, tmux {run['tmux_server_cpu_pct']:5.2f} %, "
                         f"{run['rss_mb']:6.1f} MB" if run["ok"] else f"failed: {run['error']}")
                print(f"round {round_index + 1}  {labels[run['config']]:<24} {shown}", flush=True)
            serial += len(group)

    print(f"key response: {options.presses} presses of n", flush=True)
    keys = key_response(options.presses)

    rows = [summarize(c, runs[c.key]) for c in configs]
    by_key = {r["config"]: r for r in rows}
    ours = by_key["rigscope-10"].get("cpu_pct")
    for row in rows:
        cpu = row.get("cpu_pct")
        row["rigscope_10hz_over_this"] = ours / cpu if ours is not None and cpu else None

    glances = by_key.get("glances-1s", {}).get("cpu_pct")
    hundred = by_key["rigscope-100"].get("cpu_pct")
    idle_rss = by_key["rigscope-10"].get("rss_mb")
    targets = [
        {"target": "rigscope 10 Hz CPU < glances -t 1 CPU (same run)", "value": ours, "limit": glances,
         "pass": (ours < glances) if ours is not None and glances is not None else None},
        {"target": f"rigscope 100 Hz CPU < {TARGET_100HZ_PCT:g} % of a core", "value": hundred,
         "limit": TARGET_100HZ_PCT, "pass": hundred < TARGET_100HZ_PCT if hundred is not None else None},
        {"target": f"key response, median of {options.presses} < {TARGET_KEY_MS:g} ms",
         "value": keys.get("median_ms"), "limit": TARGET_KEY_MS,
         "pass": keys["median_ms"] < TARGET_KEY_MS if keys.get("ok") else None},
        {"target": f"idle RSS (rigscope 10 Hz) < {TARGET_IDLE_RSS_MB:g} MB", "value": idle_rss,
         "limit": TARGET_IDLE_RSS_MB, "pass": idle_rss < TARGET_IDLE_RSS_MB if idle_rss is not None else None},
    ]

    for ours_key, peer, limit in NATIVE_TARGETS:
        ratios = same_round_ratios(runs.get(ours_key, []), runs.get(peer, []))
        value = median(ratios) if ratios else None
        targets.append({"target": f"{labels.get(ours_key, ours_key)} ÷ {labels.get(peer, peer)}, median of "
                                  f"same-round ratios <= {limit:g}", "value": value, "limit": limit,
                        "ours": ours_key, "peer": peer, "round_ratios": ratios,
                        "pass": value <= limit if value is not None else None})

    print_table(["configuration", "CPU %", "min–max", "tmux srv %", "both %", "RSS MB", "out kB/s", "ours ÷ this"],
                [[r["label"], r.get("cpu_pct"),
                  f"{r['cpu_pct_min']:.2f}–{r['cpu_pct_max']:.2f}" if "cpu_pct_min" in r else r.get("error"),
                  r.get("tmux_server_cpu_pct"), r.get("with_server_pct"), r.get("rss_mb"),
                  r.get("written_kb_per_s"), r.get("rigscope_10hz_over_this")] for r in rows],
                title=f"% of one core, median of {options.rounds} runs of {seconds:g} s "
                      "(ours ÷ this: rigscope 10 Hz CPU over this row's CPU)")
    for name, why in skipped.items():
        print(f"  skipped {name}: {why}")
    budgets = [[r["label"], " ".join(f"{n} {p:.2f}" for n, p in sorted(r["threads_pct"].items(),
                                                                       key=lambda kv: -kv[1]))]
               for r in rows if r.get("threads_pct")]
    if budgets:
        print_table(["configuration", "% of one core by thread (median)"], budgets, title="rigscope's budget by thread")
    if keys.get("ok"):
        print(f"\nkey response (n → note dialog on screen): median {keys['median_ms']:.1f} ms, "
              f"max {keys['max_ms']:.1f} ms, min {keys['min_ms']:.1f} ms over {options.presses} presses; "
              f"one capture-pane poll takes {keys['poll_round_trip_ms']:.1f} ms")
    else:
        print(f"\nkey response failed: {keys['error']}")
    print_table(["target", "value", "limit", ""],
                [[t["target"], t["value"], t["limit"], verdict(t["pass"])] for t in targets], title="targets")

    write_result("dashboard", {
        "quick": options.quick, "seconds": seconds, "together": options.together, "warmup_s": WARMUP_S, "rounds": options.rounds,
        "terminal": f"tmux {WIDTH}x{HEIGHT}, detached", "peer_versions": peer_versions,
        "tmux_version": subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip(),
        "skipped": skipped, "configs": rows, "runs": runs, "key_response": keys, "targets": targets,
    })


if __name__ == "__main__":
    main()
