"""End to end: `rigscope demo` in a real terminal (tmux), keys sent as a user types them."""

from __future__ import annotations

import os
import pty
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.tmux import needs_tmux, tmux
from tests.tui.conftest import read_events, read_meta, wait_file

DEADLINE_S = 60.0


def _demo(directory: Path, env: str) -> str:
    """The command line a user types, run by tmux's shell from the repository root."""
    args = [sys.executable, "-m", "rigscope", "demo", "--dir", str(directory), "--hz", "5"]
    # The shell says how the command ended (tmux in some sandboxes never reaps a dead pane's process).
    return f"cd {shlex.quote(str(REPO))} && env -u RIGSCOPE_DIR {env} {shlex.join(args)}; echo \"exit status $?\""


def _session(directory: Path) -> Path:
    return wait_file(lambda: next(iter(directory.iterdir()), None) if directory.exists() else None, 10,
                     "the session directory")


@needs_tmux
def test_demo_note_and_quit_in_tmux(tmp_path):
    sessions = tmp_path / "sessions"
    with tmux() as term:
        term.start(_demo(sessions, "-u NO_COLOR TERM=xterm-256color"))
        term.wait_screen(lambda s: "GPU0" in s and " state " in s and ("C0/" in s or "collapses" in s),
                         "the GPU panels, the workload state and the collapse counters")
        screen = term.screen()
        assert all(f"GPU{i}" in screen for i in range(4)) and "rigscope DEMO" in screen
        term.keys("n")
        term.wait_screen(lambda s: "Note at" in s, "the note dialog")
        term.keys("checkpoint looked slow", literal=True)
        term.keys("Enter")
        term.wait_screen(lambda s: "note: checkpoint looked slow" in s, "the note in the events pane")
        term.keys("q")
        session = _session(sessions)
        wait_file(lambda: read_meta(session).get("status") == "complete", DEADLINE_S, "meta.json complete")
        # a long session path wraps, and its first part may scroll off the top once the shell says how it ended
        said = term.wait_screen(lambda s: "session saved in" in s, "the closing message", history=True)
        assert session.name in said
        assert "exit status 0" in term.wait_screen(lambda s: "exit status" in s, "the command to exit", 20)
    notes = [e for e in read_events(session) if e.get("kind") == "note"]
    assert [(n["text"], n["source"]) for n in notes] == [("checkpoint looked slow", "keyboard")]


@needs_tmux
def test_no_color_xterm_reaches_the_panels(tmp_path):
    sessions = tmp_path / "sessions"
    with tmux() as term:
        term.start(_demo(sessions, "TERM=xterm NO_COLOR=1"))
        term.wait_screen(lambda s: "GPU0" in s and " state " in s, "the GPU panels")
        term.keys("q")
        assert "exit status 0" in term.wait_screen(lambda s: "exit status" in s, "the command to exit", 30)
    assert read_meta(_session(sessions))["status"] == "complete"


def test_dumb_terminal_is_one_line_exit_1(tmp_path):
    main, child = pty.openpty()  # a terminal on stdin and stdout: only TERM is wrong
    try:
        env = {**os.environ, "TERM": "dumb"}
        env.pop("RIGSCOPE_DIR", None)
        result = subprocess.run([sys.executable, "-m", "rigscope", "demo", "--dir", str(tmp_path / "s")],
                                stdin=child, stdout=child, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
                                timeout=60)
    finally:
        os.close(child)
        os.close(main)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("rigscope: error: the dashboard needs a capable terminal (TERM=dumb")
    assert not (tmp_path / "s").exists()  # nothing was started


def test_output_not_a_terminal_is_one_line_exit_1(tmp_path):
    env = {**os.environ, "TERM": "xterm-256color"}
    result = subprocess.run([sys.executable, "-m", "rigscope", "demo", "--dir", str(tmp_path / "s")],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "output is not a terminal" in result.stderr
