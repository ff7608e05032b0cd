"""End to end in a real terminal (tmux): record, `rigscope replay latest`, End, a note, quit; and from
`rigscope demo`, `o` opens a recorded session over the live dashboard and Escape returns to it."""

from __future__ import annotations

import os
import re
import shlex
import sys
import time

from collectors.timeutil import iso_from_us
from tests.conftest import REPO
from tests.replay.conftest import events_of, record_sim, samples, wait_sync
from tests.tmux import needs_tmux, tmux

pytestmark = needs_tmux


def header(screen: str) -> str:
    return next((line for line in screen.splitlines() if "rigscope REPLAY" in line), "")


def rigscope_line(root, *args: str) -> tuple[str, dict[str, str]]:
    """The command line a user types (the shell says how it ended), and its environment."""
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    env["TERM"] = "xterm-256color"
    command = shlex.join([sys.executable, "-m", "rigscope", *args, "--dir", str(root)])
    return f"{command}; echo \"exit status $?\"; sleep 60", env


def test_record_then_replay_latest_end_note_and_quit(tmp_path):
    root = tmp_path / "sessions"
    session = record_sim(root, duration="3m", gpus=1)
    last_ts = samples(session)["ts"][-1]
    with tmux() as term:
        term.start(*[rigscope_line(root, "replay", "latest")[0]], width=160, height=45, cwd=REPO,
                   env=rigscope_line(root)[1])
        # open: playing at x1 from the start (a loaded machine may show it a few seconds in)
        start = term.wait_screen(lambda s: re.search(r"\d:\d\d:\d\d / 0:02:59", header(s)) is not None,
                                   "the replay open", 30)
        term.keys("space")  # pause
        term.wait_screen(lambda s: "❚❚" in header(s), "the pause mark", 10)
        term.keys("End")
        end = term.wait_screen(lambda s: "0:02:59 / 0:02:59" in header(s), "the end of the session", 10)
        assert end != start
        assert iso_from_us(last_ts)[11:19] in header(end)  # the clock of the last sample
        term.keys("n")
        term.wait_screen(lambda s: "Note at" in s, "the note box", 10)
        term.keys("seen in tmux", literal=True)
        term.wait_screen(lambda s: "seen in tmux" in s, "the typed note", 10)
        term.keys("Enter")
        notes = wait_sync(lambda: [e for e in events_of(session) if e.get("kind") == "note"], 10, "the note")
        term.wait_screen(lambda s: "Note at" not in s, "the note box to close", 10)
        term.keys("q")
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope replay to exit", 15)
        assert "exit status 0" in after and f"rigscope: replayed {session}" in after
    assert notes == [{"ts": iso_from_us(last_ts), "kind": "note", "text": "seen in tmux", "source": "replay"}]


def test_demo_o_opens_a_session_plays_it_and_escape_returns_to_live(tmp_path):
    root = tmp_path / "sessions"
    session = record_sim(root, duration="1m", gpus=1)
    # Ids are stamped to the second: a demo started in the same second would be named <session>-2,
    # which the filter below would match too.
    time.sleep(1.05 - time.time() % 1.0)
    command, env = rigscope_line(root, "demo", "--hz", "5")
    with tmux() as term:
        term.start(command, width=80, height=24, cwd=REPO, env=env)
        term.wait_screen(lambda s: "rigscope DEMO" in s and "GPU0" in s, "the live dashboard")
        term.keys("o")
        term.wait_screen(lambda s: "type to filter" in s and session.name in s, "the picker with the session")
        term.keys(session.name, literal=True)  # the demo's own session is listed too: choose the recorded one
        term.wait_screen(lambda s: s.count("nvidia_h100") == 1, "the filter to leave one session")
        term.keys("Enter")
        term.wait_screen(lambda s: "/ 0:00:59" in header(s), "the replay of the recorded session", 20)
        term.keys("End")
        term.wait_screen(lambda s: "0:00:59 / 0:00:59" in header(s), "the end of the recording", 10)
        term.keys("Escape")
        term.wait_screen(lambda s: "rigscope DEMO" in s and not header(s), "the live dashboard again", 20)
        term.keys("q")
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope demo to exit", 30)
        assert "exit status 0" in after and "session saved in" in after
