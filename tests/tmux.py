"""A real terminal for end-to-end tests: one tmux server of the test's own (`tmux -L <unique>`), one pane.

Keys go in as a user types them and the screen is read back as text.  The server, and the socket
file some tmux versions leave behind, are removed afterwards; the user's tmux is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"rigscope-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.target = "rigscope"
        self.socket_path: str | None = None
        self.pid = 0

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20,
                                check=check)
        return result.stdout

    def start(self, command: str, width: int = 100, height: int = 30, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> None:
        """Run `command` in a new pane; -f /dev/null: no user configuration; the pane stays when it exits."""
        subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, "new-session", "-d", "-s", self.target,
                        "-x", str(width), "-y", str(height), *(["-c", str(cwd)] if cwd else []), command,
                        ";", "set-option", "-t", self.target, "remain-on-exit", "on"],
                       check=True, env=env, capture_output=True, timeout=20)
        found = self("display-message", "-p", "-t", self.target, "#{socket_path}\n#{pid}", check=False).split()
        if len(found) == 2:
            self.socket_path, self.pid = found[0], int(found[1])

    def screen(self, history: bool = False) -> str:
        """The pane's text, wrapped lines joined; with `history`, the lines scrolled off the top too."""
        return self("capture-pane", "-p", "-J", *(["-S", "-"] if history else []), "-t", self.target, check=False)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", self.target, *(["-l"] if literal else []), *keys)

    def wait_screen(self, predicate: Callable[[str], bool], what: str, timeout: float = 60.0,
                    history: bool = False) -> str:
        """The screen once `predicate` holds for it; fails after `timeout` seconds, showing the screen."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(history)
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def kill(self) -> None:
        self("kill-server", check=False)
        deadline = time.monotonic() + 5
        while self.pid and time.monotonic() < deadline:  # our server, gone before its socket file is removed
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


@contextmanager
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()
