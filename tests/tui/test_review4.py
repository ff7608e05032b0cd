"""The live dashboard against hostile input: presets, process names, the kill key, typed notes and tags."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from textual import events
from textual.widgets import Input
from textual.widgets._toast import Toast

from collectors import processes
from collectors.event_parse import CUT_MARK, NOTE_CAP
from collectors.processes import ProcessControl
from recordings.errors import InputError
from rigscope.app_factory import build_app
from rigscope.config import MAX_BYTES, load_presets
from tests.replay.conftest import Notes
from tests.tmux import needs_tmux, tmux
from tests.tui.conftest import LiveApp, read_events, run, screen_text, sim_source, type_text, wait_until
from tests.tui.test_processes import processes_view
from tests.waiting import wait_sync
from tui.app import RigscopeApp
from tui.kill import KillScreen, why_not
from tui.processes import ProcessesPane
from tui.screens import HelpScreen, NoteScreen, TagScreen

HOSTILE = "\x1b[2J\x1b]0;owned\x07[/][bold"


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


@pytest.fixture
def hostile_child() -> Iterator[subprocess.Popen]:
    """A process whose command line carries a terminal escape sequence and markup."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", HOSTILE])
    # Until the exec is done its command line is the forking parent's: the test reads the child's own.
    wait_sync(lambda: HOSTILE in psutil.Process(process.pid).cmdline(), 10, "the child's command line")
    yield process
    process.kill()
    process.wait()


def test_a_command_line_with_escapes_and_markup_shows_inert(hostile_child: subprocess.Popen) -> None:

    async def body() -> None:
        async with processes_view(hostile_child.pid, (250, 50)) as (pilot, app, _):
            pane = app.query_one(ProcessesPane)
            await wait_until(pilot, lambda: any(r["pid"] == hostile_child.pid for r in pane.rows))
            await pilot.pause()
            text = screen_text(app)
            assert "\x1b" not in text and "\x07" not in text
            assert "\\x1b[2J\\x1b]0;owned\\x07[/][bold" in text
            await pilot.press("k")
            await wait_until(pilot, lambda: isinstance(app.screen, KillScreen))
            await pilot.pause()
            text = screen_text(app)
            assert "\x1b" not in text and "\\x1b[2J" in text
            await pilot.press("n")

    run(body)


