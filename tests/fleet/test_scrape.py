"""Direct scrapes: many nodes' pages read in parallel, each exporter's names and units, and each failure a line."""

from __future__ import annotations

import pytest

from collectors.fleet.scrape import ScrapeFleet, known_lines, parse_line, parse_targets, target_url
from tests.fleet.servers import address, fixture


def by_node(model):
    return {row["node"]: row for row in model.rows}


@pytest.mark.parametrize("count", [64, 256])
def test_many_rigscope_nodes_one_row_each(nodes_factory, count):
    server = nodes_factory(count)
    fleet = ScrapeFleet(server.targets(), timeout_s=5)
    try:
        model = fleet.refresh()
    finally:
        fleet.close()
    assert model.queries == count and len(model.rows) == count
    assert model.totals["nodes_up"] == count and model.totals["gpus"] == 8 * count
    row = by_node(model)[address(5)]
    assert not row["stale"] and row["exporters"] == ["rigscope"] and row["gpus"] == 8
    # the fixture page's own numbers, in base units: utilization 0-1, bytes, °C, W
    assert row["util_max"] == pytest.approx(0.9429365510790557)
    assert row["temp_limit"] == 83.0 and row["mem_total"] == 8 * 8.5520809984e+10
    assert row["workload"] is not None
    assert row["energy"] is None  # one scrape: no increase over the window yet, unknown rather than 0


def test_dcgm_and_node_exporter_of_one_host_are_one_node(nodes_factory):
    server = nodes_factory(3, "dcgm_8gpu.prom", node_exporter=True)
    now = [1000.0]
    fleet = ScrapeFleet(server.targets(node_exporter=True), timeout_s=5, clock=lambda: now[0])
    try:
        fleet.refresh()
        now[0] += 301.0  # a second scrape 5 minutes later: increases, rates and the idle test can be made
        model = fleet.refresh()
    finally:
        fleet.close()
    assert len(model.rows) == 3
    row = by_node(model)[address(0)]
    assert row["exporters"] == ["dcgm", "node_exporter"] and row["gpus"] == 8
    assert model.gpus[address(0)]["3"]["model"] == "NVIDIA H100 80GB HBM3"  # modelName
    assert row["util_max"] == pytest.approx(0.96)  # DCGM_FI_DEV_GPU_UTIL is in percent (90 + GPU index, GPU 7 idle)
    assert row["sm_mean"] == pytest.approx(sum([0.8 + g / 100 for g in range(7)] + [0.01]) / 8)
    assert row["mem_used"] == (7 * 78000 + 40000) * 2**20  # MiB → bytes
    assert row["mem_total"] == 8 * 81000 * 2**20  # used + free
    assert row["power"] == pytest.approx(7 * 650.5 + sum(range(7)) + 71.25)
    assert row["temp_limit"] is None  # dcgm-exporter serves none: unknown, not 0
    assert row["energy"] == 0.0  # the fixture's counter did not move between the two scrapes
    assert row["host_mem_total"] == 2.199023255552e12 and row["host_mem_used"] == 2.199023255552e12 - 4.294967296e11
    assert row["cpu_util"] == pytest.approx(1.0)  # idle seconds did not move: all busy
    assert row["idle_gpus"] == 1  # GPU 7: 40 GiB in use, SM activity 1 % for 5 minutes
    assert model.totals["idle_gpus"] == 3


def test_down_slow_and_unknown_nodes_each_say_why_and_the_rest_stays_live(nodes_factory):
    server = nodes_factory(8)
    down, slow = address(1), address(2)
    server.nodes[slow].delay_s = 3.0
    fleet = ScrapeFleet(server.targets(), timeout_s=0.5)
    try:
        assert not by_node(fleet.refresh())[down]["stale"]
        server.take_down(down)  # the node goes down mid-run
        server.nodes[address(3)].pages[server.port] = fixture("unknown_exporter.prom", address(3))  # mysqld_exporter
        server.nodes[address(4)].status = 500
        server.nodes[address(5)].pages[server.port] = ""
        model = fleet.refresh()
    finally:
        fleet.close()
    rows = by_node(model)
    assert "refused" in rows[down]["reason"] and rows[down]["util_mean"] is None  # no old numbers shown as live
    assert "timed out after 0.5 s" in rows[slow]["reason"]
    assert rows[address(3)]["reason"] == "unknown exporter: mysql_up, mysql_global_status_threads_connected"
    assert "(500" in rows[address(4)]["reason"]
    assert rows[address(5)]["reason"] == "no rigscope, DCGM or node_exporter metrics"  # an empty page
    assert all(rows[address(k)]["stale"] for k in (1, 2, 3, 4, 5))
    assert [rows[address(k)]["stale"] for k in (0, 6, 7)] == [False] * 3
    assert model.totals["nodes_up"] == 3 and model.totals["nodes_down"] == 5


def test_a_page_with_broken_lines_is_that_node_s_error(nodes_factory):
    server = nodes_factory(2)
    server.nodes[address(0)].pages[server.port] = 'rigscope_gpu_power_watts{gpu="0" 12\n'
    fleet = ScrapeFleet(server.targets(), timeout_s=5)
    try:
        rows = by_node(fleet.refresh())
    finally:
        fleet.close()
    assert rows[address(0)]["stale"] and "unreadable" in rows[address(0)]["reason"]
    assert not rows[address(1)]["stale"]


def test_targets_parsing_and_urls():
    assert parse_targets("a:1, b:2\n# c:3\nd:4 # e\na:1") == ["a:1", "b:2", "d:4"]
    assert target_url("gpu1:9400") == "http://gpu1:9400/metrics"
    assert target_url("https://gpu1:9400") == "https://gpu1:9400/metrics"
    assert target_url("http://gpu1/custom/path") == "http://gpu1/custom/path"


def test_unknown_names_are_skipped_before_parsing():
    text, unknown = known_lines("# HELP x y\nfoo 1\nrigscope_gpu_power_watts{gpu=\"0\"} 3\nbar{a=\"b\"} 2\n")
    assert text == ['rigscope_gpu_power_watts{gpu="0"} 3'] and unknown == ["foo", "bar"]


def test_series_parsed_once_still_give_each_scrape_s_values(nodes_factory):
    server = nodes_factory(1)
    fleet = ScrapeFleet(server.targets(), timeout_s=5)
    page = server.nodes[address(0)].pages[server.port]
    try:
        first = fleet.refresh().rows[0]
        server.nodes[address(0)].pages[server.port] = page.replace("} 589.7945689263265", "} 100.5")
        second = fleet.refresh().rows[0]
    finally:
        fleet.close()
    assert second["power"] == pytest.approx(first["power"] - 589.7945689263265 + 100.5)


def test_parse_line_values_and_hostile_lines():
    assert parse_line('a_b{x="1}",y="2"} 3.5 1700000000000') == ("a_b", {"x": "1}", "y": "2"}, 3.5)
    assert parse_line("up NaN")[2] != parse_line("up NaN")[2]
    for bad in ("up", 'up{x="1" 2', "up{x=1} 2", "up{} abc"):
        with pytest.raises(ValueError):
            parse_line(bad)
