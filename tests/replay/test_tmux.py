"""End to end in a real terminal (tmux, on a private server socket): record, replay latest, End, a note, quit."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from collectors.timeutil import iso_from_us
from tests.conftest import REPO
from tests.replay.conftest import events_of, record_sim, samples, wait_sync

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server of our own (`tmux -L <unique>`), killed after the test; never the user's."""

    def __init__(self) -> None:
        self.socket = f"rigscope-replay-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = ""
        self.pid = 0

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "replay")

    def wait_screen(self, predicate, timeout: float = 20, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        deadline = time.monotonic() + 5
        while self.pid and time.monotonic() < deadline:  # our server, gone before its socket file is removed
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if self.path and os.path.exists(self.path):  # our own socket file, left behind by some tmux versions
            os.unlink(self.path)


def header(screen: str) -> str:
    return next((line for line in screen.splitlines() if "rigscope REPLAY" in line), "")


def test_record_then_replay_latest_end_note_and_quit(tmp_path):
    root = tmp_path / "sessions"
    session = record_sim(root, duration="3m", gpus=1)
    last_ts = samples(session)["ts"][-1]
    rc_file = tmp_path / "rc"
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    command = (f"{shlex.quote(sys.executable)} -m rigscope replay latest --dir {shlex.quote(str(root))}; "
               f"echo $? > {shlex.quote(str(rc_file))}; sleep 60")
    tmux = Tmux()
    try:
        subprocess.run(["tmux", "-L", tmux.socket, "-f", os.devnull, "new-session", "-d", "-s", "replay",
                        "-x", "160", "-y", "45", "-c", str(REPO), command], check=True, env=env, timeout=10)
        tmux.path, pid = tmux("display-message", "-p", "-t", "replay", "#{socket_path}\n#{pid}").split()
        tmux.pid = int(pid)
        start = tmux.wait_screen(lambda s: "0:00:00 / 0:02:59" in header(s), 30, "the replay at its start")
        tmux("send-keys", "-t", "replay", "space")  # pause
        tmux.wait_screen(lambda s: "❚❚" in header(s), 10, "the pause mark")
        tmux("send-keys", "-t", "replay", "End")
        end = tmux.wait_screen(lambda s: "0:02:59 / 0:02:59" in header(s), 10, "the end of the session")
        assert end != start
        assert iso_from_us(last_ts)[11:19] in header(end)  # the clock of the last sample
        tmux("send-keys", "-t", "replay", "n")
        tmux.wait_screen(lambda s: "Note at" in s, 10, "the note box")
        tmux("send-keys", "-t", "replay", "-l", "seen in tmux")
        tmux.wait_screen(lambda s: "seen in tmux" in s, 10, "the typed note")
        tmux("send-keys", "-t", "replay", "Enter")
        notes = wait_sync(lambda: [e for e in events_of(session) if e.get("kind") == "note"], 10, "the note")
        tmux.wait_screen(lambda s: "Note at" not in s, 10, "the note box to close")
        tmux("send-keys", "-t", "replay", "q")
        wait_sync(lambda: rc_file.exists() and rc_file.read_text().strip(), 15, "rigscope replay to exit")
        assert rc_file.read_text().strip() == "0"
        after = tmux.screen()
        assert f"rigscope: replayed {session}" in after.replace("\n", "")
    finally:
        tmux.kill()
    assert notes == [{"ts": iso_from_us(last_ts), "kind": "note", "text": "seen in tmux", "source": "replay"}]
