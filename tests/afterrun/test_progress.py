"""`rigscope import` draws a progress bar on a terminal and prints nothing extra when piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.afterrun.conftest import LAB
from tests.conftest import REPO


def _import(lab, root, stderr):
    files = [str(lab / name) for name in LAB[:2]]
    return subprocess.run([sys.executable, "-m", "rigscope", "import", *files, "--dir", str(root)],
                          stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO, timeout=60)


def test_a_bar_on_a_terminal_and_nothing_extra_when_piped(lab, tmp_path):
    piped = _import(lab, tmp_path / "s", subprocess.PIPE)
    assert piped.returncode == 0 and piped.stderr == ""
    lines = [line for line in piped.stdout.splitlines() if not line.startswith("  ")]
    assert len(lines) == 3 and lines[2] == "2 files: 2 imported, 0 skipped (imported before), 0 refused"
    assert lines[0].startswith(f"{lab / LAB[0]}: rle-lab v1 (16 columns), 50 samples -> {tmp_path / 's'}/")
    assert lines[1].startswith(f"{lab / LAB[1]}: rle-lab 19 columns, 431 samples -> ")
    leader, follower = pty.openpty()
    try:
        shown = _import(lab, tmp_path / "t", follower)
        os.close(follower)
        drawn = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
    assert shown.returncode == 0
    assert "2/2" in drawn and "━" in drawn  # the bar's last state is drawn before it is cleared


def test_import_tells_its_progress_through_the_recompute(lab, tmp_path, monkeypatch):
    from recordings import analyze
    from recordings.importers import import_file

    monkeypatch.setattr(analyze, "CHUNK_ROWS", 1000)  # 4,954 ticks: five chunks
    told: list[float] = []
    import_file(lab / "pc__rle_20251027_09.csv", tmp_path / "s", on_progress=told.append)
    assert told == sorted(told) and told[0] == 0.2 and told[-1] == 1.0 and len(told) == 1 + 5 + 1
    assert told[1] == pytest.approx(0.2 + 0.8 * 1000 / 4954)
