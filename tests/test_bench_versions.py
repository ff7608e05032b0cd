"""bench/bench_versions.py refuses a baseline it cannot run, with one line and exit 2, before measuring anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


def versions(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "bench/bench_versions.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("layout", "said"), [
    ((".venv/bin/python",), "has no bench/"),      # a virtualenv but no checkout
    (("bench/run.py",), "has no .venv/bin/python"),  # a checkout nobody installed
    ((".venv/bin/python", "bench/run.py"), "does not run"),  # its interpreter is no program
])
def test_a_baseline_without_bench_or_virtualenv_is_bad_usage(tmp_path, layout, said):
    for name in layout:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    done = versions("--baseline", str(tmp_path), "--quick", "--rounds", "1")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("bench_versions: ") and str(tmp_path) in line and said in line
    assert done.stdout == ""
