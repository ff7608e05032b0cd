"""Hostile exporters: one that trickles its answer, one that serves +Inf, NaN and absurd readings.

A slow target is bounded by `--timeout` as a whole (connect, headers and body), not per socket
read, and holds no other target back; a reading that cannot be real is unknown, never summed,
and `--json` stays strict JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from collectors.fleet.assemble import Assembler
from collectors.fleet.http import FetchError, get
from collectors.fleet.model import FleetModel
from collectors.fleet.scrape import ScrapeFleet
from rigscope.fleet_command import print_once
from tests.fleet.test_cli import fleet

GOOD = ('rigscope_gpu_power_watts{gpu="0",uuid="u0"} 300\n'
        'rigscope_gpu_utilization_ratio{gpu="0",uuid="u0"} 0.5\n'
        'rigscope_gpu_temperature_celsius{gpu="0",uuid="u0"} 60\n'
        'rigscope_gpu_memory_used_bytes{gpu="0",uuid="u0"} 1e9\n')
HOSTILE = ('rigscope_gpu_power_watts{gpu="0",uuid="u0"} +Inf\n'
           'rigscope_gpu_power_watts{gpu="1",uuid="u1"} 250\n'
           'rigscope_gpu_memory_used_bytes{gpu="0",uuid="u0"} 1e300\n'
           'rigscope_gpu_memory_used_bytes{gpu="1",uuid="u1"} 2e9\n'
           'rigscope_gpu_temperature_celsius{gpu="0",uuid="u0"} -10000\n'
           'rigscope_gpu_temperature_celsius{gpu="1",uuid="u1"} 55\n'
           'rigscope_gpu_utilization_ratio{gpu="0",uuid="u0"} NaN\n'
           'rigscope_gpu_utilization_ratio{gpu="1",uuid="u1"} 7\n'
           'rigscope_gpu_energy_joules_total{gpu="0",uuid="u0"} -Inf\n')
TRICKLE_S = 0.2  # the slow target's pause between lines


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        if self.path.startswith("/slowheaders"):  # the status line, then a header byte at a time
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            while not stop.wait(TRICKLE_S):
                self.wfile.write(b"X")
                self.wfile.flush()
            return
        page = {"/good": GOOD, "/hostile": HOSTILE}.get(self.path.split("?")[0])
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if page is not None:
            self.wfile.write(page.encode())
            return
        while not stop.wait(TRICKLE_S):  # /slow: a comment line now and then, never the end
            self.wfile.write(b"# slow\n")
            self.wfile.flush()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.stop = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.stop.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


def _timed(call, *args):
    start = time.monotonic()
    try:
        return call(*args), time.monotonic() - start
    except FetchError as error:
        return error, time.monotonic() - start


@pytest.mark.parametrize("path", ["/slow", "/slowheaders"])
def test_a_trickling_answer_times_out_as_a_whole(server, path):
    error, took = _timed(get, f"http://{server}{path}", 0.6)
    assert isinstance(error, FetchError) and error.reason == "timed out after 0.6 s"
    assert took < 0.6 + 3  # the deadline, not one socket read's timeout over and over (unbounded before)


def test_a_slow_target_holds_no_other_back(server):
    fleet_ = ScrapeFleet([f"http://{server}/slow", f"http://{server}/good"], timeout_s=0.6)
    try:
        model, took = _timed(fleet_.refresh)
    finally:
        fleet_.close()
    assert took < 0.6 + 3  # load on a shared machine; unbounded before
    slow, good = sorted(model.rows, key=lambda r: r["node"].endswith("good"))
    assert slow["stale"] and slow["reason"].endswith("down: timed out after 0.6 s") and slow["power"] is None
    assert not good["stale"] and good["power"] == 300.0


def test_once_ends_within_the_timeout_on_a_slow_target(server):
    start = time.monotonic()
    done = fleet("--targets", f"http://{server}/slow", "--once", "--timeout", "1")
    assert time.monotonic() - start < 1 + 8  # the interpreter's start included; it hung for good before
    assert done.returncode == 0 and "down: timed out after 1 s" in done.stdout


def test_impossible_readings_are_unknown_and_not_summed(server):
    fleet_ = ScrapeFleet([f"http://{server}/hostile"], timeout_s=3)
    try:
        model = fleet_.refresh()
    finally:
        fleet_.close()
    (row,) = model.rows
    assert not row["stale"] and row["gpus"] == 2
    assert row["power"] == 250.0 and model.totals["power"] == 250.0  # +Inf left out
    assert row["mem_used"] == 2e9  # 1e300 bytes left out
    assert row["temp_max"] == 55.0  # -10000 °C left out
    assert row["util_mean"] is None  # NaN and 700 % both left out: unknown, never 0
    gpu0 = model.gpus[row["node"]]["0"]
    assert all(gpu0.get(f) is None for f in ("power", "mem_used", "temp", "util"))
    assert row["reason"] == "3 impossible readings left out (mem_used, temp, util)"  # NaN and ±inf: not measured
    json.dumps(model.as_json(), allow_nan=False)


def test_once_json_is_strict_even_on_a_hostile_page(server):
    done = fleet("--targets", f"http://{server}/hostile", "--once", "--json")
    assert done.returncode == 0, done.stderr
    assert "Infinity" not in done.stdout and "NaN" not in done.stdout
    model = json.loads(done.stdout)
    assert model["totals"]["power"] == 250.0


def test_once_table_shows_unknown_and_says_what_was_left_out(server):
    done = fleet("--targets", f"http://{server}/hostile", "--once")
    assert done.returncode == 0, done.stderr
    assert "inf" not in done.stdout.lower() and "3 impossible readings left out" in done.stdout
    assert done.stdout.splitlines()[0].startswith("nodes 1 up / 0 down · 2 GPUs")


def test_an_impossible_reading_lets_the_next_exporter_give_it():
    """The check sits where both clients (direct scrapes and Prometheus queries) hand their numbers in."""
    parts = Assembler()
    parts.add("n:9100", "rigscope", "temp", "0", 1e6)
    parts.add("n:9400", "dcgm", "temp", "0", 61.0)
    parts.add("n:9400", "dcgm", "power", "0", float("inf"))
    parts.add("n:9400", "dcgm", "util", "0", -0.5)
    parts.set_up("n:9100", True)
    (reading,) = parts.readings()
    assert reading.gpus == {"0": {"temp": 61.0}} and reading.impossible == {"temp": 1, "util": 1}


def test_the_json_dump_cleans_what_a_source_left_non_finite(capsys):
    model = FleetModel([], {"power": float("inf"), "util_mean": float("nan")}, [], 0, 0.0, 0.0, 600.0,
                       {"n": {"0": {"power": float("-inf"), "model": "X"}}})
    print_once(model, as_json=True)
    out = json.loads(capsys.readouterr().out)
    assert out["totals"] == {"power": None, "util_mean": None}
    assert out["gpu_readings"] == {"n": {"0": {"power": None, "model": "X"}}}
