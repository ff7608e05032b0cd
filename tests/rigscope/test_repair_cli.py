"""`rigscope repair` on the command line: a live session of another host is refused in one line; --force."""

from __future__ import annotations

from rigscope.cli import main
from tests.recordings.test_recorder import crash_like


def test_repair_refuses_a_live_remote_session_in_one_line_and_force_overrides(tmp_path, capsys):
    session, table = crash_like(tmp_path, host="other-node")  # its journal was written a moment ago
    assert main(["repair", str(session)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "still recording on other-node" in err and "--force" in err
    assert main(["repair", str(session), "--force"]) == 0
    assert f"repaired: {table.height} samples" in capsys.readouterr().out
