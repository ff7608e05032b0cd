"""The processes view: toggled with p, sorted with s/i, filtered by typing after /, k ends a process after a dialog."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.nvml import GpuProcess
from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig
from tests.replay.conftest import Notes
from tests.tui.conftest import LiveApp, run, screen_text, type_text, wait_until
from tui.app import RigscopeApp
from tui.kill import KillScreen
from tui.processes import COLUMNS, ProcessesPane
from tui.screens import HelpScreen


def pane(app: RigscopeApp) -> ProcessesPane:
    return app.query_one(ProcessesPane)


def test_p_shows_the_simulated_processes_sorted_and_filtered_by_typing(tmp_path: Path) -> None:
    async def body() -> None:
        async with LiveApp(tmp_path, gpus=2, proc_interval_s=0.5) as (pilot, app, source):
            await pilot.press("p")
            assert app.dashboard.showing_processes and not app.query_one("#devices").display
            await wait_until(pilot, lambda: len(pane(app).rows) == 4, what="two ranks, a notebook, a hidden pid")
            text = screen_text(app)
            assert "SIMULATED" in text and "not visible from this namespace" in text
            assert "python train.py" in text and "GPU MEM" in text and "CONTAINER" in text
            mems = [r["gpu_mem_bytes"] for r in pane(app).rows]
            assert mems == sorted(mems, reverse=True)  # largest GPU memory first
            await pilot.press("k")  # a simulated pid: refused, no dialog
            assert not isinstance(app.screen, KillScreen)
            await pilot.press("s", "s", "s")  # GPU MEM -> SM% -> CPU% -> RSS
            assert "sort RSS ↓" in screen_text(app)
            rss = [r["rss_bytes"] or 0 for r in pane(app).rows]
            assert rss == sorted(rss, reverse=True)
            await pilot.press("i")
            rss = [r["rss_bytes"] or 0 for r in pane(app).rows]
            assert rss == sorted(rss) and "sort RSS ↑" in screen_text(app)
            opened: list[bool] = []
            app.open_session_picker = lambda: opened.append(True)  # type: ignore[method-assign]
            await pilot.press("o")  # still the dashboard's "open a session", not the order
            assert opened == [True] and pane(app).descending is False
            await pilot.press("slash")
            await type_text(pilot, "jupyter")
            await pilot.pause()
            assert [r["command"] for r in pane(app).rows] == ["python -m jupyter lab --no-browser"]
            assert "1/4 shown" in screen_text(app)
            await pilot.press("enter")
            assert pane(app).has_focus and pane(app).needle == "jupyter"
            await pilot.press("slash")
            await type_text(pilot, "x")
            await pilot.press("escape")  # clears the filter
            assert pane(app).needle == "" and len(pane(app).rows) == 4 and pane(app).has_focus
            refreshed: list[tuple] = []
            original = pane(app).refresh
            pane(app).refresh = lambda *regions, **kw: (refreshed.append(regions), original(*regions, **kw))[1]
            pane(app).set_filter("train")  # 4 rows -> 2: the lines below the new end must be redrawn too
            assert len(pane(app).rows) == 2 and refreshed == [()]
            pane(app).set_filter("")
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause()
            help_lines = [" ".join(line.split()) for line in screen_text(app).splitlines()]
            assert any("/ Filter (processes view)" in line for line in help_lines)
            assert any("k Kill (processes view)" in line for line in help_lines)
            assert any("p Processes" in line for line in help_lines)
            await pilot.press("escape", "p")
            assert not app.dashboard.showing_processes and app.query_one("#devices").display

    run(body)


def child_source(child_pid: int) -> LiveSource:
    """This machine's source, its NVML faked to list the test's child process (and a hidden pid) on GPU 0."""
    backend = FakeNvml([FakeGpu(processes=[GpuProcess(child_pid, "compute", 2 << 30),
                                           GpuProcess(99_999_999, "compute", 1 << 30)])])
    return LiveSource(MonitorConfig(source="system", hz=5.0, record=False, receive_events=False,
                                    proc_interval_s=0.5), nvml_backend=backend)

@contextlib.asynccontextmanager
async def processes_view(child_pid: int, size: tuple[int, int] = (160, 50),
                         **options: Any) -> AsyncIterator[tuple[Pilot[None], RigscopeApp, LiveSource]]:
    """The dashboard (`build_app(source, **options)`) on `child_source(child_pid)`, its processes view shown (`p`);
    the source closed after."""
    source = child_source(child_pid)
    app = build_app(source, **options)
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.press("p")
            yield pilot, app, source
    finally:
        if not source.closed:
            source.close()



@pytest.fixture
def child() -> Iterator[subprocess.Popen]:
    """A process of this test's own user to end (or keep)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_k_asks_then_sends_sigterm_to_the_selected_child(child: subprocess.Popen) -> None:

    async def body() -> None:
        async with processes_view(child.pid) as (pilot, app, _):
            await wait_until(pilot, lambda: {r["pid"] for r in pane(app).rows} == {child.pid, 99_999_999})
            assert pane(app).selected["pid"] == child.pid  # the most GPU memory: first, selected
            await pilot.press("k")
            assert isinstance(app.screen, KillScreen)
            assert f"SIGTERM to pid {child.pid}" in screen_text(app)
            await pilot.press("n")  # keeps it
            assert not isinstance(app.screen, KillScreen) and child.poll() is None
            await pilot.press("down")  # the hidden pid: no dialog
            await pilot.press("k")
            assert not isinstance(app.screen, KillScreen)
            await pilot.press("up", "k", "y")
            await wait_until(pilot, lambda: child.poll() is not None, what="the child to end")
            assert child.returncode == -15

    run(body)


