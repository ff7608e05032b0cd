"""`rigscope run` against hostile conditions: a full disk under output.log, rigscope's own stderr gone,
a scheduler's SIGTERM, a parent run's environment, a working directory that was deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from recordings.output_log import OutputLog
from rigscope.child import Child
from rigscope.run_command import _log_failed
from tests.conftest import REPO

SIM = ["--source", "sim", "--speed", "max", "--hz", "10"]


def _full_log(folder: Path) -> OutputLog:
    """An output log whose every write fails as on a full disk (the kernel's /dev/full)."""
    (folder / "output.log").symlink_to("/dev/full")
    return OutputLog(folder, on_error=_log_failed)


def test_a_full_disk_under_the_output_log_never_stalls_the_command(tmp_path, capfd):
    """The disk fills while the command prints: it runs on to its end (its output still shows), the user is
    told once, and meta.json's output_log says why it stopped. Before, the relay died with a traceback and the
    command hung for ever on its full stdout pipe."""
    log = _full_log(tmp_path)
    code = "import sys\nfor i in range(20000): print('x' * 99)\nprint('done', file=sys.stderr)"
    child = Child([sys.executable, "-c", code], dict(os.environ), log)
    finished: list[int] = []
    waiter = threading.Thread(target=lambda: finished.append(child.wait(threading.Event())), daemon=True)
    waiter.start()
    waiter.join(30)
    if waiter.is_alive():
        child.process.kill()
        waiter.join(10)
    out, err = capfd.readouterr()
    assert finished == [0] and out.count("x" * 99) == 20000, err
    assert err.count("output.log") == 1 and "No space left on device" in err and "Traceback" not in err, err
    assert "done" in err.splitlines()
    meta = log.meta()
    assert meta["error"] == "No space left on device" and meta["bytes_written"] == 0 and meta["bytes_seen"] > 0


def test_rigscope_s_own_output_gone_never_stops_the_run(tmp_path):
    """`rigscope run -- train.py 2>&1 | head`: head ends, and with it rigscope's stdout and stderr. The command still
    runs, the session closes complete and the exit code is the command's. Before, rigscope's next line of its own
    raised BrokenPipeError: it exited 0 at once, the command never ran, the session stayed `recording`."""
    marker = tmp_path / "ran"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) has gone before rigscope says anything
    try:
        rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path / "s"),
                                     "--baseline", "1s", "--cooldown", "1s", "--", "sh", "-c",
                                     f"echo out; echo err >&2; touch {marker}; exit 7"],
                                    cwd=REPO, stdout=write_end, stderr=write_end)
    finally:
        os.close(write_end)
    assert rigscope.wait(60) == 7
    assert marker.exists()
    (session,) = (tmp_path / "s").iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["run"]["exit_code"] == 7
    assert (session / "output.log").read_text() in ("out\nerr\n", "err\nout\n")
