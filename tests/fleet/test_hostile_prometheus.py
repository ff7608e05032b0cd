"""A Prometheus API that answers in shapes the client does not expect, or with warnings beside its data.

JSON of another shape is one error line, never an exception out of the refresh (a traceback in
`--once`); warnings (Thanos' partial answers: a store unreachable, nodes missing) are lines too,
so a fleet missing part of itself is not shown as whole.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from collectors.fleet import promql
from collectors.fleet.model import NodeReading, build
from collectors.fleet.prom_client import PrometheusFleet
from tests.fleet.servers import FakeFleet, FakePrometheus, ok
from tests.fleet.test_cli import fleet

UP = {"metric": {"instance": "gpu01:9400"}, "value": [1.0, "1"]}
POWER = {"metric": {"instance": "gpu01:9400", "field": "power", "exporter": "dcgm", "gpu": "0"}, "value": [1.0, "300"]}
TARGETS = {"status": "success", "data": {"activeTargets": []}}


def _vector(result: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": result}, **extra}


def _api(answers: dict[str, dict[str, Any]]):
    """An API whose answer to each grouped query (`up`, `gauges`, `window`) and to `targets` is given."""
    def answer(path: str, headers: dict[str, str]) -> bytes:
        parts = urlsplit(path)
        query = parse_qs(parts.query).get("query", [""])[0]
        key = {promql.up_query(None): "up", promql.gauges_query(): "gauges"}.get(query, "window")
        body = ({"targets": TARGETS} | answers).get("targets" if parts.path.endswith("/targets") else key, _vector([]))
        return ok(json.dumps(body).encode())
    return answer


@pytest.mark.parametrize("answers", [
    {"targets": {"status": "success", "data": ["not", "an", "object"]}},
    {"targets": {"status": "success", "data": {"activeTargets": ["gpu01:9400"]}}},
    {"targets": {"status": "success", "data": {"activeTargets": [{"labels": "gpu01"}]}}},
    {"up": _vector([1, "x"])},
    {"up": _vector([{"metric": "gpu01", "value": [1.0, "1"]}])},
    {"up": _vector([{"metric": {"instance": "gpu01:9400"}, "value": {"t": 1}}])},
    {"up": _vector([{"metric": {"instance": ["gpu01"]}, "value": [1.0, "1"]}])},
    {"up": {"status": "success", "data": "vector"}},
], ids=["targets data a list", "target a string", "target labels a string", "result items not objects",
        "metric a string", "value an object", "instance a list", "data a string"])
def test_an_answer_of_another_shape_is_one_line(raw, answers):
    server = raw(_api({"up": _vector([UP]), "gauges": _vector([POWER]), **answers}))
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    assert model.errors and all("answered" in e for e in model.errors), model.errors
    done = fleet("--prometheus", f"http://{server.address}", "--once")
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr


def test_warnings_beside_the_data_are_lines(raw):
    partial = "No StoreAPIs matched for this query: store 10.0.0.7:10901 unreachable"
    info = "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket"
    server = raw(_api({"up": _vector([UP], warnings=[partial]), "gauges": _vector([POWER], warnings=[partial, info]),
                       "window": _vector([], warnings=[info])}))
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    assert model.rows[0]["power"] == 300.0
    assert model.errors == [f"{server.address}/api/v1/query warned: {partial}"]  # once; an info is no warning


def test_a_fleet_answer_larger_than_a_page_may_be_is_read(monkeypatch):
    """The gauges of some 3,500 nodes of 8 GPUs pass 32 MiB, the most a node's /metrics page may be: the API's
    answers have a limit of their own (the fleet failed as a whole there before)."""
    monkeypatch.setattr("collectors.fleet.http.MAX_BODY", 64 * 1024)  # the page limit, scaled down
    server = FakePrometheus(FakeFleet(nodes=20))  # some 190 kB of gauges
    try:
        model = PrometheusFleet(server.url, timeout_s=5).refresh()
    finally:
        server.close()
    assert not model.errors and len(model.rows) == 20


def test_an_answer_past_its_limit_is_refused_as_one_line(raw, monkeypatch):
    monkeypatch.setattr("collectors.fleet.prom_client.MAX_ANSWER", 2**20)
    server = raw(_api({"up": _vector([UP] * 20_000)}))  # 1.2 MB
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    assert model.errors == [f"{server.address}/api/v1/query answered more than 1 MiB"] and not model.rows


def test_a_huge_label_is_cut_where_it_is_read(raw):
    huge = "[bold]x" * 20_000
    state = {"metric": {"instance": "gpu01:9400", "field": "workload", "exporter": "rigscope", "value": huge},
             "value": [1.0, "1"]}
    model_ = {"metric": {"instance": "gpu01:9400", "field": "model", "exporter": "dcgm", "gpu": "0", "value": huge},
              "value": [1.0, "1"]}
    server = raw(_api({"up": _vector([UP]), "gauges": _vector([POWER, state, model_])}))
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    (row,) = model.rows
    assert row["workload"] == huge[:199] + "…" and model.gpus["gpu01"]["0"]["model"] == huge[:199] + "…"
    done = fleet("--prometheus", f"http://{server.address}", "--once")
    assert done.returncode == 0 and len(done.stdout) < 2000  # 140 kB a row before


def test_the_fleet_s_mean_utilization_is_of_the_gpus_whose_utilization_is_known():
    a, b = NodeReading("a", up=True, exporters=("dcgm",)), NodeReading("b", up=True, exporters=("dcgm",))
    a.gpus = {"0": {"util": 0.9}, **{str(g): {"power": 300.0} for g in range(1, 8)}}  # 7 GPUs without a reading
    b.gpus = {"0": {"util": 0.1}}
    model = build([a, b], [], 0, 0.0, 0.0, 600.0)
    assert model.totals["util_mean"] == pytest.approx(0.5)  # 0.81 before: a's 0.9 counted for its 8 GPUs
    assert model.totals["gpus"] == 9


def test_a_targets_list_that_fails_leaves_the_queries_to_answer(raw):
    """The targets list is optional (intervals, why a target is down) and the slowest of the API on a big
    server: its failure is a line, the fleet is read all the same (the refresh gave up there before)."""
    def answer(path: str, headers: dict[str, str]) -> bytes:
        if "/targets" in path:
            return ok(b"<html>upstream timed out</html>")
        return _api({"up": _vector([UP]), "gauges": _vector([POWER])})(path, headers)

    server = raw(answer)
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    assert model.rows[0]["power"] == 300.0 and not model.rows[0]["stale"]
    assert model.errors == [f"{server.address}/api/v1/targets answered something that is not JSON"]


@pytest.mark.parametrize("status", [401, 503])
def test_a_server_that_refuses_or_is_unavailable_stops_at_the_targets_list(raw, status):
    server = raw(lambda path, headers: f"HTTP/1.1 {status} No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                 .encode())
    model = PrometheusFleet(f"http://{server.address}", timeout_s=3).refresh()
    assert len(server.seen) == 1 and len(model.errors) == 1 and not model.rows
