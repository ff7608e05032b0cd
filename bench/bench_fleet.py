"""The fleet source and screen: refresh time, requests per refresh and the client's own CPU.

The servers run in a child process (this file with `--serve`), so the CPU measured
here is the client's alone.
(a) 64 nodes x 8 GPUs through the fake Prometheus of the tests (it answers the
    grouped queries from fixture values): refresh wall time (median and max of N
    back to back) and requests per refresh.  Targets (issue): within 2 s of the
    server answering, at most 12 requests.
(b) The fleet screen (headless, Textual's test driver) on that server at a 2 s refresh
    for `--screen-s` seconds: this process's CPU time over the wall time, as a share of
    one core.  Target: under 5 %.
(c) 256 nodes by direct scrape (recorded rigscope pages, 8 GPUs each, 300 lines a
    page) every 5 s for `--rounds` refreshes: CPU share and refresh time.  Target:
    under 10 % of a core.

Run: python bench/bench_fleet.py [--quick]
Prints a table and writes bench/results/fleet.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil
from common import ROOT, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.fleet.prom_client import PrometheusFleet
from collectors.fleet.scrape import ScrapeFleet
from tests.fleet.servers import FakeFleet, FakePrometheus, NodeServer, address
from tui.fleet import FleetApp

NODES, GPUS, DIRECT_NODES = 64, 8, 256


def serve(kind: str, count: int) -> None:
    """Child process: serve, print the URL or port, wait for stdin to close."""
    if kind == "prometheus":
        server: Any = FakePrometheus(FakeFleet(nodes=count, gpus=GPUS))
        print(server.url, flush=True)
    else:
        server = NodeServer(count, {"main": "rigscope_8gpu.prom"})
        print(server.port, flush=True)
    sys.stdin.read()
    server.close()


def child(kind: str, count: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(count)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def cpu_s() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def bench_prometheus(url: str, rounds: int) -> dict[str, Any]:
    client = PrometheusFleet(url, timeout_s=10)
    walls, queries = [], []
    for _ in range(rounds):
        model = client.refresh()
        assert len(model.rows) == NODES and not model.errors, model.errors
        walls.append(model.refresh_s)
        queries.append(model.queries)
    return {"refresh_median_s": statistics.median(walls), "refresh_max_s": max(walls), "queries": max(queries)}


def bench_screen(url: str, seconds: float) -> dict[str, Any]:
    async def body() -> dict[str, Any]:
        app = FleetApp(PrometheusFleet(url, timeout_s=10), refresh_s=2.0)
        async with app.run_test(size=(170, 50)) as pilot:
            while app.fleet.refreshes < 1:
                await pilot.pause(0.1)
            start, wall, first = cpu_s(), time.monotonic(), app.fleet.refreshes
            await asyncio.sleep(seconds)
            used, elapsed = cpu_s() - start, time.monotonic() - wall
            return {"core_pct": 100 * used / elapsed, "refreshes": app.fleet.refreshes - first, "seconds": elapsed}

    return asyncio.run(body())


def bench_direct(port: str, rounds: int, interval_s: float) -> dict[str, Any]:
    fleet = ScrapeFleet([f"{address(k)}:{port}" for k in range(DIRECT_NODES)], timeout_s=5, interval_s=interval_s)
    walls = []
    fleet.refresh()  # warm: threads started, modules loaded
    start, wall = cpu_s(), time.monotonic()
    try:
        for k in range(rounds):
            model = fleet.refresh()
            assert model.totals["nodes_up"] == DIRECT_NODES
            walls.append(model.refresh_s)
            time.sleep(max(0.0, wall + (k + 1) * interval_s - time.monotonic()))
    finally:
        fleet.close()
    used, elapsed = cpu_s() - start, time.monotonic() - wall
    return {"core_pct": 100 * used / elapsed, "refresh_median_s": statistics.median(walls),
            "refresh_max_s": max(walls), "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--screen-s", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve[0], int(args.serve[1]))
    screen_s, rounds = (6.0, 2) if args.quick else (args.screen_s, args.rounds)
    proc, url = child("prometheus", NODES)
    try:
        prom = bench_prometheus(url, 10 if not args.quick else 3)
        screen = bench_screen(url, screen_s)
    finally:
        proc.communicate("")
    proc, port = child("nodes", DIRECT_NODES)
    try:
        direct = bench_direct(port, rounds, 5.0)
    finally:
        proc.communicate("")
    rows = [
        ("prometheus 64x8: refresh median s", prom["refresh_median_s"], "< 2", verdict(prom["refresh_max_s"] < 2)),
        ("prometheus 64x8: refresh max s", prom["refresh_max_s"], "< 2", verdict(prom["refresh_max_s"] < 2)),
        ("prometheus 64x8: requests a refresh", prom["queries"], "<= 12", verdict(prom["queries"] <= 12)),
        ("screen at 2 s: % of a core", screen["core_pct"], "< 5", verdict(screen["core_pct"] < 5)),
        ("direct 256 at 5 s: % of a core", direct["core_pct"], "< 10", verdict(direct["core_pct"] < 10)),
        ("direct 256: refresh median s", direct["refresh_median_s"], "", ""),
    ]
    print_table(["figure", "value", "target", "verdict"], rows, title="fleet (load average "
                f"{psutil.getloadavg()[0]:.1f}: a shared machine, figures are upper bounds)")
    write_result("fleet", {"prometheus": prom, "screen": screen, "direct": direct})


if __name__ == "__main__":
    main()
