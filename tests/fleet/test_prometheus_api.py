"""The Prometheus client: a fixed number of grouped queries whatever the fleet's size, and each failure a line."""

from __future__ import annotations

import pytest

from collectors.fleet.http import Auth
from collectors.fleet.model import NodeReading, node_row
from collectors.fleet.prom_client import PrometheusFleet, parse_duration
from tests.fleet.servers import FakeFleet, FakePrometheus

MAX_QUERIES = 12


@pytest.mark.parametrize("nodes", [1, 64, 256])
def test_queries_per_refresh_do_not_grow_with_the_fleet(nodes):
    server = FakePrometheus(FakeFleet(nodes=nodes))
    try:
        model = PrometheusFleet(server.url, timeout_s=5).refresh()
    finally:
        server.close()
    assert model.queries == len(server.requests) <= MAX_QUERIES
    assert not server.unknown and not model.errors
    assert len(model.rows) == nodes and model.totals["gpus"] == 8 * nodes
    row = model.rows[0]
    assert row["node"] == "gpu000" and row["exporters"] == ["dcgm"]
    assert row["util_max"] == pytest.approx(0.91) and row["energy"] == pytest.approx(8 * 1.2e6)
    assert row["mem_total"] == 8 * 80e9 and row["idle_gpus"] == 1
    assert model.totals["idle_gpus"] == nodes


def test_down_and_stale_nodes_are_marked_and_show_no_numbers():
    fleet = FakeFleet(nodes=6, down={"gpu001"}, stale={"gpu002"})
    server = FakePrometheus(fleet)
    try:
        model = PrometheusFleet(server.url, timeout_s=5).refresh()
    finally:
        server.close()
    rows = {r["node"]: r for r in model.rows}
    assert rows["gpu001"]["reason"] == "gpu001:9400 down: context deadline exceeded"
    assert "no sample for 600 s" in rows["gpu002"]["reason"]  # older than three 15 s scrape intervals
    for name in ("gpu001", "gpu002"):
        assert rows[name]["stale"] and rows[name]["util_mean"] is None and rows[name]["power"] is None
    assert model.totals["nodes_up"] == 4 and model.totals["nodes_down"] == 2


def test_targets_without_known_metrics_are_one_line_unless_their_job_is_chosen():
    server = FakePrometheus(FakeFleet(nodes=2, others=("prometheus:9090", "db:9104")))
    try:
        default = PrometheusFleet(server.url, timeout_s=5).refresh()
        chosen = PrometheusFleet(server.url, timeout_s=5, job="dcgm").refresh()
    finally:
        server.close()
    assert [r["node"] for r in default.rows] == ["gpu000", "gpu001"]
    assert default.errors == ["2 target(s) up with no rigscope, DCGM or node_exporter metrics left out "
                              "(db, prometheus); --job chooses the jobs to show"]
    assert [r["node"] for r in chosen.rows] == ["gpu000", "gpu001"] and not chosen.errors


def test_a_chosen_job_s_target_without_known_metrics_is_a_row_that_says_so():
    server = FakePrometheus(FakeFleet(nodes=2, silent={"gpu001"}))
    try:
        model = PrometheusFleet(server.url, timeout_s=5, job="dcgm").refresh()
    finally:
        server.close()
    rows = {r["node"]: r for r in model.rows}
    assert rows["gpu001"]["stale"] and rows["gpu001"]["reason"] == "no rigscope, DCGM or node_exporter metrics"
    assert not rows["gpu000"]["stale"] and model.totals["nodes_up"] == 1


def test_503_is_one_line_and_no_rows(prometheus):
    prometheus.status = 503
    model = PrometheusFleet(prometheus.url, timeout_s=5).refresh()
    assert model.rows == []
    assert model.errors and all("is unavailable (503" in e for e in model.errors)


def test_bad_credentials_then_good_ones():
    server = FakePrometheus(FakeFleet(nodes=2), token="s3cret")
    try:
        refused = PrometheusFleet(server.url, Auth(bearer="wrong"), timeout_s=5).refresh()
        good = PrometheusFleet(server.url, Auth(bearer="s3cret"), timeout_s=5).refresh()
    finally:
        server.close()
    assert refused.rows == [] and "refused the credentials (401" in refused.errors[0]
    assert not good.errors and len(good.rows) == 2


def test_a_slow_prometheus_times_out_in_one_line(prometheus):
    prometheus.delay_s = 1.5
    model = PrometheusFleet(prometheus.url, timeout_s=0.3).refresh()
    assert model.rows == [] and model.errors == [f"{prometheus.url[7:]}/api/v1/query timed out after 0.3 s"]
    assert model.queries == 2  # the targets list may be alone in being slow: one query, and the refresh stops there


def test_unreachable_prometheus_is_one_line():
    model = PrometheusFleet("http://127.0.0.1:9", timeout_s=2).refresh()
    assert model.rows == [] and "cannot be reached" in model.errors[0]


def test_history_is_one_range_query_with_step_window_over_width(prometheus):
    client = PrometheusFleet(prometheus.url, timeout_s=5, window_s=600)
    series = client.history("gpu003", 60)
    assert client.queries == 1 and sorted(series) == [str(g) for g in range(8)]
    assert len(series["0"]) == 60 and series["0"][1] == pytest.approx(0.1)


def test_auth_from_environment(monkeypatch):
    monkeypatch.setenv("RIGSCOPE_FLEET_TOKEN", "t")
    assert Auth.from_env(None, None).headers() == {"Authorization": "Bearer t"}
    monkeypatch.delenv("RIGSCOPE_FLEET_TOKEN")
    assert Auth.from_env(None, "u:p").headers() == {"Authorization": "Basic dTpw"}


def test_durations_and_stale_rule():
    assert parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5 and parse_duration("") is None
    fresh = NodeReading("n", up=True, seen_s=100.0, interval_s=15.0, exporters=("dcgm",), gpus={"0": {"util": 0.5}})
    assert not node_row(fresh, 100.0 + 44)["stale"]
    assert node_row(fresh, 100.0 + 46)["stale"]


@pytest.mark.parametrize("age_s, stale", [(50.0, False), (200.0, True)])
def test_without_a_targets_list_the_scrape_interval_is_read_from_the_samples(age_s, stale):
    """Thanos and Mimir have no targets list: a 60 s scrape interval, guessed to be 15 s, turned every node
    stale whenever its newest sample was over 45 s old (a quarter of the time)."""
    server = FakePrometheus(FakeFleet(nodes=2, interval_s=60.0, age_s=age_s, targets_list=False))
    try:
        model = PrometheusFleet(server.url, timeout_s=5).refresh()
    finally:
        server.close()
    assert not model.errors and [r["stale"] for r in model.rows] == [stale, stale]
    if stale:
        assert model.rows[0]["reason"] == "no sample for 200 s (over 3 scrape intervals)"


def test_a_node_s_history_steps_shorter_than_its_scrape_interval_leave_no_gaps():
    """10 minutes in 60 steps is 10 s a step; a 15 s scrape left a third of the 10 s ranges without a sample,
    blank columns in every sparkline. The range of each step spans two scrape intervals at least."""
    server = FakePrometheus(FakeFleet(nodes=2, interval_s=15.0))
    try:
        source = PrometheusFleet(server.url, timeout_s=5)
        source.refresh()
        history = source.history("gpu000", 60)
    finally:
        server.close()
    assert len(history) == 8 and "[30s]" in server.queries[-1] and "[10s]" not in server.queries[-1]
