"""A new session is its user's only: folder 0700, files 0600; `--shared-dir` keeps the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rigscope.cli import main

RECORD = ["record", "--source", "sim", "--speed", "max", "--duration", "2s", "--hz", "10", "--format", "both"]


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(session: Path) -> dict[str, int]:
    return {p.relative_to(session.parent).as_posix(): stat.S_IMODE(p.stat().st_mode)
            for p in [session, *session.rglob("*")]}


def test_a_new_session_is_private_by_default(tmp_path, umask_022, capsys):
    assert main([*RECORD, "--dir", str(tmp_path)]) == 0
    (session,) = tmp_path.iterdir()
    found = modes(session)
    assert any(name.endswith("meta.json") for name in found) and any(name.endswith(".parquet") for name in found)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)}
    assert wrong == {}
    assert os.umask(0o022) == 0o022  # the command gave the umask back


def test_shared_dir_keeps_the_umask(tmp_path, umask_022, capsys):
    assert main([*RECORD, "--dir", str(tmp_path), "--shared-dir"]) == 0
    (session,) = tmp_path.iterdir()
    found = modes(session)
    assert found[session.name] == 0o755
    assert all(mode == (0o755 if (tmp_path / name).is_dir() else 0o644) for name, mode in found.items())
