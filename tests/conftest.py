"""Shared test helpers: run the real command line in a subprocess, find the shared fixtures."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Recorders made by tests put their event sockets in a runtime directory of this test process, and
# probes look there: a test never talks to a rigscope of this user running on this machine, nor to
# the recorders of another test process.
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rs-")
atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], True)
for _name in ("RIGSCOPE_SESSION", "RIGSCOPE_PROBE_UDP", "RIGSCOPE_TOKEN", "RIGSCOPE_PROBE"):
    os.environ.pop(_name, None)
# Sessions recorded without --dir go to the user's data directory: here, a throwaway one, never the home's.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="rigscope-test-data-")
atexit.register(shutil.rmtree, os.environ["XDG_DATA_HOME"], True)
SHARED = REPO.parent / "shared"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment.pop("RIGSCOPE_DIR", None) if env is None or "RIGSCOPE_DIR" not in env else None
    return subprocess.run([sys.executable, "-m", "rigscope", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=environment, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def shared_fixtures() -> Path:
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip("shared fixtures not found beside the repository")
    return path