@pytest.fixture
def others_child() -> Iterator[subprocess.Popen]:
    """A process of another user (nobody), which root may end."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    process = subprocess.Popen(["sleep", "60"], user="nobody", cwd="/")
    yield process
    process.kill()
    process.wait()


def test_root_is_told_whose_process_k_ends_and_the_listed_one_is_ended(others_child: subprocess.Popen) -> None:

    async def body() -> None:
        async with processes_view(others_child.pid) as (pilot, app, _):
            pane = app.query_one(ProcessesPane)
            await wait_until(pilot, lambda: pane.selected and pane.selected["pid"] == others_child.pid)
            await pilot.press("k")
            await wait_until(pilot, lambda: isinstance(app.screen, KillScreen))
            await pilot.pause()
            text = screen_text(app)
            assert f"Send SIGTERM to pid {others_child.pid} of nobody?" in text
            assert "You are root: this ends the process whoever owns it." in text
            await pilot.press("y")  # the listed start matches the kernel's: sent
            await wait_until(pilot, lambda: others_child.poll() is not None, what="the process to end")

    run(body)


def test_k_refuses_pid_1_and_rigscope_itself() -> None:
    row = {"pid": 1, "visible": True, "user": "root", "command": "init"}
    assert "pid 1" in (why_not(row, False, ProcessControl()) or "")
    assert "this rigscope" in (why_not({**row, "pid": os.getpid()}, False, ProcessControl()) or "")

    async def body() -> None:
        async with processes_view(1) as (pilot, app, _):
            pane = app.query_one(ProcessesPane)
            await wait_until(pilot, lambda: pane.selected and pane.selected["pid"] == 1)
            await pilot.press("k")
            await pilot.pause()
            assert not isinstance(app.screen, KillScreen)

    run(body)


def test_a_pid_reused_since_the_list_was_read_is_not_signalled(hostile_child: subprocess.Popen) -> None:
    """Same pid, same user, but the process now on it started after the list was read: it is another."""
    me = psutil.Process().username()
    started = psutil.Process(hostile_child.pid).create_time()
    assert "reused" in processes.terminate(hostile_child.pid, me, started - 60.0)
    assert hostile_child.poll() is None
    # listed long after it started (a process tier running late makes no difference): the same process
    assert "SIGTERM sent" in processes.terminate(hostile_child.pid, me, started + 3600.0)
    assert hostile_child.wait(10) == -15


@pytest.mark.parametrize(("content", "said"), [
    (b"presets = 5\n", "presets should be a table"),
    (b"[presets]\n1 = \"note:\\u001b[2J\"\n", "one line of printable text"),
    (b"[presets]\n1 = \"tag:   \"\n", "should be 1-9"),
    (b"[presets]\n1 = \"note:\xff\"\n", "unreadable settings"),
    (b"# " + b"x" * (MAX_BYTES + 10) + b"\n", "over 64 KiB"),
])
def test_a_damaged_settings_file_is_one_clear_error(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(said)):
        load_presets(path)


def test_a_settings_file_others_could_write_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[presets]\n1 = "note:from someone else"\n', encoding="utf-8")
    path.chmod(0o646)
    with pytest.raises(InputError, match="writable by every user"):
        load_presets(path)
    path.chmod(0o644)
    assert load_presets(path) == {"1": ("note", "from someone else")}
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
        with pytest.raises(InputError, match="belongs to uid 65534"):
            load_presets(path)


@needs_tmux
def test_a_bad_settings_file_stops_the_dashboard_before_it_records(tmp_path: Path) -> None:
    """It once opened a session first, then ended with a traceback and left that session `recording`."""
    config = tmp_path / "config.toml"
    config.write_text("presets = 5\n", encoding="utf-8")
    sessions, log = tmp_path / "sessions", tmp_path / "stderr.txt"
    command = (f"RIGSCOPE_CONFIG={config} {sys.executable} -m rigscope demo --dir {sessions} 2>{log}; "
               f"echo exit=$? >>{log}")
    with tmux() as terminal:
        terminal.start(f"sh -c '{command}'", width=80, height=24, cwd=Path.cwd())
        wait_sync(lambda: "exit=" in (log.read_text() if log.exists() else ""), 30, "the dashboard to stop")
    lines = log.read_text().splitlines()
    assert lines == [f"rigscope: error: {config}: presets should be a table ([presets] with 1-9 = \"tag:NAME\" "
                     "or \"note:TEXT\")", "exit=1"]
    assert not sessions.exists() or not any(sessions.iterdir())


def test_a_typed_tag_with_markup_is_offered_and_picked_as_typed(tmp_path: Path) -> None:
    """A tag `[/]` once made the next `t` end the app: the recent tags were read as markup."""

    async def body() -> None:
        async with LiveApp(tmp_path, size=(100, 30)) as (pilot, app, source):
            await pilot.press("t")
            await type_text(pilot, "[/]")
            await pilot.press("enter")
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, TagScreen))
            await pilot.pause()
            assert app.is_running and "[/]" in screen_text(app)
            await pilot.press("down", "enter")  # the most recent: `[/]`
            session = source.monitor.session
            await wait_until(pilot, lambda: [e["state"] for e in read_events(session) if e["kind"] == "tag"]
                             == ["[/]", "[/]"], what="both tags in the session")

    run(body)


def test_a_pasted_100_kb_note_is_cut_and_a_100_kb_tag_refused(tmp_path: Path) -> None:
    """As any sender's: a note is cut at 4,096 characters, a tag over 256 is refused, said on screen."""

    async def body() -> None:
        async with LiveApp(tmp_path, size=(100, 30)) as (pilot, app, source):
            notes = Notes(app)  # type: ignore[arg-type]
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen))
            app.screen.query_one(Input).post_message(events.Paste("y" * 100_000 + "\nsecond line"))
            await pilot.pause()
            await pilot.press("enter")
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, TagScreen))
            app.screen.query_one(Input).post_message(events.Paste("z" * 100_000))
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(pilot, lambda: any("a tag is at most 256" in m for m, _ in notes.seen))
            session = source.monitor.session
            noted = await wait_until(pilot, lambda: [e for e in read_events(session) if e["kind"] == "note"])
            assert len(noted[0]["text"]) == NOTE_CAP and noted[0]["text"].endswith(CUT_MARK)
            assert not [e for e in read_events(session) if e["kind"] == "tag"]

    run(body)


def test_a_preset_note_while_r_starts_a_recording_lands_in_the_new_session(tmp_path: Path) -> None:
    """`r`, `y`, `6` in a row: the note came while the old monitor closed (its stop joins its threads) and
    went to that stopped monitor, lost, while the screen said it was saved."""

    async def body() -> None:
        async with LiveApp(tmp_path, size=(100, 30), record=False) as (pilot, app, source):
            old = source.monitor
            stop = old.stop

            def stop_then_key() -> None:  # the key's note arrives once the old monitor has stopped
                stop()
                app.call_from_thread(app.dashboard.action_preset, "6")

            old.stop = stop_then_key  # type: ignore[method-assign]
            await pilot.press("r", "y")
            await wait_until(pilot, lambda: source.monitor is not old and source.monitor.session is not None)
            session = source.monitor.session
            await wait_until(pilot, lambda: [e["text"] for e in read_events(session) if e["kind"] == "note"]
                             == ["lr changed"], what="the note in the new session")

    run(body)


