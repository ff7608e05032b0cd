"""The command of `rigscope run`: started in its own process group, its output relayed and logged.

stdout and stderr go to rigscope's own stdout and stderr byte for byte, and into the
session's output log. The child runs in a new session (its own process group), so a
terminal's Ctrl-C reaches rigscope only; rigscope then stops the whole group: the signal it
got (SIGINT, a scheduler's SIGTERM, SIGHUP), then SIGTERM, then SIGKILL, with a grace period
for the whole group (workers may outlive their launcher) between them. What the command
leaves in its group when it ends is killed and named, so no process of the group is left behind.
Ctrl-Z stops the group with rigscope, and continuing rigscope continues it.

The command never outlives rigscope, even when rigscope is killed with SIGKILL: on Linux the
kernel sends the child SIGKILL when rigscope dies (PR_SET_PDEATHSIG), and a small watchdog
shell, reading a pipe that only rigscope holds, kills the whole group when the pipe closes
without rigscope having said it is done. A process that left the group on purpose (a
double-forked daemon) is not killed; when it still holds the command's output, rigscope says
so in one line and waits at most DAEMON_WAIT_S for that output to end.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO

from recordings.inert import inert
from recordings.output_log import OutputLog
from rigscope.local_channel import SESSION_ENV
from rigscope.process_table import group_members, group_states, inheritors, pipe_holders
from rigscope.terminal import tell

GRACE_S = (5.0, 3.0)  # after the first signal (SIGINT at Ctrl-C), after SIGTERM (a first SIGTERM gets both)
KILL_WAIT_S = 10.0  # after SIGKILL: a process still there is stuck in a kernel call (a hung GPU driver)
_GROUP_POLL_S = 0.05  # how often a stopping group is looked at
DAEMON_WAIT_S = 1.0  # how long the output may stay open once the command's group has ended
_CHUNK = 65536
_DRAIN_CHUNKS = 16  # at most this many chunks taken from a pipe once it is no longer waited for (a daemon writes on)
_PR_SET_PDEATHSIG = 1
# Reads one line from rigscope; end of file before "done" means rigscope died: the group goes too.
_WATCHDOG = 'read -r line; [ "$line" = done ] || kill -s KILL -- "-$1" 2>/dev/null'


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # looked up before any fork: the child only calls it


def _dies_with(parent: int) -> Callable[[], None] | None:
    """A preexec function (run after setsid) that has the kernel kill the child when `parent` dies."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # rigscope died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _watchdog(group: int) -> subprocess.Popen[bytes] | None:
    """The shell that kills `group` if rigscope dies; None where it cannot start (prctl still covers the child)."""
    try:
        return subprocess.Popen(["sh", "-c", _WATCHDOG, "rigscope-watchdog", str(group)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


class StopRequest:
    """Set when rigscope is asked to stop; `signum` is the signal that asked (SIGINT at Ctrl-C, SIGQUIT at Ctrl-\\,
    a scheduler's SIGTERM, SIGHUP when the terminal went away), the first one the command's group gets.

    Asked from signal handlers, which run in the main thread between any two of its steps: `request` takes no lock
    (a threading.Event's, held by the main thread inside its own `wait`, would never be let go), it sets plain
    fields and wakes `wait` through a SimpleQueue, whose put is re-entrant."""

    def __init__(self) -> None:
        self.signum: int = signal.SIGINT
        self.requests = 0  # how many times it was asked: each after the first takes the next step at once
        self._asked = False
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()

    def request(self, signum: int) -> None:
        self.requests += 1
        if not self._asked:
            self.signum = signum
            self._asked = True
        self._wake.put(None)

    def is_set(self) -> bool:
        return self._asked

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it was asked, once it is or `timeout` seconds have passed."""
        if not self._asked:
            with contextlib.suppress(queue.Empty):
                self._wake.get(timeout=timeout)
        return self._asked

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # as a shell says


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal, which has no name of its own
        return f"signal {number}"


def _ladder(first: int) -> list[tuple[signal.Signals, float]]:
    """The signals that stop the command's group, each with the seconds it is given to end."""
    if first == signal.SIGTERM:
        return [(signal.SIGTERM, sum(GRACE_S)), (signal.SIGKILL, KILL_WAIT_S)]
    return [(signal.Signals(first), GRACE_S[0]), (signal.SIGTERM, GRACE_S[1]), (signal.SIGKILL, KILL_WAIT_S)]


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_dies_with(os.getpid()))


class Child:
    def __init__(self, command: Sequence[str], env: dict[str, str], log: OutputLog) -> None:
        """Start it; FileNotFoundError / PermissionError when the command cannot be run.

        PR_SET_PDEATHSIG follows the thread that started the child: create a Child in a thread
        that outlives it (rigscope run uses its main thread)."""
        for stream in (sys.stdout, sys.stderr):  # ours first, in order (one gone is no reason not to start)
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        try:
            self.process = _start(list(command), env)
        except OSError as error:
            if error.errno != errno.ENOEXEC:
                raise
            # An executable file with no #! line: execvp and a shell run it with sh.
            program = shutil.which(command[0], path=env.get("PATH")) or command[0]
            self.process = _start(["sh", program, *command[1:]], env)
        self.started = time.monotonic()
        self.wall_s: float | None = None  # from start to exit, once it exited
        self.signal: str | None = None  # the signal that killed it ("SIGSEGV"), once it was killed by one
        self.log = log
        # Once the output outlived the group: (pid, name) of the processes that held it, as far as /proc tells.
        self.daemons: list[tuple[int, str]] | None = None
        # Once it ended: (pid, name) of the processes it started that run on outside its group (daemons).
        self.strays: list[tuple[int, str]] = []
        self._inherited = f"{SESSION_ENV}={env[SESSION_ENV]}" if SESSION_ENV in env else None
        self._watchdog = _watchdog(self.process.pid)
        self._pipes = [os.fstat(pipe.fileno()).st_ino for pipe in (self.process.stdout, self.process.stderr) if pipe]
        self._abandon_r, self._abandon_w = os.pipe()  # written once the output is no longer waited for
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

        def pass_on(chunk: bytes) -> bool:
            nonlocal echo
            if not chunk:
                return False
            self.log.write(chunk, name)
            if echo:
                try:
                    _echo(out, chunk)
                except (OSError, ValueError):  # our own output went away (a closed pipe): keep logging
                    echo = False
            return True

        poller = select.poll()
        poller.register(pipe.fileno(), select.POLLIN)
        poller.register(self._abandon_r, select.POLLIN)
        while all(fd != self._abandon_r for fd, _ in poller.poll()):
            if not pass_on(os.read(pipe.fileno(), _CHUNK)):
                break
        else:  # no longer waited for: what the pipe already holds is still passed on (our output may be slow)
            os.set_blocking(pipe.fileno(), False)
            try:
                for _ in range(_DRAIN_CHUNKS):
                    if not pass_on(os.read(pipe.fileno(), _CHUNK)):
                        break
            except BlockingIOError:
                pass
        pipe.close()

    def wait(self, stop: StopRequest, on_poll: Callable[[], None] | None = None) -> int | None:
        """The exit code once it ends; when `stop` is set first, the group is stopped and its code returned (None
        when it could not be: stuck in the kernel)."""
        stopped = False
        code: int | None
        while True:
            try:
                code = self.process.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    code, stopped = self.stop_group(stop), True
                    break
                if on_poll is not None:
                    on_poll()
        self.wall_s = time.monotonic() - self.started
        self._finish(stopped)
        if code is None or code >= 0:
            return code
        self.signal = _signal_name(-code)
        return 128 - code  # killed by signal N: 128 + N, as a shell says

    def stop_group(self, stop: StopRequest) -> int | None:
        """Stop the command's group, beginning with the signal rigscope got, saying each step on stderr (a command
        may ignore the first signals). Each step waits for the whole group (workers may outlive their launcher),
        until its grace period ends or rigscope is asked again. The exit code; None when even SIGKILL did not end
        it (a process stuck in a kernel call)."""
        ladder = _ladder(stop.signum)
        steps = [f"{ladder[1][0].name} in {ladder[0][1]:g} s"] + [sig.name for sig, _ in ladder[2:]]
        say(f"stopping the command: {ladder[0][0].name} to its process group ({', then '.join(steps)})")
        waited: float | None = None
        hurried = False
        for sig, grace in ladder:
            if hurried:
                say(f"asked again: {sig.name} now")
            elif waited is not None:
                say(f"the command is still running after {waited:g} s: {sig.name}")
            waited, asked = grace, stop.requests
            self._signal_group(sig)
            if self._group_ends_within(grace, stop, asked):
                return self.process.wait()
            hurried = stop.requests > asked
        stuck = ", ".join(f"pid {pid} ({inert(name)}, state {state})" for pid, name, state in group_states(self.pid))
        say(f"the command does not end after SIGKILL ({stuck}): stuck in the kernel (a hung driver call?); "
            f"going on without it")
        return None

    def pass_on(self, sig: int) -> None:
        """A signal meant for the command (a signal handler's): to its whole process group."""
        self._signal_group(sig)

    def suspend(self) -> None:
        """Ctrl-Z (a SIGTSTP handler): the command's group stops with rigscope and continues with it (fg, bg)."""
        self._signal_group(signal.SIGSTOP)  # (its SIGTSTP would be discarded: the group is orphaned, in its own session)
        handler = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTSTP)  # rigscope stops here until continued
        signal.signal(signal.SIGTSTP, handler)
        self._signal_group(signal.SIGCONT)

    def _group_ends_within(self, seconds: float, stop: StopRequest, asked: int) -> bool:
        """True once the group has ended; False after `seconds`, or once asked more than `asked` times."""
        deadline = time.monotonic() + seconds
        while self.process.poll() is None or group_members(self.process.pid):
            if time.monotonic() >= deadline or stop.requests > asked:
                return False
            time.sleep(_GROUP_POLL_S)
        return True

    def _finish(self, stopped: bool) -> None:
        left = [] if stopped else group_members(self.process.pid)  # (once stopped, the ladder said it all)
        if left:
            named = ", ".join(f"pid {pid} ({inert(name)})" for pid, name in left)  # names they chose
            say(f"note: the command left {named} running in its process group: killed")
        self._signal_group(signal.SIGKILL)  # so that the cooldown and the next baseline are idle
        self._release_watchdog()
        deadline = time.monotonic() + DAEMON_WAIT_S
        for relay in self._relays:
            relay.join(max(0.0, deadline - time.monotonic()))
        if any(relay.is_alive() for relay in self._relays):  # a process outside the group holds the output
            inside = set(group_members(self.pid))  # (one stuck in the kernel, said as such)
            self.daemons = sorted({holder for inode in self._pipes for holder in pipe_holders(inode)} - inside)
            os.write(self._abandon_w, b"x")
            for relay in self._relays:
                relay.join()
        os.close(self._abandon_r)
        os.close(self._abandon_w)
        self.log.close()
        if self._inherited is not None:
            self.strays = inheritors(self._inherited, outside=self.process.pid)

    def _release_watchdog(self) -> None:
        """Tell the watchdog rigscope is done: it then leaves without killing anything."""
        watchdog = self._watchdog
        if watchdog is None:
            return
        try:
            if watchdog.stdin is not None and not watchdog.stdin.closed:
                watchdog.stdin.write(b"done\n")
                watchdog.stdin.close()
            watchdog.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            watchdog.kill()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def say(message: str) -> None:
    """One line of rigscope's own on stderr (the command's output goes to stdout and stderr as it is)."""
    tell(f"rigscope: {message}")


def _echo(out: IO[str], chunk: bytes) -> None:
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # a text stream without a file underneath (e.g. a test's capture)
        out.write(chunk.decode(errors="replace"))
        out.flush()
        return
    view = memoryview(chunk)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # set non-blocking by a program sharing our terminal (node does): wait for room
            room = select.poll()
            room.register(fd, select.POLLOUT)
            room.poll()
