"""A process list that stopped coming (a process tier held up by a hung NVML call) says how old it is, instead of
passing for the processes running now."""

from __future__ import annotations

from textual.app import App, ComposeResult

from collectors.process_rows import ProcessSnapshot
from tests.waiting import run
from tui.processes import STALE_S, ProcessesPane

LISTED_US = 1_800_000_000_000_000
ROW = {"pid": 4242, "user": "me", "gpu": 0, "gpu_mem_bytes": 2**30, "command": "python train.py", "visible": True}


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ProcessesPane()


def _heading(app: PaneApp) -> str:
    return app.query_one(ProcessesPane).render().plain.splitlines()[0]


def test_a_list_older_than_the_stale_limit_says_its_age_and_a_fresh_one_does_not():
    async def body() -> None:
        app = PaneApp()
        async with app.run_test(size=(120, 20)) as pilot:
            pane = app.query_one(ProcessesPane)
            snapshot = ProcessSnapshot(1, LISTED_US, (ROW,))
            pane.show(snapshot, now_us=LISTED_US + 2_000_000)
            await pilot.pause()
            assert "ago" not in _heading(app) and "python train.py" in pane.render().plain
            pane.show(snapshot, now_us=LISTED_US + (STALE_S + 20) * 1_000_000)  # the same list, 30 s on
            await pilot.pause()
            assert f"listed {STALE_S + 20} s ago" in _heading(app)
            pane.show(ProcessSnapshot(2, LISTED_US + 31_000_000, (ROW,)), now_us=LISTED_US + 31_500_000)
            await pilot.pause()
            assert "ago" not in _heading(app)  # a new list came

    run(body)


def test_the_dashboard_says_the_age_of_a_list_held_up_by_a_hung_call(tmp_path, monkeypatch):
    from rigscope import monitor as monitor_module
    from rigscope.app_factory import build_app
    from rigscope.live import LiveSource
    from rigscope.monitor import MonitorConfig
    from tests.collectors.test_process_tier_hang import HangingProcesses
    from tests.tui.conftest import screen_text, wait_until
    from tui import processes

    monkeypatch.setattr(processes, "STALE_S", 2)
    monkeypatch.setattr(monitor_module, "CONSUMERS_STOP_WAIT_S", 0.2)
    nvml = HangingProcesses()
    source = LiveSource(MonitorConfig(source="system", hz=5.0, directory=str(tmp_path), receive_events=False,
                                      proc_interval_s=0.2), nvml_backend=nvml)
    app = build_app(source)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("p")
            await wait_until(pilot, nvml.listing.is_set, 20, "the process tier inside a list that hangs")
            await wait_until(pilot, lambda: " s ago" in screen_text(app), 20, "the list's age on screen")

    try:
        run(body)
    finally:
        nvml.release.set()
        if not source.closed:
            source.close()
