"""`rigscope run`'s command: what it wrote before it ended is kept whole, however slowly our own output is read;
what a daemon calls itself is printed inert."""

from __future__ import annotations

import json
import os
import pty
import shlex
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from recordings.output_log import OutputLog
from rigscope import child as child_module
from rigscope.child import Child, StopRequest
from rigscope.cli import main
from tests.conftest import REPO
from tests.waiting import wait_sync

SIZE = 160_000  # our stdout's pipe (64 KiB) full, the relay's 64 KiB chunk waiting on it, the rest in the command's


def test_output_still_in_the_pipe_when_our_stdout_is_slow_is_relayed_and_logged(tmp_path, monkeypatch):
    monkeypatch.setattr(child_module, "DAEMON_WAIT_S", 0.05)  # the wait for the output after the command ends
    read_end, write_end = os.pipe()
    slow = os.fdopen(write_end, "w")  # our stdout: a terminal (or `| less`) that reads late
    log = OutputLog(tmp_path, cap_bytes=1 << 20)
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stdout", slow)
        child = Child([sys.executable, "-c", f"import sys; sys.stdout.buffer.write(b'a' * {SIZE})"],
                      dict(os.environ), log)
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(child.wait(StopRequest())))
    waiter.start()
    received = bytearray()
    try:
        # the command ended and rigscope stopped waiting for its output, none of it read yet
        wait_sync(lambda: child.daemons is not None, 10, "the end of the wait for the output")
        os.set_blocking(read_end, False)
        while waiter.is_alive() or len(received) < SIZE:
            try:
                chunk = os.read(read_end, 65536)
            except BlockingIOError:
                if not waiter.is_alive():
                    break
                waiter.join(0.01)
                continue
            received += chunk
    finally:
        waiter.join(10)
        slow.close()
        os.close(read_end)
    assert codes == [0]
    assert child.daemons == []  # nobody held the output: no note about a daemon
    assert len(received) == SIZE  # before: the 32 KB still in the command's pipe were dropped
    assert (tmp_path / "output.log").read_bytes() == b"a" * SIZE


def test_the_note_about_a_daemon_prints_its_name_inert(tmp_path, capfd):
    """A process names itself (its executable's file name): an escape sequence in it does nothing on our terminal."""
    hostile = tmp_path / "\x1b[2Jx"  # "clear the screen", as /proc/PID/comm shows it
    shutil.copy(shutil.which("sleep") or "/bin/sleep", hostile)
    pid_file = tmp_path / "daemon"
    started = (f"setsid sh -c 'echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec \"$0\" 30' "
               f"{shlex.quote(str(hostile))} & while [ ! -s {pid_file} ]; do sleep 0.02; done")
    try:
        code = main(["run", "--source", "sim", "--speed", "max", "--hz", "10", "--dir", str(tmp_path / "s"),
                     "--baseline", "0s", "--cooldown", "0s", "--", "sh", "-c", started])
        _, err = capfd.readouterr()
    finally:
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    (line,) = [line for line in err.splitlines() if "still held by" in line]
    assert code == 0 and "\x1b" not in line and "\\x1b[2Jx" in line, line


def test_stopping_a_command_that_ignores_the_first_signals_says_what_it_does(tmp_path, monkeypatch, capfd):
    """Ctrl-C on a command that ignores SIGINT and SIGTERM: each step is said at once, not 8 silent seconds."""
    monkeypatch.setattr(child_module, "GRACE_S", (0.2, 0.2))
    code = "import signal, sys, time; [signal.signal(s, signal.SIG_IGN) for s in (2, 15)]; print('up', flush=True); time.sleep(60)"
    child = Child([sys.executable, "-c", code], dict(os.environ), OutputLog(tmp_path))
    wait_sync(lambda: (tmp_path / "output.log").read_bytes() == b"up\n", 10, "the command's signals ignored")
    stop = StopRequest()
    stop.request(signal.SIGINT)  # Ctrl-C
    assert child.wait(stop) == 128 + signal.SIGKILL
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("rigscope: ")]
    assert said == ["rigscope: stopping the command: SIGINT to its process group (SIGTERM in 0.2 s, then SIGKILL)",
                    "rigscope: the command is still running after 0.2 s: SIGTERM",
                    "rigscope: the command is still running after 0.2 s: SIGKILL"], said


