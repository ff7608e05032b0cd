"""Draw only what changed: a redraw in which two GPUs' utilization moved repaints those two rows, not the screen."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.tui.fed_dashboard import drawn_steady, frame
from tests.waiting import run
from tui.strips import StripText


def count_calls(monkeypatch: Any, cls: type, method: str) -> Counter[str]:
    """Calls of `cls.method` from now on, by widget id (or class name)."""
    calls: Counter[str] = Counter()
    original = getattr(cls, method)

    def counting(self: Any, *args: Any) -> Any:
        calls[self.id or type(self).__name__] += 1
        return original(self, *args)

    monkeypatch.setattr(cls, method, counting)
    return calls


def test_a_redraw_with_two_changed_sparklines_repaints_two_rows_and_asks_no_other_widget(monkeypatch):
    """Only the changed rows are painted; and Textual's compositor, which would render whole every widget whose
    container meets the update (the bars, the footer, the side column, the containers under the panels), asks
    only those that show inside it."""
    from textual.widget import Widget

    painted = count_calls(monkeypatch, StripText, "render_line")
    asked = count_calls(monkeypatch, Widget, "render_lines")
    asked_lines = count_calls(monkeypatch, StripText, "render_lines")  # line widgets finish their own lines

    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            screen.redraw(force=True)  # nothing changed: nothing is repainted
            await pilot.pause()
            painted.clear()
            screen.redraw(force=True)
            await pilot.pause()
            assert sum(painted.values()) == 0, painted

            asked.clear(), asked_lines.clear()
            source.feed.add(frame(199, {0: 90.0, 2: 10.0}))  # gpu0 and gpu2 moved, within the same second
            screen.redraw()
            await pilot.pause()
            asked.update(asked_lines)
            assert painted == {"panel-gpu0": 1, "panel-gpu2": 1}, painted  # one row each: util's sparkline
            assert {"panel-gpu0", "panel-gpu2"} <= set(asked)
            assert not {"header", "workload", "host", "side", "events", "Footer"} & set(asked), asked
            assert not {"main", "devices", "DashboardScreen"} & set(asked), asked  # the panels cover them there

    run(body)


def test_rows_whose_inputs_are_unchanged_are_not_laid_out_again_and_a_redraw_queries_and_relays_nothing(monkeypatch):
    from textual.dom import DOMNode
    from textual.screen import Screen

    import tui.devices as devices

    built: Counter[str] = Counter()
    series_row, title_row, status = devices.series_row, devices.title_row, devices.DevicePanel._status

    def counting_series(label: str, *args: Any) -> Any:
        built[label] += 1
        return series_row(label, *args)

    monkeypatch.setattr(devices, "series_row", counting_series)
    monkeypatch.setattr(devices, "title_row", lambda *a: (built.update(["title"]), title_row(*a))[1])
    import tui.dashboard as dashboard

    host_text = dashboard.host_text
    monkeypatch.setattr(dashboard, "host_text", lambda *a: (built.update(["host"]), host_text(*a))[1])
    monkeypatch.setattr(devices.DevicePanel, "_status", lambda self, *a: (built.update(["status"]), status(self, *a))[1])
    queries: Counter[str] = Counter()
    query, query_one = DOMNode.query, DOMNode.query_one
    monkeypatch.setattr(DOMNode, "query", lambda self, *a: (queries.update(["query"]), query(self, *a))[1])
    monkeypatch.setattr(DOMNode, "query_one", lambda self, *a: (queries.update(["query_one"]), query_one(self, *a))[1])
    layouts: Counter[str] = Counter()
    refresh_layout = Screen._refresh_layout
    monkeypatch.setattr(Screen, "_refresh_layout",
                        lambda self, *a, **k: (layouts.update(["layout"]), refresh_layout(self, *a, **k))[1])

    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            built.clear(), queries.clear(), layouts.clear()

            source.feed.add(frame(199))  # a new version, the same readings: no row is built again
            screen.redraw()
            await pilot.pause()
            assert screen._drawn_version == source.feed.version
            assert built == {}, built

            source.feed.add({**frame(199), "gpu1_clock_sm_mhz": 1410.2})  # a clock: the title row only
            screen.redraw()
            await pilot.pause()
            assert built == {"title": 1}, built
            source.feed.add({**frame(199), "gpu1_clock_sm_mhz": 1409.8})  # shown as 1410 MHz again: nothing
            screen.redraw()
            await pilot.pause()
            assert built == {"title": 1}, built
            assert "SM 1410 MHz" in screen.query_one("#panel-gpu1").render().plain
            source.feed.add(frame(199))  # no clock reading again
            screen.redraw()
            await pilot.pause()
            built.clear(), queries.clear()

            source.feed.add(frame(199, {0: 90.0, 2: 10.0}))  # two GPUs' utilization: those two rows only
            screen.redraw()
            await pilot.pause()
            assert built == {"util": 2}, built
            assert queries == {} and layouts == {}, (queries, layouts)  # widgets known, sizes unchanged

            built.clear()
            source.feed.add({**frame(199, {0: 90.0, 2: 10.0}), "mem_util_pct": 31.0})  # the host tier moved
            screen.redraw()
            await pilot.pause()
            assert built["host"] == 1, built  # once (the CPU panel shows mem_util_pct too)
            assert "31%" in screen.drawn.host.render().plain

    run(body)


def chops_text(chops: Any) -> list[list[tuple[int, list[tuple[str, Any]] | None]]]:
    """Each row's pieces by cut, as (text, style) segments; None where the row was not updated."""
    return [[(cut, None if strip is None else [(segment.text, segment.style) for segment in strip])
             for cut, strip in line.items()] for line in chops]


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
def test_the_lean_compositor_fills_every_updated_row_as_textuals_does(size):
    """It asks fewer widgets for fewer rows, and the screen it makes is Textual's, cell for cell and style for style:
    a whole screen, and updates of scattered rows, on the panels and on the processes view."""
    from textual._compositor import Compositor
    from textual.geometry import Region

    from tui.lean_compositor import LeanCompositor

    async def body() -> None:
        async with drawn_steady(size) as (source, screen, pilot):
            compositor = screen._compositor
            assert isinstance(compositor, LeanCompositor)
            width, height = size
            updates = [set(range(height)), {3}, {2, 9, height - 3}, set(range(1, height, 2))]
            for view in ("panels", "processes"):
                source.feed.add(frame(199, {1: 80.0}))
                screen.redraw()
                for rows in updates:
                    crop = Region(0, min(rows), width, max(rows) - min(rows) + 1)
                    ours = compositor._render_chops(crop, rows.__contains__)
                    textuals = Compositor._render_chops(compositor, crop, rows.__contains__)
                    assert chops_text(ours) == chops_text(textuals), (view, sorted(rows))
                    assert all(line[cut] is not None for y in rows for line in [ours[y]] for cut in line)
                await pilot.press("p")
                await pilot.pause()

    run(body)


