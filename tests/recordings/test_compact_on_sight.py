"""SESSION_FORMAT: `rigscope repair` *or the next `ls`/`replay` that finds it* compacts an interrupted session.

Only a session whose recorder ran on this host and is gone: one on another host may only be slow to
flush, and a live one is never touched.  Two repairs of one session never run at once.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
from pathlib import Path

import pytest

from recordings.errors import InputError
from recordings.repair import compact_if_abandoned, repair_session
from recordings.session import read_meta, write_json_atomic
from rigscope.app_factory import build_app
from rigscope.replay_command import replay_app
from tests.conftest import run_cli
from tests.recordings.hostile import interrupted
from tests.recordings.report_sessions import record
from tests.replay.conftest import tree_hashes
from tui.replay_source import ReplaySource


def _killed_here(root: Path, host: str | None = None) -> Path:
    """A session as `kill -9` of its recorder on this host (or on `host`) leaves it."""
    session = record(root, seconds=60, hz=2)
    interrupted(session)
    meta = read_meta(session)
    meta["recorder"]["hostname"] = host or socket.gethostname()
    write_json_atomic(session / "meta.json", meta)
    return session


def _compacted(session: Path) -> bool:
    meta = read_meta(session)
    return (meta["status"] == "interrupted" and bool(meta.get("repaired_at"))
            and (session / "samples.parquet").is_file() and not (session / "samples").exists())


def test_ls_compacts_an_interrupted_session_and_says_so(tmp_path):
    session = _killed_here(tmp_path)
    done = run_cli("ls", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert _compacted(session)
    assert done.stderr.splitlines() == [f"rigscope: {session.name}: its recorder is gone; compacting it",
                                        f"rigscope: {session.name}: repaired: 120 samples, status interrupted"]
    assert "repaired" in done.stdout.splitlines()[1]  # listed as it is now
    again = run_cli("ls", "--json", "--dir", str(tmp_path))  # a second ls has nothing to do, and says nothing
    assert again.returncode == 0 and again.stderr == ""
    assert json.loads(again.stdout)[0]["status"] == "repaired"


def test_ls_leaves_a_session_of_another_host_as_it_is(tmp_path):
    """A shared directory: the other host's recorder may be alive and only slow; `rigscope repair` is the user's call."""
    session = _killed_here(tmp_path, host="other-node")
    for path in [*(session / "samples").iterdir(), session / "events.jsonl"]:
        os.utime(path, (1, 1))  # its files stale: it looks dead, and may not be
    before = tree_hashes(session)
    done = run_cli("ls", "--json", "--dir", str(tmp_path))
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)[0]["status"] == "interrupted"
    assert tree_hashes(session) == before


def test_a_live_session_is_never_compacted(tmp_path):
    session = _killed_here(tmp_path)
    meta = read_meta(session)
    meta["recorder"]["pid"] = os.getpid()  # its recorder runs
    write_json_atomic(session / "meta.json", meta)
    before = tree_hashes(session)
    assert compact_if_abandoned(session) is None
    assert tree_hashes(session) == before


def test_replay_compacts_the_session_before_it_opens(tmp_path, capsys):
    session = _killed_here(tmp_path)
    args = argparse.Namespace(speed=1.0, at=None, fps=2.0, ascii=False)
    _, source = replay_app(session, tmp_path, args)
    try:
        assert _compacted(session)
        assert len(source.reader) == 120
    finally:
        source.close()
    assert f"{session.name}: repaired: 120 samples" in capsys.readouterr().err


def test_o_in_the_dashboard_compacts_the_session_it_opens(tmp_path):
    session = _killed_here(tmp_path)
    shown = ReplaySource(record(tmp_path / "other", seconds=10))
    try:
        app = build_app(shown, replay=True, sessions_dir=tmp_path)
        assert app.sessions is not None
        opened = app.sessions.open(session)  # what `o` runs, off the UI thread
        opened.close()
    finally:
        shown.close()
    assert _compacted(session)


def test_a_failed_compaction_is_said_and_the_session_still_opens(tmp_path, monkeypatch):
    """A full disk under the compaction: the answer says why, and replay reads the session as it is."""
    session = _killed_here(tmp_path)
    before = tree_hashes(session)

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("recordings.segments.write_parquet_atomic", full)
    said = compact_if_abandoned(session)
    assert said is not None and said.startswith("not compacted: ") and "disk full" in said
    assert read_meta(session)["status"] == "recording"
    assert {name for name in tree_hashes(session) if not name.endswith(".tmp")} >= set(before)
    args = argparse.Namespace(speed=1.0, at=None, fps=2.0, ascii=False)
    _, source = replay_app(session, tmp_path, args)
    try:
        assert len(source.reader) == 120
    finally:
        source.close()


def test_a_second_repair_of_one_session_is_refused_while_the_first_runs(tmp_path):
    """Two `ls` at once, an `ls` beside a `repair`: one compacts, the other is told, and nothing is done twice."""
    session = _killed_here(tmp_path)
    holder = os.open(session, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process's repair holds the session
        with pytest.raises(InputError, match="being repaired by another process"):
            repair_session(session)
        said = compact_if_abandoned(session)
        assert said is not None and "being repaired by another process" in said
        assert read_meta(session)["status"] == "recording"
    finally:
        os.close(holder)
    assert "repaired: 120 samples" in repair_session(session)


def test_a_complete_session_with_a_leftover_spans_journal_is_left_complete(tmp_path):
    """Its recorder closed it (the spans table could not be made, the journal kept for it): replay and ls read it,
    they do not mark it interrupted."""
    session = record(tmp_path, seconds=10, hz=2)
    (session / "spans.journal").write_text("")
    before = tree_hashes(session)
    assert compact_if_abandoned(session) is None
    assert tree_hashes(session) == before and read_meta(session)["status"] == "complete"


def test_a_repair_killed_before_its_end_is_finished_by_ls(tmp_path):
    session = _killed_here(tmp_path)
    repair_session(session)
    (session / "spans.journal").write_text("")  # what a repair killed between meta.json and the spans table leaves
    said = compact_if_abandoned(session)
    assert said is not None and said.startswith("repaired: ")
    assert not (session / "spans.journal").exists()


def test_o_says_on_screen_that_it_finished_the_session(tmp_path):
    """The status of the session changed when it was opened: the replay says so (a notification)."""
    from tests.waiting import run, wait_until
    from tui.replay_screen import EmbeddedReplayScreen

    session = _killed_here(tmp_path)
    shown = ReplaySource(record(tmp_path / "other", seconds=10))
    app = build_app(shown, replay=True, sessions_dir=tmp_path)

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_replay(session)
            await wait_until(pilot, lambda: isinstance(app.screen, EmbeddedReplayScreen), 20, "the replay")
            said = [n.message for n in app._notifications]
            assert f"{session.name}: repaired: 120 samples, status interrupted" in said, said

    try:
        run(body)
    finally:
        shown.close()
        for source in app.replays:
            source.close()


def test_replay_s_picker_says_on_screen_that_it_finished_the_session(tmp_path):
    """`rigscope replay` without a session: the picker holds the screen while the session is opened, so the replay
    app says what the opening did."""
    from collectors import gc_freeze
    from rigscope.replay_command import app_on, open_replay
    from tests.waiting import run, wait_until

    session = _killed_here(tmp_path)
    args = argparse.Namespace(speed=1.0, at=None, fps=2.0, ascii=False)
    app, source = app_on(open_replay(session, args), tmp_path, args)  # what the picker's Enter gives

    async def body() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: bool(app._notifications), 20, "the notification")
            said = [n.message for n in app._notifications]
            assert f"{session.name}: repaired: 120 samples, status interrupted" in said, said
            await wait_until(pilot, lambda: gc_freeze._holders > 0, 20, "the app's start-up objects held")

    try:
        run(body)
    finally:
        source.close()
    assert gc_freeze._holders == 0  # held once by the app, let go once (the base app's on_mount runs on its own)
