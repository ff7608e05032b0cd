"""Slowloris on `--http`: sample lag and recording while 2,000 half-open connections hold on, vs none.

A `Monitor` runs the simulated box with 8 GPUs in real time at `--hz` (default 100), recording
to a temp dir, with `--http 127.0.0.1:0`, under a file descriptor limit of 1,024 (a common
default; the server's connection cap is a quarter of it). The attacker is a separate process
that keeps `--connections` (default 2,000) connections open, each sending a request head that
never ends, one byte a second, and reopens every connection the server cuts (a refused one at
once, a slow one after the header timeout). Rounds of `--seconds` without and with the attack
alternate, `--rounds` times; the p99 of `sample_lag_ms` of each condition is taken over all its
rounds. During the attack a probe GETs /healthz every 0.5 s (counted: answered / refused), and the
server loop thread's CPU time is read.

Targets (issue): the recording goes on (every sample recorded, no notice) and the sample-lag p99
under the attack within 1 ms of the p99 without.

Run: python bench/bench_slowloris.py [--quick] [--hz 100] [--connections 2000] [--seconds 10] [--rounds 4]
Prints a table and writes bench/results/slowloris.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil
from bench_http import alternate, lag_stats, served_monitor  # noqa: I001  (bench/ is on sys.path)
from common import print_table, verdict, write_result

GPUS = 8
FD_LIMIT = 1024
TARGET_LAG_DELTA_MS = 1.0
HEAD = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "


# -- the attacker process ------------------------------------------------------------
def attacker(port: int, count: int, seconds: float) -> None:
    """Hold `count` half-open connections for `seconds`, reopening those cut once a second; prints how many."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (count + 256, max(count + 256, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1])))
    selector = selectors.DefaultSelector()

    def open_one() -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, {"sent": False})

    for _ in range(count):
        open_one()
    print("go", flush=True)
    reopened, cut, end, next_drip = 0, 0, time.monotonic() + seconds, time.monotonic() + 1.0
    while time.monotonic() < end:
        for key, mask in selector.select(0.1):
            sock, state = key.fileobj, key.data
            if mask & selectors.EVENT_READ:  # the server closed it (or answered): another at the next drip
                selector.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                cut += 1
            elif not state["sent"]:
                try:
                    sock.send(HEAD)  # type: ignore[union-attr]
                except OSError:
                    continue
                state["sent"] = True
                selector.modify(sock, selectors.EVENT_READ, state)
        if time.monotonic() >= next_drip:  # once a second, as slowloris does: reopen the cut, drip a byte on each
            next_drip += 1.0
            for _ in range(cut):
                open_one()
            reopened, cut = reopened + cut, 0
            for key in list(selector.get_map().values()):
                if key.data["sent"]:
                    try:
                        key.fileobj.send(b"a")  # type: ignore[union-attr]
                    except OSError:
                        pass
    print(json.dumps({"reopened": reopened, "attacker_cpu_pct": 100 * time.process_time() / seconds}), flush=True)


# -- the monitor side ----------------------------------------------------------------
def probe_health(port: int, until: float) -> tuple[int, int]:
    """GET /healthz every 0.5 s until `until`: (answered 200, failed)."""
    answered = failed = 0
    while time.monotonic() < until:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        try:
            connection.request("GET", "/healthz")
            ok = connection.getresponse().status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        answered, failed = answered + ok, failed + (not ok)
        time.sleep(0.5)
    return answered, failed


def thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds (user + system) one thread of this process has used."""
    for thread in psutil.Process(os.getpid()).threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    return 0.0


def attack(port: int, count: int, seconds: float, loop_thread: int | None) -> tuple[float, float, dict[str, Any]]:
    process = subprocess.Popen([sys.executable, __file__, "--attack", str(port), str(count), str(seconds)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "go"
    began, cpu = time.monotonic(), thread_cpu_s(loop_thread)
    answered, failed = probe_health(port, began + seconds)
    result = json.loads(process.stdout.readline())
    ended = time.monotonic()
    loop_share = (thread_cpu_s(loop_thread) - cpu) / (ended - began)
    process.wait()
    return began, ended, {**result, "healthz_ok": answered, "healthz_failed": failed, "loop_cpu_pct": 100 * loop_share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s phases, 1 round, 500 connections (smoke run)")
    parser.add_argument("--hz", type=float, default=100.0, help="sampling rate (default 100)")
    parser.add_argument("--connections", type=int, default=2000, help="half-open connections (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--rounds", type=int, default=4, help="quiet/attacked rounds (default 4)")
    options = parser.parse_args()
    seconds, rounds = (5.0, 1) if options.quick else (options.seconds, options.rounds)
    count = 500 if options.quick else options.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, FD_LIMIT), hard))

    with tempfile.TemporaryDirectory() as directory:
        with served_monitor(directory, options.hz) as (monitor, tap):
            port = monitor.http.port

            def attack_phase(entry: dict[str, Any]) -> tuple[float, float]:
                began, ended, result = attack(port, count, seconds, monitor.http._thread.native_id)
                entry.update(result)
                return began, ended

            phases, per_round = alternate(tap, rounds, seconds, "attacked",
                                          ("no connections", f"{count} half-open connections"), attack_phase)
            connections = monitor.http.connections()
        elapsed = monitor.sampler.stats.elapsed_s
        notices = list(monitor.sampler.stats.notices)
        samples, missed = monitor.sampler.stats.samples, monitor.sampler.ticker.missed

    quiet, attacked = (lag_stats(k, v) for k, v in phases.items())
    delta = attacked["p99_ms"] - quiet["p99_ms"]
    lag_ok = delta <= TARGET_LAG_DELTA_MS
    expected = elapsed * options.hz + 1
    recording_ok = not notices and samples >= expected - 1 - missed
    print_table(["condition", "samples", "p50 ms", "p99 ms", "max ms"],
                [[r["condition"], r["samples"], r["p50_ms"], r["p99_ms"], r["max_ms"]] for r in (quiet, attacked)],
                digits=3, title=f"sample_lag_ms at {options.hz:g} Hz, {GPUS} simulated GPUs, "
                                f"{rounds} rounds of {seconds:g} s each")
    print(f"p99 difference: {delta:+.3f} ms (target within {TARGET_LAG_DELTA_MS:g} ms): {verdict(lag_ok)}")
    print(f"recording: {samples} samples in {elapsed:.1f} s ({expected:.0f} expected, {missed} missed ticks), "
          f"notices {notices}: "
          f"{verdict(recording_ok)}")
    print(f"server: {connections}")
    print_table(["round", "quiet p99 ms", "attacked p99 ms", "reopened", "/healthz ok", "/healthz failed",
                 "server loop CPU %", "attacker CPU %"],
                [[r["round"], r["quiet_p99_ms"], r["attacked_p99_ms"], r["reopened"], r["healthz_ok"],
                  r["healthz_failed"], r["loop_cpu_pct"], r["attacker_cpu_pct"]] for r in per_round], digits=3)
    write_result("slowloris", {"gpus": GPUS, "hz": options.hz, "connections": count, "fd_limit": FD_LIMIT,
                               "seconds": seconds, "rounds": rounds, "lag": [quiet, attacked],
                               "lag_p99_delta_ms": delta, "lag_pass": lag_ok, "samples": samples,
                               "missed_ticks": missed,
                               "expected_samples": expected, "notices": notices, "recording_pass": recording_ok,
                               "server": connections, "rounds_detail": per_round, "quick": options.quick})


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--attack":
        attacker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
