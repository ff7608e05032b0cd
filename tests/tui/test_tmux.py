"""End to end: `rigscope demo` in a real terminal (tmux), keys sent as a user types them."""

from __future__ import annotations

import os
import pty
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tui.conftest import read_events, read_meta, wait_file

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

DEADLINE_S = 60.0


class Tmux:
    """One tmux server of its own (-L), one session, one pane."""

    def __init__(self) -> None:
        self.socket = f"rigscope-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.target = "dash"
        self.socket_path: str | None = None

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20,
                                check=check)
        return result.stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        # -f /dev/null: no user configuration; remain-on-exit keeps the pane and its last words.
        self("-f", "/dev/null", "new-session", "-d", "-s", self.target, "-x", str(width), "-y", str(height),
             command, ";", "set-option", "-t", self.target, "remain-on-exit", "on")
        self.socket_path = self("display-message", "-p", "#{socket_path}", check=False).strip() or None

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-200", "-t", self.target, check=False)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", self.target, *(["-l"] if literal else []), *keys)

    def wait_screen(self, predicate: Callable[[str], bool], what: str, timeout: float = DEADLINE_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def kill(self) -> None:
        self("kill-server", check=False)
        if self.socket_path:  # our own server's socket, when tmux leaves it behind
            Path(self.socket_path).unlink(missing_ok=True)


@contextmanager
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()


def _demo(directory: Path, env: str) -> str:
    """The command line a user types, run by tmux's shell from the repository root."""
    args = [sys.executable, "-m", "rigscope", "demo", "--dir", str(directory), "--hz", "5"]
    # The shell says how the command ended (tmux in some sandboxes never reaps a dead pane's process).
    return f"cd {shlex.quote(str(REPO))} && env -u RIGSCOPE_DIR {env} {shlex.join(args)}; echo \"exit status $?\""


def _session(directory: Path) -> Path:
    return wait_file(lambda: next(iter(directory.iterdir()), None) if directory.exists() else None, 10,
                     "the session directory")


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
        said = term.wait_screen(lambda s: "session saved in" in s, "the closing message")
        assert session.name in said
        assert "exit status 0" in term.wait_screen(lambda s: "exit status" in s, "the command to exit", 20)
    notes = [e for e in read_events(session) if e.get("kind") == "note"]
    assert [(n["text"], n["source"]) for n in notes] == [("checkpoint looked slow", "keyboard")]


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
