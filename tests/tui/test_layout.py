"""Layout: full panels (one or two columns) when they fit, one row per device otherwise; any size survives."""

from __future__ import annotations

import random

import pytest

from rigscope.app_factory import build_app
from tests.tui.conftest import LiveApp, panels, run, screen_text, sim_source, wait_ended, wait_frames, wait_until
from tui.devices import GPM_LINES
from tui.sparkline import ASCII

SPARK_GLYPHS = set("▁▂▃▄▅▆▇█")


def _braille(text: str) -> set[str]:
    return {char for char in text if 0x2800 <= ord(char) <= 0x28FF}


def _ended_source(tmp_path, gpus):
    # Virtual time: the short session is over at once and the screen then stands still.
    return sim_source(tmp_path, gpus=gpus, hz=2.0, speed=None, duration_s=90.0)


def _placement_problems(app, all_visible=True) -> list[str]:
    """Panels never overlap and are as high as their text; when all should fit, they are inside the device
    area, packed one after the other in each column."""
    area = app.query_one("#devices").region
    found = list(panels(app).values())
    problems = []
    for panel in found:
        region, lines = panel.region, len(panel.render().plain.splitlines())
        if all_visible and not (app.screen.region.contains_region(region) and area.contains_region(region)):
            problems.append(f"{panel.id} at {region} is outside the device area {area}")
        if region.height != lines:
            problems.append(f"{panel.id} is {region.height} rows high for {lines} lines")
    for index, panel in enumerate(found):
        for other in found[index + 1:]:
            if panel.region.overlaps(other.region):
                problems.append(f"{panel.id} {panel.region} overlaps {other.id} {other.region}")
    for column in {panel.region.x for panel in found} if all_visible else ():
        stacked = sorted((p for p in found if p.region.x == column), key=lambda p: p.region.y)
        for upper, lower in zip(stacked, stacked[1:]):
            if lower.region.y != upper.region.bottom:
                problems.append(f"{lower.id} starts at row {lower.region.y}, {upper.id} ends at {upper.region.bottom}")
    return problems


def _layout(tmp_path, gpus, size, check, resize_first=False):
    source = _ended_source(tmp_path, gpus)
    try:
        async def body():
            app = build_app(source)
            async with app.run_test(size=size) as pilot:
                await wait_ended(pilot, source)
                if resize_first:  # a relayout at the same size
                    await pilot.resize_terminal(size[0] + 1, size[1])
                    await pilot.resize_terminal(*size)
                    await pilot.pause()
                check(app)
        run(body)
    finally:
        source.close()


def test_eight_gpus_at_160x50_full_panels_all_visible_after_a_relayout(tmp_path):
    def check(app):
        assert not app.dashboard.compact
        assert _placement_problems(app) == []
        shown = panels(app)
        # the simulated GPUs have GPM: every panel has the SM row's height (the CPU's a blank row)
        assert len(shown) == 9 and all(p.region.height == GPM_LINES for p in shown.values())
        assert len({p.region.x for p in shown.values()}) == 2  # two columns
    _layout(tmp_path, 8, (160, 50), check, resize_first=True)


@pytest.mark.parametrize(("gpus", "size", "resized"), [(8, (160, 50), None), (1, (40, 12), None),
                                                       (2, (100, 30), (40, 12))],
                         ids=["8gpus-160x50", "1gpu-40x12", "2gpus-100x30-to-40x12"])
def test_every_panel_visible_in_a_live_session(tmp_path, gpus, size, resized):
    async def body():
        async with LiveApp(tmp_path, gpus=gpus, size=size) as (pilot, app, source):
            await wait_frames(pilot, source, 3)
            if resized:
                await pilot.resize_terminal(*resized)
            for _ in range(2):  # two redraws from the timer, with newer frames
                drawn = app.dashboard._drawn_version
                await wait_until(pilot, lambda: app.dashboard._drawn_version > drawn, 5, "a redraw from the timer")
            await pilot.pause()
            assert app.size == (resized or size)
            assert _placement_problems(app) == []
    run(body)


@pytest.mark.parametrize(("gpus", "compact"), [(1, False), (8, True)], ids=["1gpu", "8gpus"])
def test_80x24(tmp_path, gpus, compact):
    def check(app):
        assert app.dashboard.compact is compact
        assert _placement_problems(app) == []
        heights = {p.region.height for p in panels(app).values()}
        if compact:  # one row per device, one column
            assert heights == {1} and len({p.region.x for p in panels(app).values()}) == 1
            rows = [line for line in screen_text(app).splitlines() if line.startswith((" CPU ", " GPU"))]
            assert [row.split()[0] for row in rows] == ["CPU", *(f"GPU{i}" for i in range(gpus))]
        else:  # cpu + one GPU (with GPM, so an SM row): two full panels fit in the rows left
            assert heights == {GPM_LINES}
    _layout(tmp_path, gpus, (80, 24), check)


def test_resize_storm_and_a_40x12_terminal(tmp_path):
    source = _ended_source(tmp_path, 8)
    rng = random.Random(20261123)
    sizes = [(rng.randint(40, 200), rng.randint(12, 60)) for _ in range(50)]
    try:
        async def body():
            app = build_app(source)
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_ended(pilot, source)
                for width, height in sizes:
                    await pilot.resize_terminal(width, height)
                await pilot.pause()
                assert app.size == sizes[-1]
                await pilot.resize_terminal(40, 12)
                await pilot.pause()
                app.dashboard.redraw(force=True)
                await pilot.pause()
                assert app.size == (40, 12) and app.dashboard.compact
                text = screen_text(app)
                assert "rigscope DEMO" in text and " CPU " in text
                assert _placement_problems(app, all_visible=False) == []
                await pilot.press("question_mark")  # still answers keys
                assert "rigscope keys" in screen_text(app)
                await pilot.press("escape")
                await pilot.resize_terminal(160, 50)
                await pilot.pause()
                assert _placement_problems(app) == []
        run(body)
    finally:
        source.close()


@pytest.mark.parametrize("size", [(160, 50), (80, 24)], ids=["full", "compact"])
def test_ascii_mode_draws_no_block_or_braille_glyphs(tmp_path, size):
    source = _ended_source(tmp_path, 2)
    try:
        async def body():
            app = build_app(source, ascii_only=True)
            async with app.run_test(size=size) as pilot:
                await wait_ended(pilot, source)
                shown = [p.render().plain for p in panels(app).values()]
                shown.append(app.query_one("#workload").render().plain)
                for text in shown:
                    assert not SPARK_GLYPHS & set(text) and not _braille(text), text
                assert set("".join(shown)) & set(ASCII.strip())  # the ASCII sparklines are there
                screen = screen_text(app)
                assert not SPARK_GLYPHS & set(screen) and not _braille(screen)
        run(body)
    finally:
        source.close()
