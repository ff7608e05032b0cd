"""The live dashboard against hostile input: presets, process names, the kill key, typed notes and tags."""

from __future__ import annotations

from pathlib import Path

from rigscope.app_factory import build_app
from tests.tui.conftest import run, screen_text, sim_source, wait_until
from tui.screens import HelpScreen


def test_help_shows_presets_with_markup_as_typed(tmp_path: Path) -> None:
    """A preset `note:[/]` from the settings file once made `?` end the app with a MarkupError."""

    async def body() -> None:
        source = sim_source(tmp_path)
        app = build_app(source, presets={"1": ("note", "[/]"), "2": ("tag", "[/b]x")})
        try:
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.press("question_mark")
                await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
                await pilot.pause()
                assert app.is_running
                text = " ".join(screen_text(app).split())
                assert "note: 1 [/]" in text and "tag: 2 [/b]x" in text
        finally:
            source.close()

    run(body)
