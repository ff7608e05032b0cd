"""A real Prometheus (the Debian `prometheus` package) scrapes `rigscope record --http` on the simulated box.

Prometheus runs on loopback with its own config and storage in a temp dir and a
1 s scrape interval.  The simulated box runs 30 times faster than real time,
so its first collapse (about 320 simulated seconds in) falls inside the test.
Once Prometheus holds three scrapes, one of them after the collapse, the test
stops rigscope and checks every scraped value against the session rigscope
recorded: the sample whose `ts` the scrape reported (the nearest sample when
none has exactly that ts), and the `collapse_start` events up to it.
`.ci/run` installs the package when it is missing; the test skips only when
the binary is not there.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import polars as pl
import pytest

from collectors.timeutil import us_from_iso
from recordings.events import read_events
from tests.conftest import REPO

PROMETHEUS = shutil.which("prometheus")
SPEED, HZ = 30, 5
WAIT_S = 60.0

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the prometheus binary is not installed and could not be (.ci/run runs apt-get install -y prometheus)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def until(predicate: Any, deadline: float, what: str) -> Any:
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def raw_samples(api: str, metric: str) -> dict[tuple, list[tuple[float, float]]]:
    """Every stored sample of `metric` in the last 10 minutes: {sorted labels without __name__: [(t, value)]}."""
    query = urllib.parse.urlencode({"query": f"{metric}[10m]"})
    status, body = fetch(f"{api}/api/v1/query?{query}")
    assert status == 200, body
    result = json.loads(body)["data"]["result"]
    return {tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__")):
            [(float(t), float(v)) for t, v in series["values"]] for series in result}


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_prometheus_scrapes_what_rigscope_recorded(tmp_path):
    rig_port, prom_port = free_port(), free_port()
    sessions = tmp_path / "sessions"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: rigscope\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{rig_port}']\n")
    rigscope = subprocess.Popen(
        [sys.executable, "-m", "rigscope", "record", "--source", "sim", "--gpus-sim", "2", "--hz", str(HZ),
         "--speed", str(SPEED), "--duration", "30m", "--http", f"127.0.0.1:{rig_port}", "--dir", str(sessions)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    prometheus = None
    try:
        deadline = time.monotonic() + WAIT_S
        until(lambda: fetch(f"http://127.0.0.1:{rig_port}/healthz")[0] == 200 or rigscope.poll() is not None,
              deadline, "rigscope's /healthz")
        assert rigscope.poll() is None, rigscope.stderr.read() if rigscope.stderr else ""
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{prom_port}"
        until(lambda: fetch(f"{api}/-/ready")[0] == 200 or prometheus.poll() is not None, deadline, "Prometheus")
        assert prometheus.poll() is None, "Prometheus exited at start"

        def enough() -> bool:
            stamps = raw_samples(api, "rigscope_last_sample_timestamp_seconds")
            collapses = raw_samples(api, "rigscope_collapse_events_total")
            scrapes = max((len(v) for v in stamps.values()), default=0)
            collapsed = any(value > 0 for series in collapses.values() for _, value in series)
            return scrapes >= 3 and collapsed

        until(enough, deadline, "three scrapes, one of them after the first collapse")
        stamps = raw_samples(api, "rigscope_last_sample_timestamp_seconds")
        utilization = raw_samples(api, "rigscope_gpu_utilization_ratio")
        collapses = raw_samples(api, "rigscope_collapse_events_total")
        up = raw_samples(api, "up")
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(rigscope, signal.SIGINT)  # rigscope closes the session on Ctrl-C
    assert rigscope.returncode == 0, rigscope.stderr.read() if rigscope.stderr else ""
    assert all(value == 1.0 for series in up.values() for _, value in series)

    (session,) = [p for p in sessions.iterdir() if p.is_dir()]
    samples = pl.read_parquet(session / "samples.parquet").with_columns(pl.col("ts").dt.epoch("us").alias("ts_us"))
    recorded_ts = samples["ts_us"].to_list()
    starts = [(us_from_iso(e["ts"]), e["device"]) for e in read_events(session / "events.jsonl")
              if e["kind"] == "collapse_start"]
    assert starts, "the session recorded no collapse"

    def row_at(ts_us: int) -> dict[str, Any]:
        """The recorded sample at `ts_us`, else the nearest one (within one sample period of session time)."""
        nearest = min(range(len(recorded_ts)), key=lambda i: abs(recorded_ts[i] - ts_us))
        assert abs(recorded_ts[nearest] - ts_us) <= 1e6 / HZ
        return samples.row(nearest, named=True)

    (stamp_series,) = stamps.values()
    frame_at = {t: round(value * 1e6) for t, value in stamp_series}  # scrape time -> ts of the sample it served
    checked_util = checked_collapse = 0
    for labels, series in utilization.items():
        gpu = dict(labels)["gpu"]
        for t, value in series:
            assert value == pytest.approx(row_at(frame_at[t])[f"gpu{gpu}_util_pct"] / 100, rel=1e-9, abs=1e-12)
            checked_util += 1
    for labels, series in collapses.items():
        device = dict(labels)["device"]
        for t, value in series:
            expected = sum(1 for ts_us, d in starts if d == device and ts_us <= frame_at[t])
            assert value == expected, (device, t, value, expected)
            checked_collapse += 1
    assert checked_util >= 2 * 3 and checked_collapse >= 3 * 3
    assert max(value for series in collapses.values() for _, value in series) >= 1