def _hang_up(argv: list[str], ready: bytes, tmp_path) -> tuple[int, dict]:
    """Run rigscope `argv` on a terminal, drop the terminal once `ready` was written (SIGHUP, and writes to it fail
    from then on, as when ssh drops); its exit code and its session's meta.json."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", argv[0], "--dir", str(tmp_path), *argv[1:]],
                                stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env)
    os.close(slave)
    seen = b""
    try:
        while ready not in seen:
            seen += os.read(master, 4096)
    finally:
        os.close(master)
    rigscope.send_signal(signal.SIGHUP)
    code = rigscope.wait(30)
    (session,) = [p for p in tmp_path.iterdir() if (p / "meta.json").is_file()]
    return code, json.loads((session / "meta.json").read_text())


def test_a_dropped_terminal_closes_the_session_as_interrupted_with_the_commands_exit(tmp_path):
    """ssh drops during `rigscope run` (SIGHUP, and the terminal is gone): as at Ctrl-C, nothing left unclosed."""
    code, meta = _hang_up(["run", "--source", "sim", "--speed", "max", "--hz", "10", "--baseline", "0s",
                           "--cooldown", "0s", "--", sys.executable, "-c",
                           "import time; print('U' + 'P', flush=True); time.sleep(60)"], b"UP", tmp_path)
    assert code == 128 + signal.SIGHUP  # as a shell says
    assert meta["status"] == "interrupted" and isinstance(meta["run"]["exit_code"], int), meta


def test_a_dropped_terminal_ends_a_recording_as_ctrl_c_does(tmp_path):
    """`rigscope record` on a terminal that goes away: the session closes complete with what it sampled (it died of
    the signal and was left recording), and the lines it says at the end go nowhere instead of failing."""
    code, meta = _hang_up(["record", "--source", "sim", "--hz", "10"], b"recording ", tmp_path)
    assert code == 0
    assert meta["status"] == "complete" and not meta.get("error"), meta


def test_under_nohup_a_dropped_terminal_leaves_the_recording_going(tmp_path):
    """`nohup rigscope record &`, then ssh drops (SIGHUP): the recording goes on, as nohup asked (rigscope's own
    SIGHUP handler replaced nohup's and closed it); a SIGTERM later ends it complete."""
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "record", "--source", "sim", "--hz", "10", "--dir",
                                 str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # as nohup does
    try:
        assert rigscope.stdout is not None
        while b"recording " not in rigscope.stdout.readline():
            pass
        rigscope.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            rigscope.wait(1.5)  # still recording
        rigscope.send_signal(signal.SIGTERM)
        assert rigscope.wait(30) == 0
    finally:
        rigscope.kill()
    (session,) = [p for p in tmp_path.iterdir() if (p / "meta.json").is_file()]
    assert json.loads((session / "meta.json").read_text())["status"] == "complete"


def test_a_stop_asked_from_a_signal_handler_in_the_middle_of_a_wait_never_deadlocks():
    """The stop is asked from signal handlers, which run in the main thread between any two of its steps, also while
    that thread is inside the request's own `wait`. A threading.Event there takes a lock its wait holds: the handler
    never returned, and Ctrl-C stopped nothing. Here the handler runs at every step of a wait."""
    stop = StopRequest()
    asked = threading.Event()

    lines = [0]

    def trace(frame, event, arg):  # the "handler" at the wait's second line (an Event's: its lock held there)
        if event == "line" and frame.f_code.co_name == "wait" and not asked.is_set():
            lines[0] += 1
            if lines[0] == 2:
                asked.set()
                stop.request(signal.SIGTERM)
        return trace

    done: list[bool] = []

    def wait_traced() -> None:
        sys.settrace(trace)
        try:
            done.append(stop.wait(5))
        finally:
            sys.settrace(None)

    waiter = threading.Thread(target=wait_traced, daemon=True)
    waiter.start()
    waiter.join(10)
    assert done == [True] and stop.signum == signal.SIGTERM and stop.exit_code == 143
