"""Helpers for the replay tests: sessions recorded by the real recorder, the replay app under a pilot, the CLI on a tty.

The sessions come from `rigscope record --source sim --speed max` (virtual time, under a second
for 8 minutes at 2 Hz).  The simulated scenario has one collapse per GPU (detected ≈324 s) and
alerts before it.  Tests never assert on wall-clock playback speed: they pause the player and
wait (bounded) for it to apply the seeks the keys asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from recordings.session import list_sessions
from rigscope.app_factory import build_app
from tests.conftest import REPO
from tests.waiting import run, wait_sync, wait_until  # noqa: F401 (fixtures and helpers the tests use)
from tui.replay_app import ReplayApp
from tui.replay_source import ReplaySource

HZ = 2.0
DURATION = "8m"


def record_sim(directory: Path, *args: str, hz: float = HZ, duration: str = DURATION, gpus: int = 2) -> Path:
    """Record a simulated session in virtual time with the real command line; its path."""
    command = [sys.executable, "-m", "rigscope", "record", "--source", "sim", "--speed", "max",
               "--hz", f"{hz:g}", "--duration", duration, "--gpus-sim", str(gpus), "--dir", str(directory), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"})
    assert done.returncode == 0, done.stderr
    sessions = list_sessions(directory)
    assert sessions, f"no session in {directory}"
    return sessions[-1]


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-minute, 2 Hz, 2-GPU simulated session (read-only: copy it with `session` to write)."""
    return record_sim(tmp_path_factory.mktemp("recorded"))


@pytest.fixture(scope="session")
def recorded_10hz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute, 10 Hz (the default rate), 1-GPU session."""
    return record_sim(tmp_path_factory.mktemp("recorded10"), hz=10, duration="2m", gpus=1)


@pytest.fixture
def session(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recorded session (tests write notes into it)."""
    target = tmp_path / "sessions" / recorded.name
    shutil.copytree(recorded, target)
    return target


def samples(session: Path) -> pl.DataFrame:
    """samples.parquet as the replay reads it: ts as µs since the epoch."""
    return pl.read_parquet(session / "samples.parquet").with_columns(pl.col("ts").dt.epoch("us"))


def events_of(session: Path) -> list[dict[str, Any]]:
    path = session / "events.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


def add_events(session: Path, *events: dict[str, Any]) -> None:
    with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (to prove nothing was modified)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return a == b


def frames_equal(frame: dict[str, Any], row: dict[str, Any]) -> bool:
    return frame.keys() == row.keys() and all(same_value(frame[k], row[k]) for k in row)


# -- async helpers ------------------------------------------------------------
def shown_row(source: ReplaySource) -> float | None:
    """`elapsed_s` of the frame the dashboard would draw now."""
    return source.feed.snapshot(0, ()).frame.get("elapsed_s")


def settled_at(source: ReplaySource, index: int) -> bool:
    """The player applied the seek to `index`: the position and the feed's frame are that row."""
    return source.position == index and shown_row(source) == source.reader.elapsed[index]


async def wait_at(pilot: Any, source: ReplaySource, index: int, timeout: float = 5.0) -> None:
    await wait_until(pilot, lambda: settled_at(source, index), timeout,
                     f"row {index} (position {source.position})")


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*("space" if char == " " else char for char in text))


class Notes:
    """Spy on app.notify: (message, severity) of every notification."""

    def __init__(self, app: ReplayApp) -> None:
        self.seen: list[tuple[str, str]] = []
        original = app.notify

        def spy(message: Any, *args: Any, **kwargs: Any) -> None:
            self.seen.append((str(message), kwargs.get("severity", "information")))
            return original(message, *args, **kwargs)

        app.notify = spy  # type: ignore[method-assign]


def notifications(app: ReplayApp) -> list[tuple[str, str]]:
    """Every notification of an app opened by ReplayHarness: (message, severity)."""
    return app.test_notifications.seen  # type: ignore[attr-defined]


class ReplayHarness:
    """`async with ReplayHarness(session) as (pilot, app, source)`: the replay app, paused, its first frame shown."""

    def __init__(self, session: Path, size: tuple[int, int] = (160, 50), pause: bool = True, **options: Any) -> None:
        self.session, self.size, self.pause, self.options = session, size, pause, options

    async def __aenter__(self) -> tuple[Any, ReplayApp, ReplaySource]:
        self.source = ReplaySource(self.session, **self.options)
        self.app = build_app(self.source, replay=True, fps=4)  # as `rigscope replay` builds it
        self.app.test_notifications = Notes(self.app)  # type: ignore[attr-defined]
        self._test = self.app.run_test(size=self.size)
        try:
            pilot = await self._test.__aenter__()
            await wait_until(pilot, lambda: shown_row(self.source) is not None, 10, "the first frame")
            if self.pause:
                assert self.source.playing
                await pilot.press("space")
                assert not self.source.playing
                await self._settle(pilot)
        except BaseException:
            self.source.close()
            raise
        return pilot, self.app, self.source

    async def _settle(self, pilot: Any) -> None:
        """Paused: wait until the player is idle (a tick in flight when space was pressed may still land)."""
        last, stable = -1, 0
        deadline = time.monotonic() + 5
        while stable < 4 and time.monotonic() < deadline:
            await pilot.pause(0.05)
            here = self.source.position
            stable = stable + 1 if here == last and settled_at(self.source, here) else 0
            last = here

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._test.__aexit__(*exc)
        finally:
            self.source.close()


# -- the command line on a terminal ------------------------------------------------
def run_cli_tty(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`rigscope ARGS` with stdin/stdout on a pseudo-terminal (TERM=xterm-256color), stderr captured.

    `rigscope replay` checks for a terminal before anything else; this gets past that check so
    the errors after it can be seen.  Whatever reaches the terminal is drained and returned as stdout.
    """
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen([sys.executable, "-m", "rigscope", *args], stdin=slave, stdout=slave,
                               stderr=subprocess.PIPE, cwd=REPO, env=env, text=True)
    os.close(slave)
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"rigscope {' '.join(args)} did not exit within {timeout} s (the app started?)") from None
    finally:
        reader.join(timeout=2)
        os.close(master)
    return subprocess.CompletedProcess(process.args, process.returncode,
                                       b"".join(screen).decode(errors="replace"), stderr)
