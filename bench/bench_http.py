"""HTTP endpoint: scrape latency with 8 simulated GPUs, and sample lag while Prometheus-like scrapers poll.

A `Monitor` runs the simulated box with 8 GPUs in real time at `--hz` (default
10), recording to a temp dir, with `--http 127.0.0.1:0`, as `rigscope record
--source sim --gpus-sim 8 --http ...` does.  The scraper is a separate process
(as Prometheus is) that holds one keep-alive connection and GETs /metrics on
absolute deadlines, timing each round trip.

1. Scrape latency: 20 scrapes/s for `--scrape-seconds`, every one rendered
   afresh (the exporter's cache of the last rendering is off), and again at
   100 scrapes/s with the cache on (most scrapes then find the rendering of
   the current sample); plus the render alone in this process, prometheus_client's
   `generate_latest` and the exporter's memoizing encoder interleaved (same bytes),
   and, when the `prometheus` binary is installed, a real Prometheus scraping
   every 100 ms for `--scrape-seconds` (its own `scrape_duration_seconds`).
2. Sample lag: `sample_lag_ms` of every frame during rounds of `--seconds`
   without scrapes and with 100 scrapes/s, alternating which comes first,
   `--rounds` times; the p99 of each condition is taken over all its rounds.

Targets (issue): a scrape under 5 ms with 8 GPUs; the sample-lag p99 with
100 scrapes/s within 1 ms of the p99 without.

Run: python bench/bench_http.py [--quick] [--hz 10] [--seconds 10] [--rounds 6] [--scrape-seconds 30]
Prints tables and writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from common import percentile, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)
from prometheus_client.exposition import generate_latest

from collectors.stream import END, LossyQueue
from rigscope.monitor import Monitor, MonitorConfig

GPUS = 8
TARGET_SCRAPE_MS = 5.0
TARGET_LAG_DELTA_MS = 1.0


# -- the scraper process ------------------------------------------------------------
def scraper(port: int, rate: float, seconds: float) -> None:
    """GET /metrics `rate` times a second for `seconds` on one keep-alive connection; latencies as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")  # open the connection before timing
    connection.getresponse().read()
    print("go", flush=True)
    latencies, sizes = [], []
    start = time.monotonic()
    k = 0
    while True:
        due = start + k / rate
        if due - start >= seconds:
            break
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t0 = time.perf_counter()
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - t0) * 1000.0)
        sizes.append(len(body))
        assert response.status == 200
        k += 1
    print(json.dumps({"latencies_ms": latencies, "bytes": sizes[-1] if sizes else 0}), flush=True)


