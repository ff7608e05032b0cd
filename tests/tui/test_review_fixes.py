"""What a review of the dashboard found: thread rows on every details page, `None` in a replay's header, jumps
to where a collapse was detected rather than where it began, the replay picker exiting on a damaged session,
keys and values cut mid-word at 80 columns, and a recording toggle wiping the screen's history."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from recordings.replay import check_session
from tests.replay.conftest import ReplayHarness, notifications, record_sim, wait_at
from tests.tui.conftest import LiveApp, bar_text, run, screen_text, wait_frames, wait_until
from tests.tui.fed_dashboard import drawn_steady, frame
from tui.bars import SessionLabel, header_text, host_text
from tui.feed import Snapshot
from tui.picker import COLUMNS, PickerApp, PickerScreen
from tui.replay_source import ReplaySource, SessionDirectory
from tui.screens import DeviceScreen


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-minute, 2 Hz, 2-GPU simulated session: one collapse per GPU (read-only: copy it to write)."""
    return record_sim(tmp_path_factory.mktemp("recorded"))


def copy_session(recorded: Path, root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(recorded, target)
    return target


def detail_text(screen: DeviceScreen) -> str:
    """The details table of the page shown, as text (the modal scrolls: the screen shows only its top)."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(screen.query_one("#device-detail", Static).content)
    return out.getvalue()


# -- 1: the thread rows belong to the `self` page ----------------------------------------------------------
def test_details_show_rigscopes_own_threads_on_the_self_page_only():
    async def body():
        async with drawn_steady() as (source, _, pilot):
            source.feed.add({**frame(200), "self_threads": "main=4.1 sampler=0.8", "self_cpu_pct": 4.9})
            await pilot.press("d")
            details = pilot.app.screen
            assert isinstance(details, DeviceScreen)
            seen = []
            for _ in details.prefixes:
                page = details.prefixes[details.index]
                text = detail_text(details)
                seen.append(page)
                assert ("thread main" in text and "thread sampler" in text) == (page == "self"), (page, text)
                await pilot.press("right")
            assert seen[-1] == "self" and "cpu" in seen and "gpu0" in seen
    run(body)


# -- 2: an unknown host reads as unknown, never `None` ------------------------------------------------------
def test_replay_header_of_a_session_whose_host_facts_are_null_says_unknown_not_none(recorded, tmp_path):
    session = copy_session(recorded, tmp_path, recorded.name)
    meta = json.loads((session / "meta.json").read_text())
    meta["host"].update(hostname=None, hardware_tier=None)  # an imported session: the other tool knew neither
    (session / "meta.json").write_text(json.dumps(meta))

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            assert "None" not in f"{source.label.host} {source.label.tier}"
            app.dashboard.redraw(force=True)
            await pilot.pause()
            text = app.query_one("#header").render().plain
            assert "None" not in text and text.rstrip().endswith(f"│ {session.name} · unknown host"), text
            for width in (80, 100):  # narrower: whole pieces give way, the names last to first
                await pilot.resize_terminal(width, 24)
                await pilot.pause(0.2)
                app.dashboard.redraw(force=True)
                await pilot.pause()
                text = app.query_one("#header").render().plain
                assert text.rstrip().endswith((" UTC", session.name)), text
    run(body)


# -- 3: `]` and `[` go to where each collapse began ---------------------------------------------------------
def test_collapse_jumps_land_on_each_collapses_onset_and_walk_them_in_order(recorded, tmp_path):
    session = copy_session(recorded, tmp_path, recorded.name)

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            starts = [e for e in source.reader.events if e.get("kind") == "collapse_start"]
            assert len(starts) == 2
            onsets = [min(i for i, s in enumerate(source.reader.elapsed) if s >= e["start"]) for e in starts]
            detected = [source.reader.index_from_ts(source.reader.event_us[source.reader.events.index(e)])
                        for e in starts]
            assert all(onset < found for onset, found in zip(onsets, detected))  # detected seconds later
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            for onset in sorted(onsets):
                await pilot.press("right_square_bracket")
                await wait_at(pilot, source, onset)
            count = len(notifications(app))
            await pilot.press("right_square_bracket")
            await pilot.pause(0.2)
            assert source.position == max(onsets)
            assert ("no more collapses that way", "information") in notifications(app)[count:]
            await pilot.press("left_square_bracket")
            await wait_at(pilot, source, min(onsets))
            await pilot.press("end")
            await wait_at(pilot, source, len(source.reader) - 1)
            await pilot.press("left_square_bracket")  # from the end: the last collapse's onset
            await wait_at(pilot, source, max(onsets))
            await pilot.press("right_square_bracket")  # between its onset and its detection: nothing further
            await pilot.pause(0.2)
            assert source.position == max(onsets)
    run(body)


# -- 4: a session that cannot open keeps the picker open --------------------------------------------------
def damaged_segments(recorded: Path, root: Path, name: str) -> Path:
    """A session whose samples are a journal of garbage: the listing's cheap check passes, opening fails."""
    session = copy_session(recorded, root, name)
    (session / "samples.parquet").unlink()
    (session / "samples").mkdir()
    (session / "samples" / "part-000000.journal").write_bytes(b"\x00\xff not json {{{\n" * 20)
    return session


def test_replay_picker_stays_open_and_marks_a_session_it_cannot_open(recorded, tmp_path):
    root = tmp_path / "sessions"
    good = copy_session(recorded, root, "20260101-000000-good")
    bad = damaged_segments(recorded, root, "20260102-000000-bad")
    assert check_session(bad) is None  # only opening it finds the damage
    opened: list[ReplaySource] = []

    def open_session(path: Path) -> ReplaySource:
        opened.append(ReplaySource(path, speed=None))
        return opened[-1]

    app = PickerApp(SessionDirectory(root).list(), open_session)

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            assert app.picker.shown[0]["id"] == bad.name  # newest first
            await pilot.press("enter")
            table = app.query_one("#sessions")
            await wait_until(pilot, lambda: str(table.get_row_at(0)[COLUMNS.index("status")]) == "corrupt", 10, "the row marked")
            assert app.is_running and app.screen is app.picker
            assert "no samples" in str(table.get_row_at(0)[COLUMNS.index("why")])  # every line of its journal is garbage
            assert any("no samples" in str(n.message) for n in app._notifications)
            await pilot.press("enter")  # again: said again, without trying to open it
            await pilot.press("down", "enter")
            await wait_until(pilot, lambda: not app.is_running, 10, "the good session opened")
    run(body)
    try:
        assert [s.reader.session for s in opened] == [good] and app.return_value is opened[0]
    finally:
        for source in opened:
            source.close()


def test_o_over_live_stays_in_the_picker_on_a_session_it_cannot_open(recorded, tmp_path):
    root = tmp_path / "sessions"
    bad = damaged_segments(recorded, root, "20260102-000000-bad")

    async def body():
        async with LiveApp(tmp_path / "live", sessions_dir=root) as (pilot, app, _):
            await pilot.press("o")
            picker = await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen, 10, "picker")
            await pilot.press("enter")
            table = picker.query_one("#sessions")
            await wait_until(pilot, lambda: str(table.get_row_at(0)[COLUMNS.index("status")]) == "corrupt", 10, "the row marked")
            assert app.screen is picker and picker.shown[0]["id"] == bad.name and not app.replays
            await pilot.press("escape")  # back to live, as ever
            await wait_until(pilot, lambda: app.screen is app.dashboard, 5, "the live dashboard")
    run(body)


