"""Layer rules: collectors and recordings never import Textual or the TUI; `import rigscope` stays light."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEADLESS = ("collectors", "recordings")


def _modules(package: str) -> list[str]:
    found = [package]
    for info in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
        found.append(info.name)
    return found


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("package", HEADLESS)
def test_headless_modules_do_not_load_textual(package):
    imports = "\n".join(f"import {name}" for name in _modules(package))
    loaded = _imported_after(imports)
    assert not {m for m in loaded if m == "textual" or m.startswith(("textual.", "tui"))}


def test_import_rigscope_loads_nothing_heavy():
    loaded = _imported_after("import rigscope")
    for heavy in ("textual", "polars", "pynvml", "psutil"):
        assert heavy not in loaded


def test_import_linter_contracts_hold():
    beside_python = Path(sys.executable).parent / "lint-imports"
    linter = str(beside_python) if beside_python.exists() else shutil.which("lint-imports") or "lint-imports"
    result = subprocess.run([linter], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
