"""A device without RLE (no power reading: a CPU without RAPL access) looks for no collapse: its count is unknown."""

from __future__ import annotations

from tests.tui.conftest import panel_text, run, screen_text
from tests.tui.fed_dashboard import drawn_steady, frame


def test_no_rle_shows_no_collapse_count():
    async def body():
        for size in ((160, 50), (80, 24)):
            async with drawn_steady(size) as (source, dashboard, pilot):
                source.feed.add({**frame(200), "gpu0_rle_smoothed": 0.8})  # gpu0 has an RLE, the others none
                dashboard.redraw(force=True)
                await pilot.pause()
                app = dashboard.app
                if size == (160, 50):
                    assert "collapses — (no RLE)" in panel_text(app, "cpu")
                    assert "collapses 0 (0 s)" in panel_text(app, "gpu0") and "collapses 0" not in panel_text(app, "gpu1")
                else:
                    assert dashboard.compact
                    assert " C—" in panel_text(app, "gpu1") and " C0/0s" in panel_text(app, "gpu0")
                    source.process_control = None  # type: ignore[attr-defined]  # the help asks whether k acts
                    await pilot.press("question_mark", "end")  # the help says what the dash means
                    await pilot.pause()
                    assert "`C—`: no RLE, so none is looked for" in " ".join(screen_text(app).split())
    run(body)