IDLE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)")


def without_idle_moves(written: str) -> str:
    """Terminal output less the cursor moves that write nothing (Textual moves to a piece that starts where an
    updated span ends, and writes none of it)."""
    return IDLE_MOVE.sub("", written)


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
def test_a_partial_update_writes_what_textuals_writes(size):
    """What reaches the terminal for updated regions (a panel row, part of the side column, both, scattered
    rows, the whole screen) is Textual's byte for byte, though fewer widgets were asked."""
    from textual._compositor import Compositor
    from textual.geometry import Region

    async def body() -> None:
        async with drawn_steady(size) as (source, screen, pilot):
            compositor, console = screen._compositor, pilot.app.console
            width, height = size
            panel = screen.query_one("#panel-gpu1").region
            side = screen.query_one("#events").region
            cases = [{Region(panel.x, panel.y + 1, panel.width, 1)}, {Region(side.x, side.y + 1, side.width, 3)},
                     {Region(panel.x, panel.y + 2, panel.width, 1), Region(side.x + 2, side.y, 5, 2)},
                     {Region(0, y, width, 1) for y in range(0, height, 3)}, {Region(0, 0, width, height)}]
            for regions in cases:
                written = []
                for render in (type(compositor).render_partial_update, Compositor.render_partial_update):
                    compositor._dirty_regions.update(regions)
                    update = render(compositor)
                    written.append(without_idle_moves(update.render_segments(console)))
                assert written[0] == written[1], sorted(regions)

    run(body)
