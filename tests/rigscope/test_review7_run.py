"""`rigscope run` against hostile conditions: a full disk under output.log, rigscope's own stderr gone,
a scheduler's SIGTERM, a parent run's environment, a working directory that was deleted."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from recordings.output_log import OutputLog
from rigscope.child import Child
from rigscope.run_command import _log_failed


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
