"""`query_range` on a real Prometheus whose TSDB was backfilled with `promtool tsdb create-blocks-from openmetrics`.

Two dcgm-exporter nodes of two GPUs, an hour of history at 15 s written as OpenMetrics:
utilization flat at 10 % with one 15 s spike to 100 % on node a's GPU 1.  The node view's
history (step = window / width, `max_over_time`) must keep the spike, which a plain
`query_range` at that step would miss, and must hold only that node's GPUs.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from collectors.fleet.prom_client import PrometheusFleet
from tests.http.test_prometheus_real import PROMETHEUS, fetch, free_port, stop, until

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMETHEUS is None or PROMTOOL is None,
                                reason="prometheus and promtool are not installed (apt-get install -y prometheus)")
STEP_S, HOUR_S, WIDTH = 15, 3600, 60


def openmetrics(end_s: int) -> str:
    lines = ["# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
    spike = end_s - HOUR_S // 2
    for node in ("a", "b"):
        for gpu in ("0", "1"):
            for t in range(end_s - HOUR_S, end_s + 1, STEP_S):
                value = 100 if (node, gpu, t) == ("a", "1", spike) else 10
                lines.append(f'DCGM_FI_DEV_GPU_UTIL{{instance="node-{node}:9400",job="dcgm",gpu="{gpu}",'
                             f'Hostname="node-{node}"}} {value} {t}')
    return "\n".join(lines) + "\n# EOF\n"


def test_node_history_keeps_a_spike_from_a_backfilled_tsdb(tmp_path):
    end = int(time.time()) // STEP_S * STEP_S - 120
    source, data = tmp_path / "history.om", tmp_path / "data"
    source.write_text(openmetrics(end))
    made = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}"
    try:
        until(lambda: fetch(f"{api}/-/ready")[0] == 200 or prometheus.poll() is not None, time.monotonic() + 60,
              "Prometheus")
        client = PrometheusFleet(api, timeout_s=10, window_s=HOUR_S + 120)
        history = client.history("node-a", WIDTH)
    finally:
        stop(prometheus)
    assert sorted(history) == ["0", "1"]  # node a's GPUs only
    assert all(len(points) == WIDTH for points in history.values())
    assert max(p for p in history["1"] if p is not None) == pytest.approx(1.0)  # the spike survived the step
    assert max(p for p in history["0"] if p is not None) == pytest.approx(0.1)
    assert sum(p is not None for p in history["0"]) >= WIDTH - 3
