"""End to end in real terminals (tmux) on a headless `rigscope record`: attach, see live values, a note,
detach with q while the recorder goes on; a viewer killed with -9; the recorder killed under a viewer."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rigscope.attach_client import AttachClient
from tests.conftest import REPO, run_cli
from tests.tmux import needs_tmux, tmux
from tests.waiting import wait_sync

pytestmark = needs_tmux


@pytest.fixture
def recorder(tmp_path: Path):
    """`rigscope record --source sim` in the background, as `nohup` would leave it: (process, session folder)."""
    root = tmp_path / "sessions"
    process = subprocess.Popen([sys.executable, "-m", "rigscope", "record", "--source", "sim", "--gpus-sim", "2",
                                "--hz", "10", "--dir", str(root)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    session = wait_sync(lambda: next(root.glob("*/meta.json"), None), 30, "the session folder").parent
    wait_sync(lambda: attach_socket(session), 30, "the attach socket in meta.json")
    yield process, session
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)


def attach_socket(session: Path) -> str | None:
    try:
        path = json.loads((session / "meta.json").read_text())["monitoring"]["attach_socket"]
    except (OSError, ValueError, KeyError):
        return None
    return path if path and os.path.exists(path) else None


def attach_line(*args: str) -> tuple[str, dict[str, str]]:
    env = {**os.environ, "TERM": "xterm-256color"}
    return f"{shlex.join([sys.executable, '-m', 'rigscope', 'attach', *args])}; echo \"exit status $?\"; sleep 60", env


def header(screen: str) -> str:
    return next((line for line in screen.splitlines() if "rigscope ATTACHED" in line), "")


def notes(session: Path) -> list[dict[str, Any]]:
    lines = (session / "events.jsonl").read_text().splitlines() if (session / "events.jsonl").exists() else []
    return [e for e in map(json.loads, lines) if e.get("kind") == "note"]


def test_attach_note_detach_and_the_recorder_goes_on(recorder) -> None:
    process, session = recorder
    command, env = attach_line("latest")
    with tmux() as term:
        term.start(command, width=160, height=45, cwd=REPO, env=env)
        shown = term.wait_screen(lambda s: session.name in header(s), "the ATTACHED header", 30)
        term.wait_screen(lambda s: re.search(r"\d+/\d+ W", s) is not None, "live values", 15)
        second = AttachClient(attach_socket(session))  # a second viewer at the same time
        term.keys("n")
        term.wait_screen(lambda s: "Note at" in s, "the note box", 10)
        term.keys("typed in tmux", literal=True)
        term.wait_screen(lambda s: "typed in tmux" in s, "the typed note", 10)
        term.keys("Enter")
        wait_sync(lambda: any(n.get("text") == "typed in tmux" for n in notes(session)), 10, "the note saved")
        seen = next(m for m in second.messages()
                    if m["t"] == "batch" and any(e.get("text") == "typed in tmux" for e in m["events"]))
        assert seen  # the other viewer sees the note too
        second.close()
        term.keys("q")
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope attach to exit", 15)
    assert "exit status 0" in after and "the recorder goes on" in after and "ATTACHED" in header(shown)
    assert process.poll() is None  # still recording
    assert attach_socket(session)


def test_a_viewer_killed_with_9_leaves_the_recorder_going(recorder) -> None:
    process, session = recorder
    viewer = subprocess.Popen([sys.executable, "-c", "import sys, time; from rigscope.attach_client import "
                               "AttachClient; c = AttachClient(sys.argv[1]); print('attached', flush=True); "
                               "time.sleep(600)", attach_socket(session)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert viewer.stdout.readline().strip() == "attached"
    viewer.kill()
    viewer.wait(10)
    client = AttachClient(attach_socket(session))  # the recorder still serves, and still samples
    states = (m["recording"]["samples"] for m in client.messages() if m["t"] == "state")
    first, second = next(states), next(states)
    client.close()
    assert second > first and process.poll() is None


def test_the_recorder_killed_under_a_viewer(recorder) -> None:
    process, session = recorder
    command, env = attach_line(session.name)
    with tmux() as term:
        term.start(command, width=160, height=45, cwd=REPO, env=env)
        term.wait_screen(lambda s: re.search(r"\d+/\d+ W", s) is not None, "live values", 30)
        process.kill()
        process.wait(10)
        shown = term.wait_screen(lambda s: "in replay?" in s, "the offer of the replay", 15)
        assert "The recorder is gone" in shown
        term.keys("n")  # no replay: the dashboard stays up
        term.keys("q")
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope attach to exit", 15)
    assert "exit status 0" in after and "has died" in after


def test_the_live_dashboard_offers_to_attach_instead_of_sampling_twice(recorder) -> None:
    _, session = recorder
    env = {**os.environ, "TERM": "xterm-256color"}
    command = f"{shlex.join([sys.executable, '-m', 'rigscope', '--dir', str(session.parent)])}; echo \"exit status $?\"; sleep 60"
    with tmux() as term:
        term.start(command, width=160, height=45, cwd=REPO, env=env)
        term.wait_screen(lambda s: "Attach to it instead of sampling twice? [Y/n]" in s, "the offer", 30)
        term.keys("Enter")
        term.wait_screen(lambda s: session.name in header(s), "the ATTACHED header", 30)
        term.keys("q")
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope to exit", 15)
    assert "detached from" in after
    assert len(list(session.parent.iterdir())) == 1  # no second session was started


def test_without_a_terminal_to_ask_on_the_live_dashboard_says_how_in_one_line(recorder, tmp_path: Path) -> None:
    _, session = recorder
    env = {**os.environ, "TERM": "xterm-256color"}
    own = tmp_path / "own"
    line = shlex.join(["timeout", "-s", "TERM", "4", sys.executable, "-m", "rigscope", "--source", "sim",
                       "--dir", str(own)])
    command = f"{line} < /dev/null; echo \"exit status $?\"; sleep 60"  # no keys come: SIGTERM ends it
    with tmux() as term:
        term.start(command, width=160, height=45, cwd=REPO, env=env)
        after = term.wait_screen(lambda s: "exit status" in s, "rigscope to exit", 30)
    assert f"recorder {session.name} already runs; rigscope attach {session.name} shows it" in after
    assert "session saved in" in after and next(own.glob("*/meta.json"))  # and it started its own


def test_no_recorder_to_attach_to() -> None:
    result = run_cli("attach", env={"XDG_RUNTIME_DIR": os.path.join(os.environ["XDG_RUNTIME_DIR"], "none")})
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "no running recorder" in result.stderr
