"""docs/module-map.md names only modules and folders that exist, so "where does X live" stays true."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_every_path_in_the_module_map_exists():
    text = (REPO / "docs" / "module-map.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:collectors|recordings|tui|rigscope|tests)/[\w/.]*)`", text))
    assert len(paths) > 30
    missing = sorted(path for path in paths if not (REPO / path).exists())
    assert missing == []