def test_k_acts_through_the_sources_process_control_only(child: subprocess.Popen) -> None:
    """The screen holds no way to end a process: the live source lends one; without it (a replay) k refuses."""
    asked: list[tuple[int, str | None]] = []

    class Recording:
        def terminate(self, pid: int, user: str | None, listed_at: float | None = None) -> str:
            asked.append((pid, user))
            return f"pretended to end {pid}"

    async def body() -> None:
        source = child_source(child.pid)
        source.process_control = Recording()  # type: ignore[assignment]  # a stand-in that records the request
        app = build_app(source)
        notes = Notes(app)  # type: ignore[arg-type]
        try:
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.press("p")
                await wait_until(pilot, lambda: any(r["pid"] == child.pid for r in pane(app).rows))
                await pilot.press("k", "y")
                await wait_until(pilot, lambda: asked, what="the request")
                assert asked[0][0] == child.pid and child.poll() is None
                source.process_control = None  # type: ignore[assignment]  # as a replay's source
                await pilot.press("k")
                assert not isinstance(app.screen, KillScreen)
                assert any("nothing to end" in m for m, _ in notes.seen)
        finally:
            if not source.closed:
                source.close()

    run(body)


def test_readonly_never_opens_the_dialog(child: subprocess.Popen) -> None:

    async def body() -> None:
        source = child_source(child.pid)
        app = build_app(source, readonly=True)
        notes = Notes(app)  # type: ignore[arg-type]
        try:
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.press("p")
                await wait_until(pilot, lambda: any(r["pid"] == child.pid for r in pane(app).rows))
                await pilot.pause()
                footer = screen_text(app).splitlines()[-1]
                assert "Help" in footer and "Kill" not in footer  # not offered where it can end nothing
                await pilot.press("k")
                assert not isinstance(app.screen, KillScreen) and child.poll() is None
                assert any("read-only (--readonly): k is off" in m for m, _ in notes.seen)  # and said why
        finally:
            if not source.closed:
                source.close()

    run(body)


def test_terminate_refuses_a_reused_pid_and_others_processes_unless_root(monkeypatch) -> None:
    import psutil

    from collectors import processes

    assert "now belongs to" in processes.terminate(os.getpid(), "someone-else")
    assert "already ended" in processes.terminate(99_999_999, None)
    me = psutil.Process().username()
    monkeypatch.setattr(processes.os, "geteuid", lambda: 4321)  # as if not root, and not the owner
    monkeypatch.setattr(processes.os, "getuid", lambda: 4321)
    assert "only your own processes" in processes.terminate(os.getpid(), me)


def test_at_80x24_the_command_keeps_its_room_and_the_list_scrolls_with_the_selection(tmp_path: Path) -> None:
    async def body() -> None:
        async with LiveApp(tmp_path, gpus=16, size=(80, 24), proc_interval_s=0.5) as (pilot, app, source):
            await pilot.press("p")
            await wait_until(pilot, lambda: len(pane(app).rows) == 18, what="16 ranks, a notebook, a hidden pid")
            text = screen_text(app)
            assert "CONTAINER" not in text and "COMMAND" in text and "python train.py --config" in text
            fits = pane(app).content_region.height - 2
            assert f"18/18 shown · rows 1-{fits} (↑/↓)" in text
            await pilot.press(*["s"] * 6)  # by pid: an order the next ticks keep
            assert (COLUMNS[pane(app).sort_index][0], pane(app).descending) == ("PID", False)
            await pilot.press(*["down"] * 17)
            last = pane(app).rows[-1]
            assert pane(app).selected == last
            text = screen_text(app)
            assert f" {last['pid']} " in text and f"rows {18 - fits + 1}-18 (↑/↓)" in text

    run(body)
