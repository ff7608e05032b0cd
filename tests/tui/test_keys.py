"""Every key of the dashboard, on a running simulated session in real time."""

from __future__ import annotations

import polars as pl

from tests.tui.conftest import (
    LiveApp,
    bar_text,
    read_events,
    read_meta,
    run,
    screen_text,
    type_text,
    wait_file,
    wait_frames,
    wait_until,
)
from tui.dashboard import DEFAULT_PRESETS, WINDOWS_S
from tui.screens import DeviceScreen, HelpScreen, NoteScreen, TagScreen


def _kinds(session, kind):
    return [e for e in read_events(session) if e.get("kind") == kind]


def test_note_is_stamped_when_n_was_pressed_and_escape_writes_nothing(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            before = source.now_iso()
            await pilot.press("n")
            assert isinstance(app.screen, NoteScreen)
            stamp = app.screen.stamp
            assert stamp >= before
            await wait_frames(pilot, source, 3)  # time passes while the note is typed
            await type_text(pilot, "lr 3e-4 q+d r")  # keys of the dashboard are text here
            assert isinstance(app.screen, NoteScreen)
            assert app.screen.query_one("#note-text").value == "lr 3e-4 q+d r"
            typed_until = source.now_iso()
            await pilot.press("enter")
            assert not isinstance(app.screen, NoteScreen)
            notes = await wait_until(pilot, lambda: _kinds(session, "note"), 10, "the note in events.jsonl")
            assert len(notes) == 1
            note = notes[0]
            assert note["text"] == "lr 3e-4 q+d r" and note["source"] == "keyboard"
            assert note["ts"] == stamp < typed_until  # the moment of the key, not of Enter

            await pilot.press("n")
            assert isinstance(app.screen, NoteScreen)
            await type_text(pilot, "never saved")
            await pilot.press("escape")
            assert not isinstance(app.screen, NoteScreen)
            await pilot.press("9")  # a marker note, written after anything Escape could have written
            await wait_until(pilot, lambda: len(_kinds(session, "note")) == 2, 10, "the marker note")
            assert [e["text"] for e in _kinds(session, "note")] == ["lr 3e-4 q+d r", DEFAULT_PRESETS["9"][1]]
    run(body)


def test_tag_typed_or_picked_from_the_list(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await pilot.press("t")
            assert isinstance(app.screen, TagScreen)
            options = app.screen.query_one("#tag-recent")
            prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            assert "auto" in prompts
            await type_text(pilot, "eval")
            await pilot.press("enter")
            assert not isinstance(app.screen, TagScreen)
            tags = await wait_until(pilot, lambda: _kinds(session, "tag"), 10, "the tag in events.jsonl")
            assert [(t["state"], t["source"]) for t in tags] == [("eval", "keyboard")]

            await pilot.press("t")
            assert isinstance(app.screen, TagScreen)
            options = app.screen.query_one("#tag-recent")
            prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            assert prompts[0] == "eval"  # the latest tag comes first
            options.focus()
            options.highlighted = prompts.index("auto")
            await pilot.press("enter")
            assert not isinstance(app.screen, TagScreen)
            await wait_until(pilot, lambda: len(_kinds(session, "tag")) == 2, 10, "the picked tag")
            assert [t["state"] for t in _kinds(session, "tag")] == ["eval", "auto"]

            await pilot.press("t")
            await pilot.press("escape")  # cancels: no tag
            assert not isinstance(app.screen, TagScreen)
    run(body)


def test_presets_tag_and_note_without_a_dialog(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await pilot.press("3")
            assert len(app.screen_stack) == 1
            await pilot.press("6")
            assert len(app.screen_stack) == 1
            await wait_until(pilot, lambda: _kinds(session, "tag") and _kinds(session, "note"), 10, "preset events")
            assert [(e["state"], e["source"]) for e in _kinds(session, "tag")] == [("eval", "keyboard")]
            assert [(e["text"], e["source"]) for e in _kinds(session, "note")] == [("lr changed", "keyboard")]
            assert DEFAULT_PRESETS["3"] == ("tag", "eval") and DEFAULT_PRESETS["6"] == ("note", "lr changed")
            await wait_until(pilot, lambda: "EVAL" in bar_text(app, "workload"), 10, "the workload bar saying EVAL")
    run(body)


def test_space_pauses_the_display_while_sampling_goes_on(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press("space")
            assert app.dashboard.paused
            assert "PAUSED" in bar_text(app, "header")
            drawn, header = app.dashboard._drawn_version, bar_text(app, "header")
            recorded = source.monitor.recording_state().samples
            await wait_frames(pilot, source, 5)  # the feed keeps moving
            await wait_until(pilot, lambda: source.monitor.recording_state().samples > recorded, 10, "recording to go on")
            await pilot.pause(0.6)  # past a redraw tick
            assert app.dashboard._drawn_version == drawn and bar_text(app, "header") == header
            await pilot.press("space")
            assert not app.dashboard.paused
            assert "PAUSED" not in bar_text(app, "header")
            assert app.dashboard._drawn_version > drawn
    run(body)


def test_r_stops_recording_and_r_again_starts_a_new_session(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            first = source.monitor.session
            assert "● REC" in bar_text(app, "header")
            await wait_frames(pilot, source, 3)
            await pilot.press("r", "y")
            await app.workers.wait_for_complete()
            assert source.recording() is None and source.monitor.session is None
            assert read_meta(first)["status"] == "complete"
            await wait_until(pilot, lambda: "not recording" in bar_text(app, "header"), 10, "not recording")
            await wait_frames(pilot, source, 3)  # the feed follows the new monitor

            await pilot.press("r", "y")
            await app.workers.wait_for_complete()
            second = source.monitor.session
            assert second is not None and second != first and second.parent == first.parent
            await wait_until(pilot, lambda: "● REC" in bar_text(app, "header"), 10, "recording again")
            await wait_frames(pilot, source, 3)
            await pilot.press("q")
        assert read_meta(first)["status"] == "complete"
        assert read_meta(second)["status"] == "complete"
        assert str(second) in app.return_value
    run(body)


def test_plus_and_minus_step_the_window(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            assert app.dashboard.window_s == 120.0
            seen = []
            for key in ("plus", "plus", "plus", "minus", "minus", "minus", "minus", "equals_sign"):
                await pilot.press(key)
                seen.append(app.dashboard.window_s)
                await pilot.pause()
                label = {30.0: "30s", 120.0: "2m", 600.0: "10m", 3600.0: "1h"}[app.dashboard.window_s]
                assert f"window {label}" in bar_text(app, "workload")
            assert seen == [600.0, 3600.0, 3600.0, 600.0, 120.0, 30.0, 30.0, 120.0]
            assert set(seen) == set(WINDOWS_S)
    run(body)


def test_d_shows_one_device_left_right_switch_escape_closes(tmp_path):
    async def body():
        async with LiveApp(tmp_path, gpus=2) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press("d")
            screen = app.screen
            assert isinstance(screen, DeviceScreen)
            assert screen.prefixes == ["cpu", "gpu0", "gpu1", "self"]  # last: rigscope's own cost
            shown = []
            for key in ("right", "right", "right", "right", "left", "left"):
                await pilot.press(key)
                shown.append(screen.prefixes[screen.index])
                assert f"{shown[-1]}_" in screen_text(app)  # its columns are on the screen
                if shown[-1] == "self":  # the budget, thread by thread, so a regression has an owner
                    assert "thread sampler" in screen_text(app) and "% of a core" in screen_text(app)
            assert shown == ["gpu0", "gpu1", "self", "cpu", "self", "gpu1"]
            assert "gpu1_temp_c" in screen_text(app) and "gpu0_temp_c" not in screen_text(app)
            await pilot.press("escape")
            assert not isinstance(app.screen, DeviceScreen) and len(app.screen_stack) == 1
    run(body)


def _modal_text(app) -> str:
    """The text inside the modal's border, its wrapped lines joined."""
    inside = [line.split("│")[1] for line in screen_text(app).splitlines() if line.count("│") >= 2]
    return " ".join(" ".join(inside).split())


def test_question_mark_lists_every_key(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = _modal_text(app)
            for key, words in (("n", "Note"), ("t", "Tag"), ("1-9", "presets, at once (no dialog): tag: 1 data_prep"), ("space", "Pause"),
                               ("r", "Rec on/off"), ("+ / =", "Window+"), ("o", "Open a recorded session in replay"), ("d", "Details"), ("?", "Help"),
                               ("q", "Quit")):
                assert f"{key} {words}" in text, (key, text)
            assert "- Window-" in text
            for key, (_, value) in DEFAULT_PRESETS.items():
                assert f"{key} {value}" in text
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
    run(body)


def test_q_quits_naming_the_session_complete(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await wait_frames(pilot, source, 3)
            await pilot.press("q")
        assert source.closed
        assert app.return_value.startswith("rigscope: session saved in ") and str(session) in app.return_value
        meta = read_meta(session)
        assert meta["status"] == "complete" and meta["total_samples"] > 0
    run(body)


def test_a_tag_steers_the_recorded_workload_state(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await wait_frames(pilot, source, 2)
            await pilot.press("t")
            await type_text(pilot, "eval")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "EVAL" in bar_text(app, "workload"), 10, "EVAL on the workload bar")
            assert "tag" in bar_text(app, "workload")
            await wait_frames(pilot, source, 3)
            await pilot.press("q")
        samples = wait_file(lambda: (session / "samples.parquet").exists(), 10) and \
            pl.read_parquet(session / "samples.parquet")
        tagged = samples.filter(pl.col("workload_state") == "eval")
        assert tagged.height > 0
        assert set(tagged["workload_source"]) == {"tag"}
        assert samples["workload_state"][0] != "eval"  # before the tag, the heuristic
    run(body)


def test_start_up_objects_are_frozen_out_of_the_collector_while_the_dashboard_runs(tmp_path):
    import gc

    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            assert gc.get_freeze_count() > 10_000  # modules, styles, widgets, collectors
        assert gc.get_freeze_count() == 0  # and given back when it ends: a process that goes on collects them
    run(body)
