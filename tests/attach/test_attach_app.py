"""The dashboard attached to a running recorder (Pilot): live values, notes into the recorder's session,
`q` detaches while the recording goes on, two viewers at once, the recorder ending under a viewer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from collectors.phased_clock import PhasedClock
from rigscope.attach_source import AttachSource
from rigscope.monitor import Monitor, MonitorConfig
from tests.tui.conftest import bar_text, panel_text, read_events, screen_text, type_text
from tests.waiting import run, wait_sync, wait_until
from tui.attach_app import AttachApp
from tui.replay_screen import ReplayScreen
from tui.replay_source import SessionDirectory
from tui.screens import ConfirmScreen


@pytest.fixture
def recorder(tmp_path: Path):
    """A recording monitor publishing its stream, as `rigscope record --source sim --gpus-sim 2` runs it."""
    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=2, hz=10.0, duration_s=600.0, directory=str(tmp_path),
                                    attach=True))
    monitor.start()
    yield monitor
    state = monitor.recording_state()
    if state is not None and not state.closed:  # not stopped by the test itself
        monitor.request_stop()
        monitor.stop()


def attached(monitor: Monitor, **options: Any) -> tuple[AttachApp, AttachSource]:
    source = AttachSource(monitor.attach.path, **options)
    app = AttachApp(source, sessions=SessionDirectory(monitor.session.parent))
    return app, source


def test_attach_shows_live_values_and_notes_land_in_the_recorders_session(recorder: Monitor) -> None:
    app, source = attached(recorder)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: "ATTACHED" in bar_text(app, "header"), what="the ATTACHED header")
            await wait_until(pilot, lambda: recorder.session.name in bar_text(app, "header"), what="the session id")
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live GPU power")
            samples = recorder.stats.samples
            await wait_until(pilot, lambda: source.feed.snapshot(0, ()).frame.get("elapsed_s", 0) * 10 > samples,
                             what="frames sampled after attaching")
            await pilot.press("n")
            await type_text(pilot, "from the viewer")
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(e.get("text") == "from the viewer" for e in read_events(recorder.session)),
                             what="the note in the recorder's events.jsonl")
            await pilot.press("q")
        assert not recorder.sampling_ended  # detached: the recording goes on
        wait_sync(lambda: recorder.attach.stats()["viewers"] == 0, what="the viewer gone from the recorder")

    run(body)
    assert source.close().endswith("the recorder goes on")
    before = recorder.stats.samples
    wait_sync(lambda: recorder.stats.samples > before + 2, what="sampling after the viewer left")


def test_two_viewers_at_once(recorder: Monitor) -> None:
    first, second = AttachSource(recorder.attach.path), AttachSource(recorder.attach.path)
    try:
        wait_sync(lambda: recorder.attach.stats()["viewers"] == 2, what="two viewers")
        start = recorder.stats.samples
        wait_sync(lambda: all(s.feed.snapshot(0, ()).frame.get("elapsed_s", 0) * 10 >= start + 5 for s in (first, second)),
                  what="both see new frames")
        second.post("note", second.now_iso(), text="second viewer", source="keyboard")
        wait_sync(lambda: any(e.get("text") == "second viewer" for e in first.feed.snapshot(0, ()).events),
                  what="the first viewer sees the second's note come back in the stream")
    finally:
        first.close()
        second.close()


def test_the_viewer_says_when_the_recorder_stops_and_offers_the_replay(recorder: Monitor) -> None:
    app, source = attached(recorder)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            await asyncio.to_thread(recorder.stop)  # as `record` ends at Ctrl-C: the session is closed
            await wait_until(pilot, lambda: source.gone == "stopped", what="the viewer told of the end")
            await wait_until(pilot, lambda: "Open " in screen_text(app) and "in replay" in screen_text(app),
                             what="the offer to replay")
            assert app.is_running
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), timeout=20, what="the replay")
            await pilot.press("q")
            await pilot.press("q")

    run(body)
    assert source.close().endswith("has stopped")


def test_read_only_viewer_cannot_stop_the_recording(recorder: Monitor) -> None:
    app, source = attached(recorder, readonly=True)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            await pilot.press("r")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmScreen)
            assert any("read-only" in note.message for note in app._notifications)
            await pilot.press("q")

    run(body)
    source.close()
    assert not recorder.sampling_ended


def test_a_viewer_starts_with_the_history_from_the_sessions_files(tmp_path: Path) -> None:
    """A recorder with 3 simulated minutes behind it (virtual time, then live): the viewer's window holds them."""
    clock = PhasedClock(None, 180.0)
    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=1, hz=10.0, speed=None, duration_s=600.0,
                                    directory=str(tmp_path), attach=True), clock=clock)
    monitor.start()
    monitor.post("note", text="before anyone looked", source="cli")
    clock.go_fast(180.0)
    try:
        wait_sync(clock.reached.is_set, 60, "the simulated minutes")
        clock.go_real()
        went_real = time.time()
        wait_sync(lambda: len(list((monitor.session / "samples").glob("part-*"))) >= 3, 30, "the parts on disk")
        # the fast minutes are written at the writer's next flush (real time): the history is read from the files
        wait_sync(lambda: (monitor.recording_state().last_flush_wall or 0.0) > went_real, 30, "a flush since")
        source = AttachSource(monitor.attach.path)
        wait_sync(lambda: source.first_frame_at is not None, 10, "the first frame")
        raw = source.feed.snapshot(30.0, ["gpu0_util_pct"]).series["gpu0_util_pct"]
        means = source.feed.snapshot(600.0, ["gpu0_util_pct"]).series["gpu0_util_pct"]
        events = source.feed.snapshot(0, ()).events
        source.close()
        assert [e["text"] for e in events if e["kind"] == "note"] == ["before anyone looked"]
        assert len(raw) == 300  # 30 s at 10 Hz, from the files
        # a mean a second over the three minutes; a loaded machine may leave the last seconds before the
        # first live frame to the writer's next flush
        assert len(means) >= 150
    finally:
        monitor.request_stop()
        monitor.stop()


