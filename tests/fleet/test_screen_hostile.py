"""The fleet screen where it is hard: an 80x24 terminal, a node whose text is huge, a Prometheus slower than
the keys, a node that goes down while it is open."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from collectors.fleet.prom_client import PrometheusFleet
from tests.fleet.servers import FakeFleet, FakePrometheus
from tests.fleet.test_screen import refresh_now, refreshed, text_of
from tests.waiting import run, wait_until
from tui.fleet import FleetApp, FleetTable
from tui.fleet_node import NodeScreen


def _rows(shown: str) -> list[str]:
    return [line for line in shown.splitlines() if line.lstrip().startswith("gpu0")]


def on_fleet(fleet: FakeFleet, size: tuple[int, int],
             drive: Callable[[Pilot[None], FleetApp, FakePrometheus], Awaitable[None]]) -> None:
    """`drive` the fleet screen of a fake Prometheus serving `fleet`, in a terminal of `size`; then close it."""
    prometheus = FakePrometheus(fleet)
    source = PrometheusFleet(prometheus.url, timeout_s=5)

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=size) as pilot:
            await drive(pilot, app, prometheus)

    try:
        run(body)
    finally:
        prometheus.close()


def test_an_80_column_terminal_shows_one_line_a_node_its_state_and_the_selected_one():
    async def drive(pilot: Pilot[None], app: FleetApp, prometheus: FakePrometheus) -> None:
        await refreshed(pilot, app)
        shown = text_of(app)
        assert "idle 39 · 4 requests" in shown  # the totals wrap, not cut
        header = next(line for line in shown.splitlines() if line.split()[:1] == ["NODE"])
        assert header.split()[-1] == "STATE" and "THROT" not in header  # the columns that fit
        rows = _rows(shown)
        first, last = (int(n) for n in shown.split(" · rows ")[1].split(" ")[0].split("-"))
        assert len(rows) == last - first + 1 > 10  # one line a node (two before: every row wrapped)
        assert [r.split()[0] for r in rows] == [f"gpu{k:03d}" for k in range(len(rows))]
        assert "STALE gpu001:9400…" in rows[1]  # cut to the line, not wrapped
        await pilot.press(*["down"] * 25)
        await pilot.pause()
        assert "gpu025" in [r.split()[0] for r in _rows(text_of(app))]  # the selected node is on screen
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert "THROT" in text_of(app) and len(_rows(text_of(app))) == 40

    on_fleet(FakeFleet(nodes=40, down={"gpu001"}), (80, 24), drive)


class Gated:
    """A source whose refreshes wait for `gate`, counting how many run at once."""

    def __init__(self, inner: PrometheusFleet) -> None:
        self.inner, self.gate, self.lock = inner, threading.Event(), threading.Lock()
        self.calls = self.running = self.most = 0

    def refresh(self) -> Any:
        with self.lock:
            self.calls, self.running = self.calls + 1, self.running + 1
            self.most = max(self.most, self.running)
        try:
            self.gate.wait(10)
            return self.inner.refresh()
        finally:
            with self.lock:
                self.running -= 1

    def history(self, node: str, width: int) -> dict[str, list[float | None]]:
        return self.inner.history(node, width)


def test_r_while_a_slow_refresh_is_under_way_starts_no_second_one():
    prometheus = FakePrometheus(FakeFleet(nodes=3))
    source = Gated(PrometheusFleet(prometheus.url, timeout_s=5))

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: source.running == 1, 10, "the first refresh")
            await pilot.press("r", "r", "r")
            await pilot.pause()
            assert source.calls == 1  # 4 before: each r a refresh in a thread of its own, all at once
            assert [n.message for n in app._notifications] == ["a refresh is under way"] * 3
            source.gate.set()
            await refreshed(pilot, app)
            assert app.fleet.refreshes == 1 and "nodes 3 up" in text_of(app)
            await refresh_now(pilot, app)  # once it is done, r refreshes again
            assert source.calls == 2 and source.most == 1

    try:
        run(body)
    finally:
        source.gate.set()
        prometheus.close()


def test_an_open_node_follows_the_refreshes_down_and_back():
    fleet = FakeFleet(nodes=3)
    async def drive(pilot: Pilot[None], app: FleetApp, prometheus: FakePrometheus) -> None:
        await refreshed(pilot, app)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen) and app.screen.history, 10, "the node")
        assert "util   91%" in text_of(app)
        fleet.down.add("gpu001")
        await refresh_now(pilot, app)  # `r` on the node as on the table
        await pilot.pause()
        shown = text_of(app)
        assert isinstance(app.screen, NodeScreen) and "STALE: gpu001:9400 down" in shown
        assert "91%" not in shown  # its readings of before are not shown as live (they stayed before)
        fleet.down.clear()
        prometheus.status = 503  # the source fails: every row stale, the open node too
        await refresh_now(pilot, app)
        await pilot.pause()
        assert "STALE: no answer since" in text_of(app) and "91%" not in text_of(app)
        prometheus.status = 200
        await refresh_now(pilot, app)
        await pilot.pause()
        assert "STALE" not in text_of(app) and "util   91%" in text_of(app)
        fleet.nodes = 1  # the node is gone from Prometheus' answer
        await refresh_now(pilot, app)
        await pilot.pause()
        assert "STALE: no longer in the source's answer" in text_of(app)

    on_fleet(fleet, (160, 50), drive)


def test_page_keys_home_and_end_cross_a_long_fleet():
    async def drive(pilot: Pilot[None], app: FleetApp, prometheus: FakePrometheus) -> None:
        await refreshed(pilot, app)
        table = app.fleet.query_one(FleetTable)
        shown = len(_rows(text_of(app)))
        await pilot.press("end")
        await pilot.pause()
        assert table.selected == "gpu299" and "gpu299" in text_of(app)  # 299 presses of ↓ before
        await pilot.press("home", "pagedown", "pagedown")
        assert table.selected == f"gpu{2 * shown:03d}"
        await pilot.press("pageup")
        await pilot.pause()
        assert table.selected == f"gpu{shown:03d}" and f"gpu{shown:03d}" in text_of(app)

    on_fleet(FakeFleet(nodes=300, gpus=1), (80, 24), drive)


def test_a_node_on_an_80_column_terminal_shows_one_line_a_gpu_ending_at_its_latest_step():
    async def drive(pilot: Pilot[None], app: FleetApp, prometheus: FakePrometheus) -> None:
        await refreshed(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen) and app.screen.history, 10, "the node")
        await pilot.pause()
        lines = [line for line in text_of(app).splitlines() if line.lstrip().startswith("GPU ")]
        assert len(lines) == 8 and "util   91%" in lines[0]  # 16 before: each GPU wrapped onto two lines
        assert lines[0].rstrip().endswith("▆▆▇▁▁▂▂▃▄▅▆▆▇")  # the latest steps (0 ... 0.9); no room for the model
        await pilot.resize_terminal(170, 40)
        await pilot.pause()
        wide = [line for line in text_of(app).splitlines() if line.lstrip().startswith("GPU ")]
        assert wide[0].rstrip().endswith("▆▆▇  NVIDIA H100 80GB HBM3")

    on_fleet(FakeFleet(nodes=2), (80, 24), drive)


class _Never:
    """A source whose refresh and history never answer until the test ends (a Prometheus that hangs)."""

    def __init__(self) -> None:
        self.gate, self.started = threading.Event(), threading.Event()

    def refresh(self) -> Any:
        self.started.set()
        self.gate.wait(60)
        raise RuntimeError("ended")

    def history(self, node: str, width: int) -> dict[str, list[float | None]]:
        self.gate.wait(60)
        return {}


def test_q_quits_at_once_while_a_request_hangs():
    source = _Never()

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, source.started.is_set, 10, "the refresh")
            await pilot.press("q")

    ended = threading.Thread(target=run, args=(body,), daemon=True)
    ended.start()
    ended.join(5)
    try:
        assert not ended.is_alive()  # the process waited for the hung refresh's thread (its whole --timeout, each)
    finally:
        source.gate.set()


def test_a_node_opened_while_the_source_fails_shows_no_old_readings():
    async def drive(pilot: Pilot[None], app: FleetApp, prometheus: FakePrometheus) -> None:
        await refreshed(pilot, app)
        prometheus.status = 503
        await refresh_now(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen), 10, "the node")
        await pilot.pause()
        shown = text_of(app)
        assert "STALE: no answer since" in shown and "91%" not in shown  # the last good refresh's, before

    on_fleet(FakeFleet(nodes=2), (160, 50), drive)
