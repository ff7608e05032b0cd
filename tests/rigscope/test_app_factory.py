"""One app factory: the command line, the tests and the benchmarks build the app through rigscope.app_factory."""

from __future__ import annotations

import ast
from pathlib import Path

from rigscope.app_factory import build_app
from tests.conftest import REPO
from tests.tui.test_snapshots import FrozenSource
from tui.app import RigscopeApp
from tui.replay_app import ReplayApp

APP_CLASSES = {"RigscopeApp", "ReplayApp"}


def test_only_the_factory_builds_the_app():
    builders = []
    for folder in ("rigscope", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in APP_CLASSES:
                    builders.append(str(path.relative_to(REPO)))
    assert builders == []  # rigscope/app_factory.py picks the class first, then builds it


def test_the_factory_wires_what_the_command_line_gives(tmp_path: Path):
    source = FrozenSource(1, seconds=2.0)
    app = build_app(source, fps=4.0, ascii_only=True, sessions_dir=tmp_path, readonly=True,
                    presets={"1": ("note", "here")})
    assert type(app) is RigscopeApp and app.sessions is not None and app.sessions.root == tmp_path
    assert app.options.readonly and app.options.ascii_only and app.options.fps == 4.0
    assert app.options.presets == {"1": ("note", "here")}
    replay = build_app(source, replay=True)
    assert type(replay) is ReplayApp and replay.sessions is None
