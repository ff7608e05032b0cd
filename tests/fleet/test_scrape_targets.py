"""Direct scrapes of targets given as URLs, and of a node with more than one exporter: each node one row,
named by its host, never by a password in its URL; its sparklines from the exporter that has them."""

from __future__ import annotations

import base64
import subprocess
import sys

from collectors.fleet.scrape import ScrapeFleet, instance_of, target_url
from tests.conftest import REPO
from tests.fleet.servers import address, fixture, ok
from tests.fleet.test_cli import fleet


def test_a_url_target_with_credentials_is_named_by_its_host_and_they_are_sent(raw):
    server = raw(lambda path, headers: ok(fixture("rigscope_8gpu.prom", "n").encode()))
    port = server.address.rsplit(":", 1)[1]
    done = fleet("--targets", f"http://alice:s3cret@127.0.0.1:{port}/metrics", "--once")
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr and "alice" not in done.stdout  # the node's name before
    assert done.stdout.splitlines()[2].split()[:2] == ["127.0.0.1", "8"]
    assert server.seen[0][1]["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_a_node_s_exporters_given_as_urls_or_host_port_are_one_node(nodes_factory):
    server = nodes_factory(2, "dcgm_8gpu.prom", node_exporter=True)
    node_exporter, dcgm = f"{address(0)}:{server.node_port}", f"http://{address(0)}:{server.port}/metrics"
    fleet_ = ScrapeFleet([node_exporter, dcgm, f"http://{address(1)}:{server.port}/other/path"], timeout_s=3)
    try:
        model = fleet_.refresh()
        history = fleet_.history(address(0), 60)
    finally:
        fleet_.close()
    rows = {r["node"]: r for r in model.rows}
    assert set(rows) == {address(0), f"{address(1)}:{server.port}/other/path"}  # a path of its own stays in the name
    assert rows[address(0)]["exporters"] == ["dcgm", "node_exporter"] and rows[address(0)]["gpus"] == 8
    assert len(history) == 8 and history["0"] == [0.9]  # from dcgm's target, not the first (node_exporter's)


EXIT_WHILE_A_SCRAPE_HANGS = """
import threading, time
from collectors.fleet.scrape import ScrapeFleet, instance_of, target_url
started, never = threading.Event(), threading.Event()
def fetch(url, timeout):
    started.set()
    never.wait()  # a target that never answers (nor lets go)
    return b""
fleet = ScrapeFleet(["a:1", "b:1"], fetch=fetch)
threading.Thread(target=fleet.refresh, daemon=True).start()  # as the screen's refresh thread
started.wait(10)
fleet.close()
print("closed", flush=True)
"""


def test_the_process_ends_while_a_scrape_hangs():
    """q on the screen ends the process at once: the scrapes' threads are not waited for (a thread pool's are joined
    as the interpreter exits: with a scrape that never ends, the process never ended)."""
    done = subprocess.run([sys.executable, "-c", EXIT_WHILE_A_SCRAPE_HANGS], cwd=REPO, capture_output=True, text=True,
                          timeout=60)  # the bound: a process that waits for the hung scrape never ends
    assert done.returncode == 0 and done.stdout == "closed\n", done.stderr


def test_a_target_with_a_path_but_no_scheme_is_scraped_at_that_path():
    assert target_url("gpu01:9400/metrics") == "http://gpu01:9400/metrics"  # /metrics/metrics before: a 404
    assert target_url("gpu01:9100/node/metrics") == "http://gpu01:9100/node/metrics"
    assert instance_of("gpu01:9400/metrics") == "gpu01:9400"  # one node with gpu01:9100
