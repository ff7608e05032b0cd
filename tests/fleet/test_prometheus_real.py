"""A real Prometheus (Debian's `prometheus`) on loopback scrapes two simulated rigscope boxes; the fleet reads it back.

The boxes are `rigscope record --source sim --http` (the demo's simulated source, headless)
on two loopback addresses, so they are two nodes as two hosts would be; a third target
listens nowhere.  `rigscope fleet --once --json` and the fleet screen (Pilot) must show
the two live nodes with their GPU counts and sizes, and the third as down with Prometheus'
own reason, through the real PromQL of the grouped queries.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
from typing import Any

import pytest

from collectors.fleet.prom_client import PrometheusFleet
from tests.conftest import REPO
from tests.http.test_prometheus_real import PROMETHEUS, fetch, free_port, stop, until
from tests.waiting import run, wait_until
from tui.fleet import FleetApp, FleetTable

WAIT_S = 60.0
H100_BYTES = 8.5520809984e10  # the simulated GPU's memory size
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed (.ci/run runs "
                                                           "apt-get install -y prometheus)")


def scraped(api: str) -> dict[str, float]:
    """Samples of each instance's GPU utilization over the last minute (its least scraped GPU)."""
    query = urllib.parse.quote("min by (instance) (count_over_time(rigscope_gpu_utilization_ratio[1m]))")
    status, body = fetch(f"{api}/api/v1/query?query={query}")
    if status != 200:
        return {}
    return {s["metric"]["instance"]: float(s["value"][1]) for s in json.loads(body)["data"]["result"]}


def test_fleet_reads_a_real_prometheus(tmp_path):
    port, prom_port = free_port(), free_port()
    boxes = {"127.0.0.2": 2, "127.0.0.3": 3}
    config = tmp_path / "prometheus.yml"
    targets = ", ".join(f"'{a}:{port}'" for a in [*boxes, "127.0.0.4"])
    config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                      f"scrape_configs:\n  - job_name: rigscope\n    static_configs:\n      - targets: [{targets}]\n")
    recorders = [subprocess.Popen(
        [sys.executable, "-m", "rigscope", "record", "--source", "sim", "--gpus-sim", str(gpus), "--hz", "5",
         "--speed", "30", "--duration", "30m", "--http", f"{address}:{port}", "--dir", str(tmp_path / address)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for address, gpus in boxes.items()]
    prometheus = None
    api = f"http://127.0.0.1:{prom_port}"
    try:
        deadline = time.monotonic() + WAIT_S
        for address in boxes:
            until(lambda: fetch(f"http://{address}:{port}/healthz")[0] == 200, deadline, f"{address}'s /healthz")
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until(lambda: fetch(f"{api}/-/ready")[0] == 200 or prometheus.poll() is not None, deadline, "Prometheus")
        until(lambda: len(scraped(api)) == 2 and min(scraped(api).values()) >= 3, deadline,
              "three scrapes of each box")
        done = subprocess.run([sys.executable, "-m", "rigscope", "fleet", "--prometheus", api, "--once", "--json"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        screen = read_screen(api)
    finally:
        if prometheus is not None:
            stop(prometheus)
        for recorder in recorders:
            stop(recorder, signal.SIGINT)
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert model["queries"] <= 12 and model["errors"] == []
    rows = {r["node"]: r for r in model["nodes"]}
    names = {gpu["model"] for gpus in model["gpu_readings"].values() for gpu in gpus.values()}
    assert names == {"NVIDIA H100 80GB HBM3 (simulated)"}  # rigscope_gpu_info through label_replace
    assert sorted(rows) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    for address, gpus in boxes.items():
        row = rows[address]
        assert not row["stale"] and row["exporters"] == ["rigscope"] and row["gpus"] == gpus
        assert row["mem_total"] == gpus * H100_BYTES and row["temp_limit"] == 83.0
        assert 0.0 <= row["util_mean"] <= row["util_max"] <= 1.0 and row["power"] > 0
        assert row["energy"] is not None and row["energy"] > 0  # increase() over the scrapes so far
        assert row["workload"] is not None and row["cpu_util"] is not None
        assert row["idle_gpus"] is None  # less than 5 minutes of history: "idle for 5 min" is not known
    down = rows["127.0.0.4"]
    assert down["stale"] and "127.0.0.4:" in down["reason"] and "refused" in down["reason"]
    assert model["totals"]["nodes_up"] == 2 and model["totals"]["gpus"] == 5
    assert screen == {"127.0.0.2": False, "127.0.0.3": False, "127.0.0.4": True}


def read_screen(api: str) -> dict[str, Any]:
    """The fleet screen on the same Prometheus: each node's row and whether it is marked stale."""
    out: dict[str, Any] = {}

    async def body() -> None:
        app = FleetApp(PrometheusFleet(api, timeout_s=10), refresh_s=30)
        async with app.run_test(size=(170, 40)) as pilot:
            await wait_until(pilot, lambda: app.fleet.refreshes >= 1, 30, "a refresh")
            out.update({r["node"]: r["stale"] for r in app.fleet.query_one(FleetTable).rows})

    run(body)
    return out
