"""The TUI's data side never touches devices: feed, sparkline and format load neither psutil nor pynvml."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_feed_sparkline_format_import_no_device_library():
    probe = ("import sys\nimport tui.feed, tui.sparkline, tui.format\n"
             "print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = set(out.stdout.split())
    assert {"tui.feed", "tui.sparkline", "tui.format"} <= loaded
    for device_library in ("psutil", "pynvml"):
        assert not {m for m in loaded if m == device_library or m.startswith(f"{device_library}.")}
    assert "textual" not in loaded  # the feed is plain Python, drawn by the app