def test_the_spans_pane_shows_the_recorders_spans(recorder: Monitor) -> None:
    app, source = attached(recorder)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            recorder.post("span_start", span_id="a1", name="synthesis")
            recorder.post("span_end", span_id="a1", name="synthesis", success=True)
            await wait_until(pilot, lambda: source.feed.snapshot(0, ()).spans.summary.get("total") == 1,
                             what="the finished span in the viewer's feed")
            await wait_until(pilot, lambda: "synthesis" in screen_text(app), what="the span in the pane")
            await pilot.press("q")

    run(body)
    source.close()


def test_spans_ended_before_attaching_come_from_the_journal_once(recorder: Monitor) -> None:
    """Spans the recorder finished before the viewer came are counted from its journal, each once, although the
    last of them can also reach the viewer on the stream; a span after attaching adds one."""
    for k in range(3):
        recorder.post("span_start", span_id=f"b{k}", name="synthesis")
        recorder.post("span_end", span_id=f"b{k}", name="synthesis", success=True)
    journal = recorder.recording_state().session / "spans.journal"
    wait_sync(lambda: journal.exists() and journal.read_text().count("\n") == 3, 20, "the spans journaled")
    source = AttachSource(recorder.attach.path)
    try:
        wait_sync(lambda: source.feed.snapshot(0, ()).spans.summary.get("total") == 3, 10, "the journal's spans")
        recorder.post("span_start", span_id="b3", name="synthesis")
        recorder.post("span_end", span_id="b3", name="synthesis", success=True)
        wait_sync(lambda: source.feed.snapshot(0, ()).spans.summary.get("total") == 4, 10, "the live span")
        assert source.feed.snapshot(0, ()).spans.summary.get("total") == 4
    finally:
        source.close()


def test_a_preset_tag_steers_the_recorders_workload_state(recorder: Monitor) -> None:
    app, source = attached(recorder)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            await pilot.press("2")  # the default preset: tag train
            await wait_until(pilot, lambda: recorder.workload_state() == ("train", "tag"), what="the recorder tagged")
            await pilot.press("q")

    run(body)
    source.close()
