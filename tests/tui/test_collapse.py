"""The dashboard reacting to a collapse of the simulated scenario (thermal throttling from t≈315 s)."""

from __future__ import annotations

import time

import pytest

from rigscope.app_factory import build_app
from tests.tui.conftest import panel_text, read_events, run, sim_source, wait_ended

# 340 s of the scenario end inside the collapse that starts at t≈317-319 s on every GPU.
SCENARIO = {"gpus": 2, "hz": 2.0, "duration_s": 340.0}


def test_collapse_is_marked_counted_and_listed(tmp_path):
    # A scaled clock (100x: 3.4 s) rather than virtual time, where the feed loses frames: see
    # test_virtual_time_feed_keeps_the_end below.
    source = sim_source(tmp_path, speed=100.0, **SCENARIO)
    try:
        async def body():
            app = build_app(source)
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_ended(pilot, source, timeout=60)
                assert not app.dashboard.compact
                for gpu in ("gpu0", "gpu1"):
                    text = panel_text(app, gpu)
                    assert "● COLLAPSE" in text and "collapses 1 (" in text, text
                assert "COLLAPSE" not in panel_text(app, "cpu") and "collapses 0 (" in panel_text(app, "cpu")
                events = app.query_one("#events").render().plain
                starts = [line for line in events.splitlines() if "collapse start:" in line]
                assert sorted(line.split("collapse start: ")[1].split()[0] for line in starts) == ["gpu0", "gpu1"]

                await pilot.resize_terminal(80, 24)  # one row per device, and its sparklines below
                await pilot.pause()
                assert app.dashboard.compact
                for gpu in ("gpu0", "gpu1"):
                    text = panel_text(app, gpu).splitlines()[0]
                    assert text.startswith(gpu.upper())
                    assert " C1/" in text and "●" in text.split(" C1/")[1], text  # the red mark while active
                assert " C0/" in panel_text(app, "cpu")
                await pilot.press("q")
        run(body)
    finally:
        if not source.closed:
            source.close()
    assert _recorded_starts(source.monitor.session) == ["gpu0", "gpu1"]  # what the screen said, the disk says


def _recorded_starts(session):
    return sorted(e["device"] for e in read_events(session) if e.get("kind") == "collapse_start")


def test_virtual_time_feed_keeps_the_end(tmp_path):
    """`speed=None` (`--speed max`): the dashboard shows the session's last frame and every collapse.

    In virtual time the sampler outruns any reader, so the feed's queue must be lossless there.
    """
    source = sim_source(tmp_path, speed=None, **SCENARIO)
    try:
        deadline = time.monotonic() + 30
        while not source.feed.ended and time.monotonic() < deadline:
            time.sleep(0.05)
        snapshot = source.feed.snapshot(120.0)
    finally:
        source.close()
    assert _recorded_starts(source.monitor.session) == ["gpu0", "gpu1"]  # the recording, lossless, has both
    assert snapshot.ended
    assert snapshot.frame["elapsed_s"] == pytest.approx(339.5)
    assert {device: count.events for device, count in snapshot.collapses.items()} == {"gpu0": 1, "gpu1": 1}
