"""Helpers for the after-the-run tests: a simulated session recorded once, lab fixtures, snapshots of a tree."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from rigscope.cli import main
from tests.conftest import run_cli

LAB = ("example_baseline_session.csv", "laptop__rle_20251030_19.csv", "laptop__rle_20251030_20.csv",
       "pc__rle_20251027_09.csv", "pc__rle_20251028_08.csv",
       "reproducibility_test_1__rle_data_20251028_195412.csv",
       "workload_independence_gpu_inference__rle_data_20251028_200822.csv")


@pytest.fixture(scope="session")
def sim_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute, 2 Hz, 2-GPU simulated session (read-only; copy it to change it)."""
    root = tmp_path_factory.mktemp("sim")
    done = run_cli("record", "--source", "sim", "--speed", "max", "--hz", "2", "--duration", "2m",
                   "--gpus-sim", "2", "--dir", str(root))
    assert done.returncode == 0, done.stderr
    (session,) = root.iterdir()
    return session


@pytest.fixture
def lab(shared_fixtures: Path) -> Path:
    return shared_fixtures / "rle-legacy"


@pytest.fixture
def realworld(shared_fixtures: Path) -> Path:
    """Files other projects wrote (SOURCES.md says where each comes from)."""
    return shared_fixtures / "realworld"


@pytest.fixture(autouse=True)
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Naive times in the files read as UTC, whatever zone the machine running the tests is in."""
    monkeypatch.setenv("TZ", "UTC")


def copy_session(session: Path, root: Path, name: str | None = None) -> Path:
    target = root / (name or session.name)
    shutil.copytree(session, target)
    return target


def snapshot(root: Path) -> dict[str, tuple[str, float]]:
    """Every file under `root` with its content hash and mtime: equal snapshots mean nothing was modified."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
            for p in sorted(root.rglob("*")) if p.is_file()}


def samples_of(item) -> pl.DataFrame:
    """The raw samples an importer read (a long file's come piece by piece; reading them counts skipped rows)."""
    return pl.concat(list(item.frames()))


def one_clear_line(done) -> str:
    """The command failed with one line on stderr, exit 1, no traceback; that line."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("rigscope: error: ")
    return lines[0]


@pytest.fixture
def rig():
    """The real command line, in this process (fast); the same result shape as the `cli` fixture."""

    def call(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        previous = Path.cwd()
        try:
            if cwd is not None:
                os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as stop:
                    code = int(stop.code or 0)
        finally:
            os.chdir(previous)
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    return call
