"""`o` in the live dashboard: the session picker, a replay over the live screen, and back to live.

The live source is the real-time simulated demo, recording into its own directory; the sessions
to open are copies of the recorded simulated session.  While the replay is on top, the live
feed goes on (its version moves) and the recording grows; Escape or `q` closes the replay.
"""

from __future__ import annotations

import shutil

from tests.replay.conftest import type_text, wait_at, wait_until
from tests.tui.conftest import LiveApp, bar_text, run, screen_text, wait_frames
from tui.picker import COLUMNS, PickerScreen
from tui.replay_screen import EmbeddedReplayScreen


def sessions_root(recorded, root, damaged: bool = False):
    shutil.copytree(recorded, root / recorded.name)
    if damaged:  # a second session whose samples are cut in half
        broken = root / "20260101-000000-broken"
        shutil.copytree(recorded, broken)
        data = (broken / "samples.parquet").read_bytes()
        (broken / "samples.parquet").write_bytes(data[: len(data) // 2])
    return root


def spy_notes(app):
    seen = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (seen.append((str(message), k.get("severity", "information"))),
                                           notify(message, *a, **k))
    return seen


async def open_from_picker(pilot, app, words: str):
    await pilot.press("o")
    picker = await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen, 10, "the picker")
    await type_text(pilot, words)
    await pilot.press("enter")
    replay = await wait_until(pilot, lambda: isinstance(app.screen, EmbeddedReplayScreen) and app.screen, 15,
                              "the replay screen")
    return picker, replay


def test_o_picks_a_session_replays_it_over_live_and_escape_or_q_return_to_live(recorded, tmp_path):
    root = sessions_root(recorded, tmp_path / "sessions")

    async def body():
        async with LiveApp(tmp_path / "live", sessions_dir=root) as (pilot, app, live):
            seen = spy_notes(app)
            await wait_frames(pilot, live, 2)
            await wait_until(pilot, lambda: "o Open" in screen_text(app), 10, "o in the footer, beside the other keys")
            picker, replay = await open_from_picker(pilot, app, recorded.name[:8])
            assert [row["id"] for row in picker.shown] == [recorded.name]
            source = replay.player
            recorded_before = live.recording()["samples"]
            assert source.reader.session == root / recorded.name
            header = replay.query_one("#header")  # app.query_one reads the live screen underneath
            await wait_until(pilot, lambda: "rigscope REPLAY" in header.render().plain, 10, "the replay header")
            assert "│ q back │" in header.render().plain and "q Back" in screen_text(app)

            await pilot.press("space", "end")  # the replay's own keys
            await wait_at(pilot, source, len(source.reader) - 1)
            await wait_frames(pilot, live, 3)  # live sampling goes on under the replay

            await pilot.press("p")  # the processes view has Escape too: with no filter to clear, it goes back
            assert replay.showing_processes and replay.query_one("#proc-pane").has_focus
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.dashboard, 10, "the live dashboard again")
            assert ("back to live", "information") in seen
            await wait_until(pilot, lambda: live.recording()["samples"] > recorded_before, 10, "the recording went on")
            await wait_until(pilot, lambda: "rigscope DEMO" in bar_text(app, "header"), 10, "the live header")
            await wait_until(pilot, lambda: not source._thread.is_alive(), 10, "the replay's player to stop")

            await open_from_picker(pilot, app, "")
            await pilot.press("q")  # q in a replay over live goes back; it does not quit
            await wait_until(pilot, lambda: app.screen is app.dashboard, 10, "the live dashboard again")
            assert app.is_running and not live.closed
            await wait_frames(pilot, live, 2)
    run(body)


def test_the_picker_over_live_lists_a_damaged_session_with_its_reason_and_keeps_it_shut(recorded, tmp_path):
    root = tmp_path / "sessions"

    async def body():
        async with LiveApp(tmp_path / "live", sessions_dir=root) as (pilot, app, live):
            seen = spy_notes(app)
            assert "Open a session" in [command.title for command in app.get_system_commands(app.screen)]
            await pilot.press("o")  # nothing recorded there yet
            await wait_until(pilot, lambda: any("no sessions in" in m for m, _ in seen), 10, "the notice")
            assert app.screen is app.dashboard
            sessions_root(recorded, root, damaged=True)
            await pilot.press("o")
            picker = await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen, 10)
            table = picker.query_one("#sessions")
            await type_text(pilot, "corrupt")
            assert table.row_count == 1
            assert table.get_row_at(0)[COLUMNS.index("status")].plain == "corrupt"
            assert table.get_row_at(0)[COLUMNS.index("why")].plain.startswith("unreadable Parquet file (")
            await pilot.press("enter")
            await pilot.pause()
            assert seen[-1][1] == "error" and "unreadable Parquet file" in seen[-1][0]
            assert app.screen is picker  # still choosing
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.dashboard, 10, "the live dashboard again")
            assert app.is_running and not live.closed
    run(body)


def test_a_replay_opened_at_80_columns_keeps_q_back_in_the_footer(recorded, tmp_path):
    root = sessions_root(recorded, tmp_path / "sessions")

    async def body():
        async with LiveApp(tmp_path / "live", size=(80, 24), sessions_dir=root) as (pilot, app, live):
            await wait_frames(pilot, live, 2)
            await open_from_picker(pilot, app, recorded.name[:8])
            await wait_until(pilot, lambda: "q Back" in screen_text(app).splitlines()[-1], 10, "q Back in the footer")
            assert "? Help" in screen_text(app).splitlines()[-1]

    run(body)
