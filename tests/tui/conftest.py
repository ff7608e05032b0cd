"""Helpers for the dashboard tests: build the app as users get it, wait without sleeping blindly, read the screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig
from tests.waiting import no_threads_left, run, wait_sync, wait_until  # noqa: F401 (fixtures and helpers the tests use)
from tui.app import RigscopeApp
from tui.devices import DevicePanel


def sim_source(directory: Path, gpus: int = 1, hz: float = 5.0, speed: float | None = 1.0,
               duration_s: float | None = 600.0, **config: Any) -> LiveSource:
    """The source `rigscope demo` builds: the simulated box, recording into `directory`."""
    return LiveSource(MonitorConfig(source="sim", gpus_sim=gpus, hz=hz, speed=speed, duration_s=duration_s,
                                    directory=str(directory), **config))


async def wait_ended(pilot: Any, source: LiveSource, timeout: float = 30.0) -> None:
    """A virtual-time session: wait until the feed saw its end, then draw what it holds."""
    await wait_until(pilot, lambda: source.feed.ended, timeout, "the end of the simulated session")
    pilot.app.dashboard.redraw(force=True)
    await pilot.pause()


async def wait_frames(pilot: Any, source: LiveSource, frames: int, timeout: float = 15.0) -> None:
    """Wait until the feed moved `frames` versions past where it is now."""
    start = source.feed.version
    await wait_until(pilot, lambda: source.feed.version >= start + frames, timeout, f"{frames} more frames")


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*("space" if char == " " else char for char in text))


def screen_text(app: RigscopeApp) -> str:
    """What the terminal shows right now, as plain text (modal screens included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def panels(app: RigscopeApp) -> dict[str, DevicePanel]:
    return {panel.device.prefix: panel for panel in app.query(DevicePanel)}


def panel_text(app: RigscopeApp, prefix: str) -> str:
    return panels(app)[prefix].render().plain


def bar_text(app: RigscopeApp, bar: str) -> str:
    return app.query_one(f"#{bar}").render().plain


def read_events(session: Path) -> list[dict[str, Any]]:
    path = session / "events.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass  # a line still being written
    return events


def read_meta(session: Path) -> dict[str, Any]:
    try:
        return json.loads((session / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


wait_file = wait_sync  # polls what another thread or process writes to disk


class LiveApp:
    """`async with LiveApp(tmp_path) as (pilot, app, source)`: a running real-time demo, always closed after."""

    def __init__(self, directory: Path, gpus: int = 1, size: tuple[int, int] = (160, 50),
                 sessions_dir: Path | None = None, **options: Any) -> None:
        self.source_options = {"gpus": gpus, **options}
        self.size = size
        self.directory = directory
        self.sessions_dir = sessions_dir  # what `o` opens

    async def __aenter__(self) -> tuple[Any, RigscopeApp, LiveSource]:
        self.source = sim_source(self.directory, **self.source_options)
        self.app = build_app(self.source, sessions_dir=self.sessions_dir)  # as the CLI builds it
        self._test = self.app.run_test(size=self.size)
        try:
            pilot = await self._test.__aenter__()
        except BaseException:
            self.source.close()
            raise
        return pilot, self.app, self.source

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._test.__aexit__(*exc)
        finally:
            if not self.source.closed:
                self.source.close()