def run_scraper(port: int, rate: float, seconds: float) -> tuple[float, float, dict[str, Any]]:
    """Start a scraper process; (monotonic start, monotonic end, its result)."""
    process = subprocess.Popen([sys.executable, __file__, "--scrape", str(port), str(rate), str(seconds)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "go"
    began = time.monotonic()
    result = json.loads(process.stdout.readline())
    ended = time.monotonic()
    process.wait()
    return began, ended, result


def prometheus_scrapes(port: int, seconds: float, directory: str) -> list[float] | None:
    """`scrape_duration_seconds` (ms) of a real Prometheus scraping every 100 ms; None without the binary."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        api_port = sock.getsockname()[1]
    config = Path(directory) / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\nscrape_configs:\n"
                      f"  - job_name: rigscope\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={Path(directory) / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{api_port}", "--log.level=error"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    try:
        time.sleep(seconds + 3.0)
        query = urllib.parse.urlencode({"query": f"scrape_duration_seconds[{int(seconds)}s]"})
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/query?{query}", timeout=10) as response:
            result = json.loads(response.read())["data"]["result"]
        return [float(v) * 1000.0 for series in result for _, v in series["values"]]
    finally:
        process.terminate()
        process.wait(timeout=20)


# -- the monitor side ----------------------------------------------------------------
class LagTap:
    """A thread that notes (arrival time, sample_lag_ms) of every frame."""

    def __init__(self, monitor: Monitor) -> None:
        self.frames = monitor.sampler.attach(LossyQueue(100_000))
        self.lags: list[tuple[float, float]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.frames.get(timeout=30)) is not END:
            if batch is not None and batch.frame is not None:
                self.lags.append((time.monotonic(), batch.frame["sample_lag_ms"]))

    def between(self, start: float, end: float) -> list[float]:
        return [lag for at, lag in self.lags if start <= at <= end]


@contextmanager
def served_monitor(directory: str, hz: float) -> Iterator[tuple[Monitor, LagTap]]:
    """A simulated recorder of GPUS GPUs serving --http on a free port, with its lag tap, warmed up
    (windows filled, first renders done); stopped at the end."""
    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=GPUS, hz=hz, duration_s=None,
                                    directory=directory, http=("127.0.0.1", 0)))
    tap = LagTap(monitor)
    monitor.start()
    try:
        time.sleep(2.0)
        yield monitor, tap
    finally:
        monitor.sampler.stop()
        monitor.stop()
        tap.thread.join(timeout=5)


def alternate(tap: LagTap, rounds: int, seconds: float, loaded: str, keys: tuple[str, str],
              load: Callable[[dict[str, Any]], tuple[float, float]]) -> tuple[dict[str, list[float]], list[dict[str, Any]]]:
    """`rounds` rounds of a quiet phase and a `loaded` one (which comes first alternates): the sample lags
    of each phase under `keys` (quiet, loaded), and each round's p99s. `load(entry)` runs the load for the
    phase, notes what it measured in the round's entry, and gives when it began and ended."""
    phases: dict[str, list[float]] = {key: [] for key in keys}
    per_round: list[dict[str, Any]] = []
    for index in range(rounds):
        order = ("quiet", loaded) if index % 2 == 0 else (loaded, "quiet")
        entry: dict[str, Any] = {"round": index + 1}
        for phase in order:
            print(f"round {index + 1}: {phase} for {seconds:g} s", flush=True)
            if phase == "quiet":
                began = time.monotonic()
                time.sleep(seconds)
                ended = time.monotonic()
            else:
                began, ended = load(entry)
            lags = tap.between(began, ended)
            phases[keys[phase != "quiet"]] += lags
            entry[phase + "_p99_ms"] = percentile(lags, 99)
        per_round.append(entry)
    return phases, per_round


def lag_stats(condition: str, lags: list[float]) -> dict[str, Any]:
    return {"condition": condition, "samples": len(lags), "p50_ms": percentile(lags, 50),
            "p99_ms": percentile(lags, 99), "max_ms": max(lags) if lags else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s phases, 2 rounds (smoke run)")
    parser.add_argument("--hz", type=float, default=10.0, help="sampling rate (default 10)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--rounds", type=int, default=6, help="quiet/scraped rounds (default 6)")
    parser.add_argument("--scrape-seconds", type=float, default=30.0, help="seconds per latency run (default 30)")
    options = parser.parse_args()
    seconds, rounds = (5.0, 2) if options.quick else (options.seconds, options.rounds)
    scrape_seconds = 5.0 if options.quick else options.scrape_seconds

    with tempfile.TemporaryDirectory() as directory, served_monitor(directory, options.hz) as (monitor, tap):
        port = monitor.http.port

        renders, encoded = [], []  # prometheus_client's renderer and the exporter's, interleaved
        for _ in range(300):
            t0 = time.perf_counter()
            body = generate_latest(monitor.http.registry)
            t1 = time.perf_counter()
            ours = monitor.http.text_encoder(monitor.http.registry)
            encoded.append((time.perf_counter() - t1) * 1000.0)
            renders.append((t1 - t0) * 1000.0)
            time.sleep(0.005)
        assert len(ours) == len(body)
        print(f"scrape latency: {scrape_seconds:g} s at 20 scrapes/s uncached, then at 100/s cached", flush=True)
        monitor.http.cache_metrics = False
        _, _, uncached = run_scraper(port, 20.0, scrape_seconds)
        print("a real Prometheus scraping every 100 ms", flush=True)
        real = prometheus_scrapes(port, scrape_seconds, directory)
        monitor.http.cache_metrics = True
        _, _, cached = run_scraper(port, 100.0, scrape_seconds)

        def scrape(entry: dict[str, Any]) -> tuple[float, float]:
            began, ended, result = run_scraper(port, 100.0, seconds)
            entry["scrapes"] = len(result["latencies_ms"])
            return began, ended

        phases, per_round = alternate(tap, rounds, seconds, "scraped", ("without scrapes", "100 scrapes/s"), scrape)

    scrape_rows = []
    results: dict[str, Any] = {"gpus": GPUS, "hz": options.hz, "seconds": seconds, "rounds": rounds,
                               "scrape_seconds": scrape_seconds, "metrics_bytes": len(body),
                               "prometheus_client": metadata.version("prometheus_client")}
    measures = [("render only (generate_latest)", renders),
                ("render only (the exporter's memoizing encoder)", encoded),
                ("HTTP GET, every scrape rendered", uncached["latencies_ms"])]
    if real:
        measures.append(("Prometheus scrape_duration_seconds", real))
    measures.append(("HTTP GET at 100/s, cache on", cached["latencies_ms"]))
    for label, values in measures:
        p50, p95, p99 = percentile(values, 50), percentile(values, 95), percentile(values, 99)
        ok = p99 < TARGET_SCRAPE_MS if label.startswith(("HTTP GET, every", "Prometheus")) else None
        scrape_rows.append([label, len(values), p50, p95, p99, max(values), "p99 < 5 ms" if ok is not None else "",
                            verdict(ok)])
        results.setdefault("scrape", []).append({"measure": label, "count": len(values), "p50_ms": p50,
                                                 "p95_ms": p95, "p99_ms": p99, "max_ms": max(values), "pass": ok})
    print_table(["scrape, 8 simulated GPUs", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "target", ""], scrape_rows,
                digits=3, title=f"GET /metrics ({len(body):,} bytes)")

    quiet, scraped = (lag_stats(k, v) for k, v in phases.items())
    delta = scraped["p99_ms"] - quiet["p99_ms"]
    lag_ok = delta <= TARGET_LAG_DELTA_MS
    print_table(["condition", "samples", "p50 ms", "p99 ms", "max ms"],
                [[r["condition"], r["samples"], r["p50_ms"], r["p99_ms"], r["max_ms"]] for r in (quiet, scraped)],
                digits=3, title=f"sample_lag_ms at {options.hz:g} Hz, {rounds} rounds of {seconds:g} s each")
    print(f"p99 difference: {delta:+.3f} ms (target within {TARGET_LAG_DELTA_MS:g} ms): {verdict(lag_ok)}")
    print_table(["round", "quiet p99 ms", "scraped p99 ms", "scrapes"],
                [[r["round"], r["quiet_p99_ms"], r["scraped_p99_ms"], r.get("scrapes")] for r in per_round], digits=3)
    results.update({"lag": [quiet, scraped], "lag_p99_delta_ms": delta, "lag_pass": lag_ok, "rounds_detail": per_round,
                    "quick": options.quick})
    write_result("http", results)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--scrape":
        scraper(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