def keys_at_once(app: RigscopeApp, key: str, character: str, times: int) -> None:
    """`times` presses of `key` that arrive together, as a key held down or typed fast: none waits for the screen."""
    for _ in range(times):
        app.post_message(events.Key(key, character))


def test_enter_escape_and_y_pressed_fast_answer_a_dialog_once(tmp_path: Path) -> None:
    """The second Enter reached the note dialog after it had answered, and dismissing it again ended the app."""

    async def body() -> None:
        async with LiveApp(tmp_path, size=(100, 30)) as (pilot, app, source):
            await pilot.press("n")
            await type_text(pilot, "once")
            keys_at_once(app, "enter", "\r", 5)
            await pilot.pause()
            await pilot.press("t")
            keys_at_once(app, "escape", "\x1b", 5)
            await pilot.pause()
            await pilot.press("r")
            keys_at_once(app, "n", "n", 1)
            keys_at_once(app, "escape", "\x1b", 3)
            await pilot.pause()
            assert app.is_running and app.screen is app.dashboard
            session = source.monitor.session
            await wait_until(pilot, lambda: [e["text"] for e in read_events(session) if e["kind"] == "note"]
                             == ["once"], what="one note")

    run(body)



def test_k_on_a_process_that_became_a_zombie_says_it_has_ended() -> None:
    """SIGTERM to a zombie does nothing, yet the dashboard said it was sent."""
    zombie = subprocess.Popen(["true"])  # ends at once; not waited for until the end: a zombie meanwhile
    try:
        wait_sync(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, what="a zombie")
        said = processes.terminate(zombie.pid, psutil.Process().username())
        assert "has already ended" in said and "not sent" in said
    finally:
        zombie.wait()


@pytest.mark.skipif(not Path("/proc/2/comm").is_file() or Path("/proc/2/comm").read_text().strip() != "kthreadd",
                    reason="Linux's kernel threads")
def test_k_on_a_kernel_thread_says_a_signal_does_not_end_it() -> None:
    """A root dashboard lists kernel threads (kworker/...) among the busiest processes; SIGTERM does nothing to them,
    yet the dashboard said it was sent."""
    kernel_thread = next(p for p in psutil.process_iter(["ppid"]) if p.info["ppid"] == 2)
    said = processes.terminate(kernel_thread.pid, kernel_thread.username())
    assert "kernel thread" in said and "not sent" in said


def test_the_toasts_of_a_typed_tag_and_a_preset_note_show_their_text_as_typed(tmp_path: Path) -> None:
    """`[b]phase` was shown as a bold `phase`, and a preset `note:[red]lr[/red]` as a red `lr`."""

    async def body() -> None:
        source = sim_source(tmp_path)
        app = build_app(source, presets={"1": ("note", "[red]lr[/red] x")})
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("t")
                await type_text(pilot, "[b]phase")
                await pilot.press("enter", "1")
                await wait_until(pilot, lambda: len(app._notifications) >= 2)
                shown = [Toast(note).render().plain for note in app._notifications]
                assert "tagged [b]phase" in shown and "note: [red]lr[/red] x" in shown
        finally:
            source.close()

    run(body)


def test_a_resize_storm_down_to_tiny_terminals_keeps_the_dashboard_up_and_readable(tmp_path: Path) -> None:

    async def body() -> None:
        async with LiveApp(tmp_path, gpus=4, size=(160, 50)) as (pilot, app, source):
            await pilot.press("p")
            for size in [(20, 5), (200, 60), (1, 1), (40, 10), (3, 2), (80, 24), (20, 5)] * 3:
                await pilot.resize_terminal(*size)
            await pilot.press("k", "escape", "n", "escape")
            await pilot.resize_terminal(40, 10)
            await pilot.pause()
            app.dashboard.redraw(force=True)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert app.is_running and len(lines) == 10
            assert lines[0].startswith(" rigscope DEMO") and "Processes" in lines[2]

    run(body)


def test_help_under_readonly_does_not_offer_k(tmp_path: Path) -> None:
    """`--readonly` turns k off, yet `?` listed `k Kill (processes view)`."""

    async def body() -> None:
        source = sim_source(tmp_path)
        app = build_app(source, readonly=True)
        try:
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.press("question_mark")
                await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
                await pilot.pause()
                lines = [" ".join(line.split()) for line in screen_text(app).splitlines()]
                assert any("s Sort (processes view)" in line for line in lines)
                assert not any("Kill (processes view)" in line for line in lines)
        finally:
            source.close()

    run(body)
