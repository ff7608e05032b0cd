"""The recording path under hostile conditions: a full disk at each write, a kill at each step of a segment's
landing and of the close, a session folder removed or made read-only while recording.

The disk fills by injection (an OSError(ENOSPC), or what polars raises on it) at the writer's boundary; a few
checks use a real tiny tmpfs where this user may mount one (root), and are skipped elsewhere.
"""

from __future__ import annotations

import errno

from recordings import recorder as recorder_module
from rigscope import cli


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_the_start_of_record_is_one_line_and_leaves_no_empty_session(tmp_path, monkeypatch, capsys):
    """Before: a traceback (the first meta.json write), and a session folder without meta.json was left."""
    monkeypatch.setattr(recorder_module, "write_json_atomic", _enospc)
    code = cli.main(["record", "--source", "sim", "--speed", "max", "--duration", "2s", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "disk full" in line and str(tmp_path) in line
    assert list(tmp_path.iterdir()) == []
