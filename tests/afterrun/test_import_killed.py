"""`kill -9` at each step of an import: no half-written session is ever visible, `ls` names the
leftovers and the next import removes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recordings.session import list_sessions

REPO = Path(__file__).resolve().parents[2]
# Each kill point replaces one function of the writer by one that dies like kill -9 (os._exit) there,
# after doing its work when `after` is set.
KILL = """
import os, sys
from pathlib import Path
import recordings.importers.writer as writer, recordings.importers.staging as staging
module, name, after = {module}, {name!r}, {after}
real = getattr(module, name)
def dying(*args, **kwargs):
    if after:
        real(*args, **kwargs)
    os._exit(137)
setattr(module, name, dying)
from recordings.importers import import_file
import_file(Path(sys.argv[1]), Path(sys.argv[2]))
"""
POINTS = {
    "writing the samples": ("writer", "write_parquet_atomic", False),
    "after reserving the name": ("writer", "write_json_atomic", False),
    "at the rename": ("staging.os", "rename", False),
    "after the rename": ("staging.os", "rename", True),
}


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_import_leaves_nothing_visible_and_the_next_import_cleans_up(lab, tmp_path, rig, point):
    source, root = lab / "example_baseline_session.csv", tmp_path / "sessions"
    module, name, after = POINTS[point]
    killed = subprocess.run([sys.executable, "-c", KILL.format(module=module, name=name, after=after),
                             str(source), str(root)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert killed.returncode == 137, killed.stderr
    listed = rig("ls", "--dir", str(root))
    if point == "after the rename":  # the session is complete: nothing to clean
        assert len(list_sessions(root)) == 1 and listed.stderr == ""
        assert rig("import", str(source), "--dir", str(root)).stdout.endswith("(skipped)\n")
        return
    assert list_sessions(root) == [] and "no sessions in" in listed.stderr
    (stage,) = [p for p in root.iterdir() if p.name.startswith(".import-")]
    assert f"{stage}: an import that was killed before it finished (the next import removes it)" in listed.stderr
    done = rig("import", str(source), "--dir", str(root))
    assert done.returncode == 0 and done.stdout.startswith(f"removed {stage}: an import that was killed")
    (session,) = root.iterdir()  # the new session only: no staging directory, no empty reservation
    assert list_sessions(root) == [session] and not (session / ".import-target").exists()


def test_a_live_import_is_not_removed(tmp_path, rig):
    root = tmp_path / "sessions"
    live = root / f".import-{__import__('socket').gethostname()}-{__import__('os').getpid()}-abcd1234"
    live.mkdir(parents=True)
    source = tmp_path / "gpu.csv"
    source.write_text("timestamp, utilization.gpu [%]\n2025/06/01 12:00:00.000, 5 %\n")
    assert rig("import", str(source), "--dir", str(root)).returncode == 0
    assert live.is_dir() and rig("ls", "--dir", str(root)).stderr == ""
