"""What a newcomer's terminal shows (tmux at 80x24 and 160x50): help and quit, GPU memory, rendered reports."""

from __future__ import annotations

import shlex
import sys

import pytest

from tests.conftest import REPO, run_cli
from tests.tmux import needs_tmux, tmux
from tests.tui.conftest import read_meta, wait_file


def _rigscope(*args: str) -> str:
    command = shlex.join([sys.executable, "-m", "rigscope", *args])
    return f"cd {shlex.quote(str(REPO))} && env -u RIGSCOPE_DIR {command}; echo \"exit status $?\""


@needs_tmux
@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 50)])
def test_demo_shows_help_quit_and_gpu_memory_and_ctrl_c_quits(tmp_path, width, height):
    with tmux() as term:
        term.start(_rigscope("demo", "--dir", str(tmp_path), "--hz", "5"), width, height)
        screen = term.wait_screen(lambda s: "/79.6G" in s and "GPU3" in s, "the GPU panels with their memory")
        footer = screen.rstrip("\n").splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer
        term.keys("C-c")
        term.wait_screen(lambda s: "exit status" in s, "rigscope to quit on Ctrl-C", 30)
        said = term("capture-pane", "-p", "-J", "-S", "-", "-t", term.target)  # with what scrolled off
    (session,) = tmp_path.iterdir()
    assert f"{session.name} (" in said and "exit status 0" in said  # where it was saved, then a clean exit
    wait_file(lambda: read_meta(session).get("status") == "complete", 10, "the session closed")


@needs_tmux
def test_report_on_a_terminal_draws_its_tables(tmp_path):
    recorded = run_cli("record", "--source", "sim", "--speed", "max", "--duration", "20s", "--dir", str(tmp_path))
    assert recorded.returncode == 0, recorded.stderr
    with tmux() as term:
        term.start(_rigscope("report", "latest", "--dir", str(tmp_path)), 100, 200)
        screen = term.wait_screen(lambda s: "exit status" in s, "the report")
    assert "exit status 0" in screen and "Workload time per state" in screen
    assert "|---" not in screen and "| state |" not in screen and "──" in screen  # drawn, not raw markdown
