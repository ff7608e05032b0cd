"""The command of `rigscope run`: started in its own process group, its output relayed and logged.

stdout and stderr go to rigscope's own stdout and stderr byte for byte, and into the
session's output log. The child runs in a new session (its own process group), so a
terminal's Ctrl-C reaches rigscope only; rigscope then stops the whole group: SIGINT,
then SIGTERM, then SIGKILL, with a grace period between them, and no process of the group
is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO

from recordings.output_log import OutputLog

GRACE_S = (5.0, 3.0)  # after SIGINT, after SIGTERM
_CHUNK = 65536


class Child:
    def __init__(self, command: Sequence[str], env: dict[str, str], log: OutputLog) -> None:
        """Start it; FileNotFoundError / PermissionError when the command cannot be run."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self.process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)
        self.started = time.monotonic()
        self.wall_s: float | None = None  # from start to exit, once it exited
        self.log = log
        self._relays = [threading.Thread(target=self._relay, args=(pipe, out, name), daemon=True)
                        for pipe, out, name in ((self.process.stdout, sys.stdout, "stdout"),
                                                (self.process.stderr, sys.stderr, "stderr"))]
        for relay in self._relays:
            relay.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _relay(self, pipe: IO[bytes] | None, out: IO[str], name: str) -> None:
        assert pipe is not None
        echo = True
        while chunk := os.read(pipe.fileno(), _CHUNK):
            self.log.write(chunk, name)
            if echo:
                try:
                    _echo(out, chunk)
                except (OSError, ValueError):  # our own output went away (a closed pipe): keep logging
                    echo = False
        pipe.close()

    def wait(self, stop: threading.Event, on_poll: Callable[[], None] | None = None) -> int:
        """The exit code once it ends; when `stop` is set first, the group is stopped and its code returned."""
        while True:
            try:
                code = self.process.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    code = self.stop_group()
                    break
                if on_poll is not None:
                    on_poll()
        self.wall_s = time.monotonic() - self.started
        self._finish()
        return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says

    def stop_group(self) -> int:
        for sig, grace in ((signal.SIGINT, GRACE_S[0]), (signal.SIGTERM, GRACE_S[1]), (signal.SIGKILL, None)):
            self._signal_group(sig)
            try:
                return self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
        raise AssertionError("unreachable: SIGKILL was waited for without a timeout")

    def _finish(self) -> None:
        self._signal_group(signal.SIGKILL)  # what the command left running in its group
        for relay in self._relays:
            relay.join(5.0)
        self.log.close()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _echo(out: IO[str], chunk: bytes) -> None:
    target = getattr(out, "buffer", None)
    if target is not None:
        target.write(chunk)
        target.flush()
    else:  # a text stream without bytes underneath (e.g. a test's capture)
        out.write(chunk.decode(errors="replace"))
        out.flush()