# -- 5: at 80 and 100 columns nothing is cut mid-word or mid-number -----------------------------------------
BUSY_HOST = {"mem_used_bytes": 33.5e9, "mem_total_bytes": 67.1e9, "mem_util_pct": 50.0, "swap_used_bytes": 2.1e9,
             "disk_read_bps": 1.26e6, "disk_write_bps": 350.2e6, "net_recv_bps": 52019.0, "net_sent_bps": 3.3e6,
             "self_cpu_pct": 4.1, "self_rss_bytes": 65.3e6}
RECORDING = {"session": "20261205-064342-sim-rig", "samples": 12345, "bytes": 5.5e6, "flush_age_s": 1.0,
             "achieved_hz": 10.0}


def whole_pieces(full: str, shown: str, separator: str) -> None:
    """Every piece of `full` is in `shown` whole, or not at all (its label gone too)."""
    assert len(shown) <= len(full)
    for piece in (p.strip() for p in full.split(separator) if p.strip()):
        label = piece.split()[0]
        assert piece in shown or f" {label} " not in f" {shown} ", (piece, shown)


@pytest.mark.parametrize("width", [60, 80, 100])
def test_host_strip_drops_whole_pieces_never_cuts_a_value(width):
    full = host_text(BUSY_HOST, 1000).plain
    shown = host_text(BUSY_HOST, width).plain
    assert len(shown) <= width and shown.startswith(" MEM 31.2G/62.5G 50%")
    whole_pieces(full, shown, "  ")
    if width >= 80:
        assert "NET rx 50.8K/s tx 3.1M/s" in shown  # the network before disk and swap


