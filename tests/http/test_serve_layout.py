"""Serving is a sink in a package of its own, and it reads the session through a narrow interface, not the monitor."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import rigscope.serve
from tests.conftest import REPO


def test_no_serving_module_imports_the_monitor():
    modules = [info.name for info in pkgutil.walk_packages(rigscope.serve.__path__, prefix="rigscope.serve.")]
    assert {"rigscope.serve.http_server", "rigscope.serve.feed", "rigscope.serve.wiring"} <= set(modules)
    probe = "import sys\n" + "".join(f"import {name}\n" for name in modules) + "print('rigscope.monitor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_the_package_says_what_it_holds():
    assert rigscope.serve.__doc__ == ("Sinks that serve a running session to others: HTTP and Prometheus now, "
                                      "the attach publisher later.")
    for gone in ("exporter", "prometheus", "exposition"):
        assert not (REPO / "collectors" / f"{gone}.py").exists()


def test_the_export_names_session_files_by_the_recordings_names():
    import ast

    tree = ast.parse((REPO / "rigscope" / "serve" / "reports.py").read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None}
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}
    files = {"meta.json", "samples.parquet", "samples.csv", "spans.parquet", "spans.csv", "events.jsonl"}
    assert strings & files == set()
