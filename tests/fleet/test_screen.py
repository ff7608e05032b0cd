"""The fleet screen under Pilot, on real clients against loopback servers: rows, sort, filter, Enter, errors."""

from __future__ import annotations

from collectors.fleet.http import Auth
from collectors.fleet.prom_client import PrometheusFleet
from collectors.fleet.scrape import ScrapeFleet
from tests.fleet.servers import FakeFleet, FakePrometheus, address
from tests.waiting import run, wait_until
from tui.fleet import FleetApp, FleetTable, next_delay
from tui.fleet_node import NodeScreen

SIZE = (170, 50)


def text_of(app: FleetApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def refreshed(pilot, app: FleetApp, since: int = 0) -> None:
    """Wait for a refresh after the `since`-th one."""
    await wait_until(pilot, lambda: app.fleet.refreshes > since, 15, "a refresh")
    await pilot.pause()


async def refresh_now(pilot, app: FleetApp) -> None:
    since = app.fleet.refreshes
    await pilot.press("r")
    await refreshed(pilot, app, since)


def test_rows_sort_filter_and_a_node_down_or_unknown(nodes_factory):
    server = nodes_factory(6)
    server.take_down(address(1))
    server.nodes[address(2)].pages[server.port] = "mysql_up 1\n"
    source = ScrapeFleet(server.targets(), timeout_s=1)

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=SIZE) as pilot:
            await refreshed(pilot, app)
            table = app.fleet.query_one(FleetTable)
            shown = text_of(app)
            assert "nodes 4 up / 2 down · 32 GPUs" in shown
            assert [r["node"] for r in table.rows] == [address(k) for k in range(6)]
            assert "STALE 127.0.0.3:" in shown and "cannot be reached" in shown  # node 1 down: a line of why
            assert "STALE unknown exporter: mysql_up" in shown
            down = next(line for line in shown.splitlines() if line.lstrip().startswith(address(1) + " "))
            assert "%" not in down and "W" not in down  # no numbers on a stale row
            await pilot.press("s")  # by GPU count, largest first: the stale rows (unknown) last
            assert table.sort_index == 1 and table.descending
            assert {r["node"] for r in table.rows[-2:]} == {address(1), address(2)}
            await pilot.press("i")
            assert {r["node"] for r in table.rows[:2]} == {address(1), address(2)}
            await pilot.press("slash", *"stale")
            assert {r["node"] for r in table.rows} == {address(1), address(2)}
            await pilot.press("enter")  # keeps the filter
            assert "filter “stale”" in text_of(app)
            await pilot.press("escape")
            assert len(table.rows) == 6
            server.take_down(address(0))  # a node goes down mid-run, another turns slow
            server.nodes[address(3)].delay_s = 5.0
            await refresh_now(pilot, app)
            shown = text_of(app)
            assert f"STALE {address(0)}:{server.port} down: cannot be reached" in shown
            assert f"STALE {address(3)}:{server.port} down: timed out after 1 s" in shown
            assert "nodes 2 up / 4 down · 16 GPUs" in shown
            assert {r["node"] for r in table.rows if not r["stale"]} == {address(4), address(5)}
        source.close()

    run(body)


def test_enter_opens_a_node_with_sparklines_from_query_range():
    prometheus = FakePrometheus(FakeFleet(nodes=4, stale={"gpu002"}))
    source = PrometheusFleet(prometheus.url, timeout_s=5)

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=SIZE) as pilot:
            await refreshed(pilot, app)
            assert "STALE no sample for 600 s (over 3 scrape intervals)" in text_of(app)
            await pilot.press("down", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen) and app.screen.history, 10,
                             "the node's history")
            await pilot.pause()
            shown = text_of(app)
            assert "gpu001" in shown and "dcgm" in shown
            lines = [line for line in shown.splitlines() if line.lstrip().startswith("GPU ")]
            assert len(lines) == 8 and "util   91%" in lines[0] and lines[0].rstrip().endswith("NVIDIA H100 80GB HBM3")
            assert "▁▁▂▂▃▄▅▆▆▇" in lines[0]  # the fake history: 0, 0.1 ... 0.9 repeated
            assert "/api/v1/query_range" in prometheus.requests
            await pilot.press("escape")
            assert app.screen is app.fleet

    try:
        run(body)
    finally:
        prometheus.close()


def test_503_turns_rows_stale_backs_off_and_recovers():
    prometheus = FakePrometheus(FakeFleet(nodes=3))
    source = PrometheusFleet(prometheus.url, timeout_s=5)

    async def body() -> None:
        app = FleetApp(source, refresh_s=5)
        async with app.run_test(size=SIZE) as pilot:
            await refreshed(pilot, app)
            prometheus.status = 503
            await refresh_now(pilot, app)
            shown = text_of(app)
            assert "is unavailable (503" in shown and "retrying in 10 s" in shown
            assert shown.count("503") == 1  # the server is down: one line, not one per query
            table = app.fleet.query_one(FleetTable)
            assert len(table.rows) == 3 and all(r["stale"] and r["util_mean"] is None for r in table.rows)
            assert "no answer since" in shown
            prometheus.status = 200
            await refresh_now(pilot, app)
            assert not any(r["stale"] for r in table.rows) and app.fleet.failures == 0
            assert "503" not in text_of(app)

    try:
        run(body)
    finally:
        prometheus.close()


def test_bad_credentials_are_a_line_and_the_screen_stays_up():
    prometheus = FakePrometheus(FakeFleet(nodes=2), token="right")
    source = PrometheusFleet(prometheus.url, Auth(bearer="wrong"), timeout_s=5)

    async def body() -> None:
        app = FleetApp(source, refresh_s=5)
        async with app.run_test(size=SIZE) as pilot:
            await refreshed(pilot, app)
            assert "refused the credentials (401" in text_of(app)
            assert app.fleet.failures == 1 and app.is_running

    try:
        run(body)
    finally:
        prometheus.close()


def test_backoff_doubles_and_is_capped():
    assert [next_delay(5, n) for n in range(6)] == [5, 10, 20, 40, 60, 60]