@pytest.mark.parametrize("width", [80, 100])
def test_header_keeps_rigscopes_own_cost_while_recording_at_80_columns(width):
    snapshot = Snapshot(0, {"elapsed_s": 61.0, **BUSY_HOST}, ())
    label = SessionLabel("sim-rig", "nvidia_h100", RECORDING["session"], "DEMO")
    shown = header_text(label, snapshot, RECORDING, False, width).plain
    assert len(shown) <= width and "● REC" in shown and "│ self 4.1% 62.3M" in shown, shown
    assert RECORDING["session"] in shown  # what a recording writes to, next


@pytest.mark.parametrize("width", [80, 100, 160])
def test_footer_shows_whole_keys_help_first(width):
    async def body():
        async with drawn_steady((width, 24)) as (_, screen, pilot):
            await pilot.pause(0.2)
            line = screen_text(pilot.app).splitlines()[-1]
            shown = [key for key in screen.query(FooterKey) if key.display]
            assert shown[0].description == "Help" and shown[1].description == "Quit"
            assert " ".join(f"{k.key_display} {k.description}" for k in shown) == " ".join(line.split()), line
            hidden = [key for key in screen.query(FooterKey) if not key.display]
            assert bool(hidden) == (width < 160)  # the keys past the width: in `?` and ctrl+p
            await pilot.resize_terminal(160, 30)  # wider again: every key back
            await pilot.pause(0.3)
            assert all(key.display for key in screen.query(FooterKey))
            assert "p Processes" in screen_text(pilot.app).splitlines()[-1]
    run(body)


# -- 6: a recording toggle keeps what the screen shows ------------------------------------------------------
def seconds_of(clock: str) -> int:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_stopping_and_starting_a_recording_keeps_the_clock_history_and_state_band(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            def elapsed() -> float:
                return source.feed.snapshot(0, ()).frame.get("elapsed_s") or 0.0

            await wait_until(pilot, lambda: elapsed() >= 3.0, 15, "3 s of samples")
            for answer_turns in range(2):  # stop, then start a new session
                session = source.monitor.session
                app.dashboard.redraw(force=True)
                await pilot.pause()
                shown_before = seconds_of(re.search(r"\d+:\d\d:\d\d", bar_text(app, "header"))[0])
                assert shown_before >= 3
                await pilot.press("r")
                await pilot.press("y")
                await wait_until(pilot, lambda: source.monitor.session != session, 10, "the recording switched")
                await wait_until(pilot, lambda: 0 < elapsed() < 2.0, 10, "frames of the new monitor")
                await wait_frames(pilot, source, 3)
                app.dashboard.redraw(force=True)
                await pilot.pause()
                header, workload = bar_text(app, "header"), bar_text(app, "workload")
                assert seconds_of(re.search(r"\d+:\d\d:\d\d", header)[0]) >= shown_before, header
                held = re.search(r"\((\d+)s of data\)", workload)
                assert held and int(held[1]) >= shown_before, workload  # the sparklines' history goes on
                times = [at for at, _ in source.feed.snapshot(0, ()).state_history]
                assert times == sorted(times) and times[-1] <= shown_before + 5  # one band, in order
                assert (source.monitor.session is None) == (answer_turns == 0)
    run(body)


def test_the_feeds_clock_goes_on_once_across_a_new_session_before_its_first_frame():
    """Switched to a new session's queue, the feed's clock holds the old session's time once, not twice, until
    the new session's frames come (a redraw in between showed the clock jump forward)."""
    from collectors.stream import Batch, PolledQueue
    from tests.waiting import wait_sync
    from tui.feed import DashboardFeed

    first, second = PolledQueue(10, 0.01), PolledQueue(10, 0.01)
    feed = DashboardFeed(first, [], 10.0)
    feed.start()
    first.offer(Batch({"ts": 1, "elapsed_s": 42.0}))
    wait_sync(lambda: feed.watched_s == 42.0, 5)
    feed.attach(second)
    wait_sync(lambda: feed._base_s == 42.0, 5)
    assert feed.watched_s == 42.0 and feed.snapshot(0, ()).clock_s == 42.0
    second.offer(Batch({"ts": 2, "elapsed_s": 1.5}))
    wait_sync(lambda: feed.watched_s == 43.5, 5)
    second.close()
