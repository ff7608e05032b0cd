"""`rigscope fleet --once [--json]` end to end, in a subprocess as scripts and cron run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO
from tests.fleet.servers import FakeFleet, FakePrometheus, address


def fleet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rigscope", "fleet", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=None if env is None else {**os.environ, **env})


def test_once_json_by_direct_scrape(nodes_factory, tmp_path):
    server = nodes_factory(4)
    server.take_down(address(3))
    targets = tmp_path / "targets"
    targets.write_text("# the lab\n" + "\n".join(server.targets()) + "\n")
    done = fleet("--targets-file", str(targets), "--once", "--json", "--timeout", "3")
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert model["totals"]["nodes_up"] == 3 and model["totals"]["nodes_down"] == 1
    assert [r["node"] for r in model["nodes"]] == [address(k) for k in range(4)]
    assert model["nodes"][3]["stale"] and model["nodes"][3]["util_mean"] is None
    assert model["nodes"][0]["gpus"] == 8 and model["queries"] == 4
    gpu0 = model["gpu_readings"][address(0)]["0"]  # each live node's GPUs, fields in base units
    assert gpu0["util"] == 0.9381668965645082 and gpu0["temp_limit"] == 83.0
    assert gpu0["model"] == "NVIDIA H100 80GB HBM3 (simulated)"  # rigscope_gpu_info's name
    assert address(3) not in model["gpu_readings"]


def test_once_plain_table_through_prometheus(prometheus):
    done = fleet("--prometheus", prometheus.url, "--once")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("nodes 64 up / 0 down · 512 GPUs")
    assert lines[1].split()[:3] == ["NODE", "GPUS", "UTIL"]
    assert len(lines) == 2 + 64 and lines[2].split()[:3] == ["gpu000", "8", "80%"]  # one GPU of 8 idle


def test_credentials_from_the_environment_or_a_flag():
    server = FakePrometheus(FakeFleet(nodes=2), token="s3cret")
    try:
        by_env = fleet("--prometheus", server.url, "--once", env={"RIGSCOPE_FLEET_TOKEN": "s3cret"})
        by_flag = fleet("--prometheus", server.url, "--once", "--token", "s3cret")
        wrong = fleet("--prometheus", server.url, "--once", env={"RIGSCOPE_FLEET_TOKEN": "nope"})
    finally:
        server.close()
    assert by_env.returncode == 0 and by_flag.returncode == 0 and by_env.stdout.startswith("nodes 2 up")
    assert wrong.returncode == 1 and "refused the credentials (401" in wrong.stderr
    assert "nope" not in wrong.stderr + wrong.stdout  # the token is never printed


def test_prometheus_503_exits_1_with_the_reason(prometheus):
    prometheus.status = 503
    done = fleet("--prometheus", prometheus.url, "--once")
    assert done.returncode == 1
    assert "is unavailable (503" in done.stderr and "Traceback" not in done.stderr


def test_hostile_node_text_is_inert_in_the_plain_table(nodes_factory):
    server = nodes_factory(1)
    page = server.nodes[address(0)].pages[server.port]
    server.nodes[address(0)].pages[server.port] = page.replace('state="compute"', 'state="\x1b[2J\u202eowned"')
    done = fleet("--targets", server.targets()[0], "--once")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    assert "\\x1b[2J\\u202eowned" in done.stdout  # shown as visible escapes


def test_the_screen_wants_a_terminal():
    done = fleet("--targets", "127.0.0.1:9")
    assert done.returncode == 1 and "needs a capable terminal" in done.stderr and "Traceback" not in done.stderr


def test_bad_usage():
    assert fleet("--once").returncode == 2  # no source
    both = fleet("--prometheus", "http://x", "--targets", "a:1", "--once")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert fleet("--targets", "a:1", "--json").returncode == 2
    missing = fleet("--targets-file", "/nonexistent/targets", "--once")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr
    scheme = fleet("--prometheus", "prometheus:9090", "--once")
    assert scheme.returncode == 2 and "http:// or https://" in scheme.stderr
