"""The fleet screen where it is hard: an 80x24 terminal, a node whose text is huge, a Prometheus slower than
the keys, a node that goes down while it is open."""

from __future__ import annotations

from collectors.fleet.prom_client import PrometheusFleet
from tests.fleet.servers import FakeFleet, FakePrometheus
from tests.fleet.test_screen import refreshed, text_of
from tests.waiting import run
from tui.fleet import FleetApp


def _rows(shown: str) -> list[str]:
    return [line for line in shown.splitlines() if line.lstrip().startswith("gpu0")]


def test_an_80_column_terminal_shows_one_line_a_node_its_state_and_the_selected_one():
    prometheus = FakePrometheus(FakeFleet(nodes=40, down={"gpu001"}))
    source = PrometheusFleet(prometheus.url, timeout_s=5)

    async def body() -> None:
        app = FleetApp(source, refresh_s=30)
        async with app.run_test(size=(80, 24)) as pilot:
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

    try:
        run(body)
    finally:
        prometheus.close()
