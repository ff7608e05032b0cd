"""`rigscope run` as real training jobs meet it: a full disk (under output.log, under the recording), rigscope's own
output gone or non-blocking, a scheduler's SIGTERM, nohup, Ctrl-Z, Ctrl-C twice, a launcher and its workers,
daemons, a parent run's environment, a deleted working directory, scripts without #! or without their interpreter,
two runs at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from recordings.events import read_events
from recordings.output_log import OutputLog
from rigscope import child as child_module
from rigscope.child import Child, StopRequest
from rigscope.cli import main
from rigscope.run_command import _log_failed
from rigscope.terminal import tell
from tests.conftest import REPO
from tests.rigscope.test_writer_failures import ENOSPC_TEXT, FAST, INJECTED, _cli_with_full_disk
from tests.waiting import wait_sync

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
    waiter = threading.Thread(target=lambda: finished.append(child.wait(StopRequest())), daemon=True)
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


def _wait_for(path: Path, text: str = "") -> None:
    wait_sync(lambda: path.is_file() and text in path.read_text(), 30, f"{path.name} to say {text!r}")


def _catching(seen: Path, signals: str) -> str:
    """A command that writes 'ready ' to `seen`, then the name of the first of `signals` it gets, and exits 0."""
    return (f"import signal, sys, time\n"
            f"def got(signum, frame):\n"
            f"    open({str(seen)!r}, 'a').write(signal.Signals(signum).name + ' ')\n"
            f"    sys.exit(0)\n"
            f"for s in ({signals},): signal.signal(s, got)\n"
            f"open({str(seen)!r}, 'w').write('ready ')\n"
            f"time.sleep(60)")


def _signalled(tmp_path: Path, seen: Path, code: str, *sent: signal.Signals,
               preexec_fn: Callable[[], object] | None = None) -> tuple[int, str]:
    """`rigscope run` of `code` until it wrote 'ready ' to `seen`, then `sent` to rigscope: its exit code, its stderr."""
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path / "s"),
                                 "--baseline", "0", "--cooldown", "0", "--", sys.executable, "-c", code],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=preexec_fn)
    try:
        _wait_for(seen, "ready")
        for signum in sent:
            rigscope.send_signal(signum)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    return rigscope.returncode, err


def test_a_scheduler_s_sigterm_reaches_the_command_as_sigterm_and_rigscope_exits_143(tmp_path):
    """Slurm or Kubernetes stops a job with SIGTERM, which a training script catches to save a checkpoint. rigscope
    passes on the signal it got, not SIGINT (a KeyboardInterrupt in the middle of a step), and exits 128 + 15 as a
    shell does."""
    seen = tmp_path / "seen"
    code = _catching(seen, "signal.SIGINT, signal.SIGTERM, signal.SIGHUP")
    returncode, err = _signalled(tmp_path, seen, code, signal.SIGTERM)
    assert seen.read_text() == "ready SIGTERM ", err
    assert returncode == 128 + signal.SIGTERM, err
    assert "stopping the command: SIGTERM to its process group (SIGKILL in 8 s)" in err
    (session,) = (tmp_path / "s").iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["run"]["exit_code"] == 0


def test_workers_get_their_grace_when_the_launcher_exits_first(tmp_path, capfd):
    """A launcher (torchrun, a shell script) that exits at Ctrl-C while its workers still save their state: the
    workers have the grace period too. Before, rigscope saw the launcher gone and killed the group at once."""
    saved, ready = tmp_path / "saved", tmp_path / "ready"
    worker = (f"import signal, time\n"
              f"def got(*_):\n"
              f"    time.sleep(0.5); open({str(saved)!r}, 'w').write('saved'); raise SystemExit(0)\n"
              f"signal.signal(signal.SIGINT, got)\n"
              f"open({str(ready)!r}, 'w').write('up')\n"
              f"time.sleep(60)")
    launcher = (f"import os, signal, subprocess, sys\n"
                f"signal.signal(signal.SIGINT, lambda *_: os._exit(1))\n"
                f"subprocess.Popen([sys.executable, '-c', {worker!r}]).wait()")
    child = Child([sys.executable, "-c", launcher], dict(os.environ), OutputLog(tmp_path))
    _wait_for(ready, "up")
    stop = StopRequest()
    stop.request(signal.SIGINT)  # Ctrl-C
    assert child.wait(stop) == 1
    assert saved.is_file(), capfd.readouterr().err


def test_processes_the_command_left_in_its_group_are_named_when_they_are_killed(tmp_path, capfd):
    """The command ends and leaves a process running in its group: it is killed (the cooldown is idle), and said."""
    pid_file = tmp_path / "pid"
    child = Child(["sh", "-c", f"sleep 30 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}"],
                  dict(os.environ), OutputLog(tmp_path))
    assert child.wait(StopRequest()) == 0
    left = int(pid_file.read_text())
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("rigscope: ")]
    assert said == [f"rigscope: note: the command left pid {left} (sleep) running in its process group: killed"]
    wait_sync(lambda: not psutil.pid_exists(left) or psutil.Process(left).status() == psutil.STATUS_ZOMBIE, 10)


def test_a_run_inside_a_run_with_probe_udp_gets_its_own_command_s_events(tmp_path, monkeypatch):
    """`rigscope run --probe-udp -- sh -c 'rigscope run -- python train.py'`: the inner run has no UDP channel,
    so its command must not inherit the outer one's. Before, train.py's probe sent its events over UDP to the outer
    recorder (the outer token let them in) and the inner session, the one RIGSCOPE_SESSION names, had none."""
    outer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    outer.bind(("127.0.0.1", 0))
    outer.setblocking(False)
    monkeypatch.setenv("RIGSCOPE_PROBE_UDP", str(outer.getsockname()[1]))
    monkeypatch.setenv("RIGSCOPE_TOKEN", "outer-token")
    code = "import rigscope, time; rigscope.tag('eval'); time.sleep(0.5)"
    try:
        assert main(["run", *SIM, "--dir", str(tmp_path), "--baseline", "0", "--cooldown", "1s", "--",
                     sys.executable, "-c", code]) == 0
        with pytest.raises(BlockingIOError):
            outer.recv(65536)
    finally:
        outer.close()
    (session,) = tmp_path.iterdir()
    tags = [e["state"] for e in read_events(session / "events.jsonl") if e["kind"] == "tag"]
    assert "eval" in tags, tags


def test_a_working_directory_deleted_under_the_shell_is_no_traceback(tmp_path, monkeypatch, capsys):
    """A shell whose directory was deleted (a cleaned-up job folder) still runs commands; so does rigscope run, and
    meta.json says the directory is unknown. Before: a traceback, and the session it had opened stayed `recording`."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert main(["run", *SIM, "--dir", str(tmp_path / "s"), "--baseline", "0", "--cooldown", "0", "--",
                 "sh", "-c", "exit 5"]) == 5
    (session,) = (tmp_path / "s").iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["run"]["cwd"] is None and meta["run"]["exit_code"] == 5


def test_a_command_killed_by_a_signal_is_told_from_one_that_exited_with_the_same_code(tmp_path, capsys):
    """A CUDA crash (SIGSEGV) or the OOM killer (SIGKILL) ends the command: the exit code is 128 + N as a shell says,
    and meta.json and the last line name the signal, which `exit 139` alone could not."""
    flags = ["run", *SIM, "--dir", str(tmp_path), "--baseline", "0", "--cooldown", "0", "--"]
    assert main([*flags, "sh", "-c", "kill -SEGV $$"]) == 128 + signal.SIGSEGV
    assert capsys.readouterr().err.splitlines()[-1].endswith(", exit code 139 (killed by SIGSEGV)")
    assert main([*flags, "sh", "-c", "exit 139"]) == 139
    assert capsys.readouterr().err.splitlines()[-1].endswith(", exit code 139")
    killed, exited = (json.loads((session / "meta.json").read_text())["run"] for session in sorted(tmp_path.iterdir()))
    assert (killed["exit_code"], killed["signal"]) == (139, "SIGSEGV")
    assert (exited["exit_code"], exited["signal"]) == (139, None)


def test_an_executable_script_without_a_shebang_runs_under_sh_as_from_a_shell(tmp_path, capfd):
    """`./train.sh` made executable but with no `#!` line: a shell (and execvp) runs it with sh. Before, it failed
    after the whole baseline with 'exec format error', exit 126."""
    script = tmp_path / "train.sh"
    script.write_text('echo "args: $1|$2"; exit 4\n')
    script.chmod(0o755)
    assert main(["run", *SIM, "--dir", str(tmp_path / "s"), "--baseline", "0", "--cooldown", "0", "--",
                 str(script), "a b", "c"]) == 4
    assert capfd.readouterr().out == "args: a b|c\n"
    (session,) = (tmp_path / "s").iterdir()
    run = json.loads((session / "meta.json").read_text())["run"]
    assert run["exit_code"] == 4 and run["command"] == [str(script), "a b", "c"]


def test_ctrl_c_again_takes_the_next_step_at_once(tmp_path, monkeypatch, capfd):
    """A command that ignores SIGINT: the second Ctrl-C sends SIGTERM now instead of after the grace period (here a
    minute, which the test never waits out)."""
    monkeypatch.setattr(child_module, "GRACE_S", (60.0, 60.0))
    seen = tmp_path / "seen"
    code = (f"import signal, sys, time\n"
            f"signal.signal(signal.SIGINT, lambda *_: open({str(seen)!r}, 'a').write('INT '))\n"
            f"open({str(seen)!r}, 'w').write('ready ')\n"
            f"while True: time.sleep(1)")
    child = Child([sys.executable, "-c", code], dict(os.environ), OutputLog(tmp_path))
    _wait_for(seen, "ready")
    stop = StopRequest()
    stop.request(signal.SIGINT)
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(child.wait(stop)), daemon=True)
    waiter.start()
    try:
        _wait_for(seen, "INT")
        stop.request(signal.SIGINT)
        waiter.join(30)
    finally:
        child.process.kill()
        waiter.join(10)
    assert codes == [128 + signal.SIGTERM]
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("rigscope: ")]
    assert said[-1] == "rigscope: asked again: SIGTERM now", said


def test_a_full_disk_in_the_cooldown_keeps_the_command_s_failure(tmp_path):
    """The command failed (exit 7), then the disk filled during the cooldown: the exit code says the command
    failed, as when the disk fills while it runs (it was 1, the recording's failure, hiding the command's)."""
    result = _cli_with_full_disk("samples", "run", *FAST, "--baseline", "0", "--cooldown", "60s",
                                 "--dir", str(tmp_path), "--", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    assert "recording stopped" in result.stderr and "Traceback" not in result.stderr
    (session,) = tmp_path.iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["run"]["exit_code"] == 7, meta


def test_ctrl_z_stops_the_command_with_rigscope_and_fg_continues_both(tmp_path):
    """Ctrl-Z reaches rigscope only (the command has a session of its own): the command's group stops with it, as a
    shell's job would, and continues with it. Before, the command ran on unrecorded until its output pipe filled."""
    pid_file = tmp_path / "pid"
    code = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True: time.sleep(0.05)"
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path / "s"),
                                 "--baseline", "0", "--cooldown", "0", "--", sys.executable, "-c", code],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(pid_file)
        wait_sync(lambda: pid_file.read_text(), 10)
        command = psutil.Process(int(pid_file.read_text()))
        rigscope.send_signal(signal.SIGTSTP)  # what the terminal sends at Ctrl-Z
        wait_sync(lambda: psutil.Process(rigscope.pid).status() == psutil.STATUS_STOPPED, 10, "rigscope to stop")
        wait_sync(lambda: command.status() == psutil.STATUS_STOPPED, 10, "the command to stop")
        rigscope.send_signal(signal.SIGCONT)  # fg
        wait_sync(lambda: command.status() != psutil.STATUS_STOPPED, 10, "the command to go on")
        rigscope.send_signal(signal.SIGINT)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    assert rigscope.returncode == 130, err


def test_a_daemon_that_let_go_of_the_output_is_still_named(tmp_path, capfd):
    """The command starts a daemon (`setsid`, output to /dev/null: a tensorboard, a data server) and ends. It is not
    rigscope's to kill, but it would go on using the machine through the cooldown and the next baseline unseen:
    one line names it. Before, only a daemon that held the command's output was said."""
    pid_file = tmp_path / "daemon"
    started = (f"setsid sh -c 'echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 30' "
               f"</dev/null >/dev/null 2>&1 & while [ ! -s {pid_file} ]; do sleep 0.02; done")
    try:
        assert main(["run", *SIM, "--dir", str(tmp_path / "s"), "--baseline", "0", "--cooldown", "0", "--",
                     "sh", "-c", started]) == 0
        daemon = int(pid_file.read_text())
        said = [line for line in capfd.readouterr().err.splitlines() if "outside its process group" in line]
        # named as it runs when rigscope looks: `sleep`, or `sh` a moment before its exec
        assert said in ([f"rigscope: note: pid {daemon} ({name}), started by the command, runs on outside its "
                         f"process group (a daemon?); not stopped"] for name in ("sleep", "sh")), said
        assert psutil.pid_exists(daemon)
    finally:
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_recording_that_fails_while_the_command_runs_is_said_at_once(tmp_path):
    """The disk fills an hour into a ten-hour training: the user learns it then, not when the training ends. The
    command here waits (10 s at most) for rigscope's line about it before it ends."""
    err = tmp_path / "err"
    waits = f"for i in $(seq 200); do grep -q 'recording stop[p]ed' {err} && echo seen && exit 0; sleep 0.05; done; exit 9"
    with err.open("w") as stderr:
        result = subprocess.run([sys.executable, "-c", INJECTED.format(table="samples", text=ENOSPC_TEXT), "run",
                                 *FAST, "--baseline", "0", "--cooldown", "0", "--dir", str(tmp_path / "s"), "--",
                                 "sh", "-c", waits], cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                timeout=60)
    said = err.read_text()
    assert result.stdout == "seen\n" and result.returncode == 1, said
    assert "rigscope: error: recording stopped: disk full" in said and "the command runs on, unrecorded" in said


def test_two_runs_at_once_in_one_folder_keep_apart(tmp_path):
    """Two `rigscope run` started in the same second into one sessions folder: two sessions, two groups, and each
    command's probe tags reach its own session only."""
    gate = tmp_path / "gate"  # both commands tag once both runs are up
    runs = [subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path / "s"),
                              "--baseline", "0", "--cooldown", "0", "--", sys.executable, "-c",
                              f"import os, time, rigscope\n"
                              f"open({str(gate)!r} + '{name}', 'w').close()\n"
                              f"while not all(os.path.exists({str(gate)!r} + n) for n in 'ab'): time.sleep(0.02)\n"
                              f"rigscope.tag('phase_{name}'); time.sleep(0.3)"],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for name in "ab"]
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    sessions = sorted((tmp_path / "s").iterdir())
    metas = [json.loads((session / "meta.json").read_text()) for session in sessions]
    assert len(sessions) == 2 and metas[0]["group_id"] != metas[1]["group_id"]
    tags = [sorted(e["state"] for e in read_events(session / "events.jsonl") if e.get("source") == "probe")
            for session in sessions]
    assert sorted(tags) == [["phase_a"], ["phase_b"]], tags


def test_stdin_reaches_the_command_and_its_bytes_come_back_as_they_are(tmp_path):
    """The command reads rigscope's stdin; what it writes (not UTF-8, an escape sequence, a last line without a
    newline) reaches stdout and output.log byte for byte."""
    written = b"line\n\xff\xfe\x1b[31m" + b"no newline"
    code = "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data)"
    result = subprocess.run([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path), "--baseline", "0",
                             "--cooldown", "0", "--", sys.executable, "-c", code], input=written, cwd=REPO,
                            capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stdout == written, result.stderr
    (session,) = tmp_path.iterdir()
    assert (session / "output.log").read_bytes() == written


def test_under_nohup_a_dropped_terminal_leaves_the_run_going(tmp_path):
    """`nohup rigscope run -- python train.py`: the ssh session drops (SIGHUP), and the training must go on, as nohup
    asked. Before, rigscope put its own SIGHUP handler over nohup's and stopped the command. (A SIGTERM then ends
    the test's run: it is the first signal the command gets.)"""
    seen = tmp_path / "seen"
    returncode, err = _signalled(tmp_path, seen, _catching(seen, "signal.SIGINT, signal.SIGTERM"),
                                 signal.SIGHUP, signal.SIGTERM,
                                 preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # as nohup does
    assert seen.read_text() == "ready SIGTERM ", err
    assert returncode == 128 + signal.SIGTERM, err


def test_a_script_whose_interpreter_is_gone_is_127_before_the_baseline(tmp_path, capsys):
    """`./train.py` starting `#!/home/me/venv/bin/python`, the venv deleted: a shell says so and exits 127; so does
    rigscope, at once. Before, it waited out the whole baseline (2 minutes by default), then failed the session."""
    script = tmp_path / "train.py"
    script.write_text("#!/nonexistent/venv/bin/python -u\nprint('trained')\n")
    script.chmod(0o755)
    assert main(["run", *SIM, "--dir", str(tmp_path / "s"), "--baseline", "10m", "--", str(script)]) == 127
    assert capsys.readouterr().err == (f"rigscope: error: {script}: its interpreter /nonexistent/venv/bin/python "
                                       f"was not found\n")
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


def test_a_terminal_set_non_blocking_by_another_program_still_gets_all_the_output(tmp_path, monkeypatch):
    """The command's stdin is rigscope's terminal; a program that sets it non-blocking (node does, so does asyncio on
    a pipe) sets rigscope's stdout so too, when both are one open terminal. A full terminal then made a write fail
    with EAGAIN, and rigscope silently stopped showing the command's output for the rest of the run."""
    size = 300_000
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    slow = os.fdopen(write_end, "w")  # our stdout: a slow terminal (an ssh link), non-blocking
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stdout", slow)
        child = Child([sys.executable, "-c", f"import sys; sys.stdout.buffer.write(b'a' * {size})"],
                      dict(os.environ), OutputLog(tmp_path, cap_bytes=1 << 20))
    received = bytearray()

    def read_slowly() -> None:
        while chunk := os.read(read_end, 4096):
            received.extend(chunk)
            time.sleep(0.002)

    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    try:
        assert child.wait(StopRequest()) == 0
    finally:
        slow.close()
        reader.join(30)
        os.close(read_end)
    assert len(received) == size


def test_rigscope_s_own_line_on_a_full_non_blocking_terminal_waits_for_room(monkeypatch):
    """As above, for rigscope's own lines on stderr: a full terminal is no terminal gone (they went to /dev/null)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filled = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            filled += os.write(write_end, b"x" * 4096)
    err = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stderr", err)
    saying = threading.Thread(target=tell, args=("rigscope: a line",))
    saying.start()
    saying.join(0.5)  # with room to wait for, it waits; gone to /dev/null, it has returned
    received = bytearray()
    try:
        while len(received) < filled + len(b"rigscope: a line\n"):
            if len(received) >= filled and not saying.is_alive():  # (gone to /dev/null: nothing more comes)
                break
            received.extend(os.read(read_end, 65536))
    finally:
        saying.join(30)
        err.close()
    os.set_blocking(read_end, False)
    with contextlib.suppress(BlockingIOError):
        received.extend(os.read(read_end, 65536))
    os.close(read_end)
    assert bytes(received[filled:]) == b"rigscope: a line\n"


def test_a_script_saved_with_windows_line_ends_is_127_before_the_baseline(tmp_path, capsys):
    """`#!/bin/sh\\r`: the kernel looks for '/bin/sh\\r', which is not there (a shell says 'bad interpreter'). The
    line says so with the \\r made visible. Before, it passed the look-up and failed its session after the baseline."""
    script = tmp_path / "train.sh"
    script.write_bytes(b"#!/bin/sh\r\necho trained\r\n")
    script.chmod(0o755)
    assert main(["run", *SIM, "--dir", str(tmp_path / "s"), "--baseline", "10m", "--", str(script)]) == 127
    assert capsys.readouterr().err == f"rigscope: error: {script}: its interpreter /bin/sh\\x0d was not found\n"
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


def test_ctrl_backslash_quits_the_command_and_closes_the_session(tmp_path):
    """Ctrl-\\ (SIGQUIT), what one presses when Ctrl-C does not work: passed on to the command as a shell's
    foreground job gets it, and the session is closed, exit 131. Before, rigscope died of it on the spot: the
    command was killed (SIGKILL, with rigscope) and the session stayed `recording`."""
    seen = tmp_path / "seen"
    returncode, err = _signalled(tmp_path, seen, _catching(seen, "signal.SIGQUIT"), signal.SIGQUIT)
    assert seen.read_text() == "ready SIGQUIT ", err
    assert returncode == 128 + signal.SIGQUIT, err
    (session,) = (tmp_path / "s").iterdir()
    assert json.loads((session / "meta.json").read_text())["status"] == "interrupted"


def test_slurm_s_sigusr1_before_the_time_limit_reaches_the_command(tmp_path):
    """`#SBATCH --signal=USR1@90`: Slurm warns the job step (rigscope) with SIGUSR1 so the training can save and
    requeue (PyTorch Lightning listens for it). It is passed on to the command, which runs on; in the baseline it
    does nothing. Before, SIGUSR1's default action ended rigscope on the spot, and the command with it."""
    seen = tmp_path / "seen"
    code = (f"import signal, sys, time\n"
            f"note = lambda signum, frame: open({str(seen)!r}, 'a').write(signal.Signals(signum).name + ' ')\n"
            f"signal.signal(signal.SIGUSR1, note)\n"
            f"signal.signal(signal.SIGINT, lambda *args: (note(*args), sys.exit(0)))\n"
            f"open({str(seen)!r}, 'w').write('ready ')\n"
            f"time.sleep(60)")
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--dir", str(tmp_path / "s"),
                                 "--baseline", "0", "--cooldown", "0", "--", sys.executable, "-c", code],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(seen, "ready")
        rigscope.send_signal(signal.SIGUSR1)
        _wait_for(seen, "SIGUSR1")
        rigscope.send_signal(signal.SIGINT)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    assert seen.read_text() == "ready SIGUSR1 SIGINT ", err
    assert rigscope.returncode == 130, err


def test_sigusr1_in_the_baseline_does_not_end_the_run(tmp_path):
    sessions = tmp_path / "s"
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", "--source", "sim", "--hz", "10",
                                 "--baseline", "10m", "--dir", str(sessions), "--", "true"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_sync(lambda: sessions.is_dir() and list(sessions.iterdir()), 60, "the session")
        rigscope.send_signal(signal.SIGUSR1)
        rigscope.send_signal(signal.SIGINT)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    assert rigscope.returncode == 130, err


def test_a_command_stuck_in_the_kernel_does_not_hold_rigscope_for_ever(tmp_path, monkeypatch, capfd):
    """A process in a hung GPU driver call (state D) does not die of SIGKILL until the call returns, which may be
    never. Ctrl-C then ends rigscope's wait after a bound, with a line that says so, and the exit code is unknown.
    Before, rigscope waited for it without a word, for ever. (SIGKILL is held back here to stand for the stuck
    kernel call.)"""
    monkeypatch.setattr(child_module, "GRACE_S", (0.1, 0.1))
    monkeypatch.setattr(child_module, "KILL_WAIT_S", 0.3)
    code = "import signal, time; [signal.signal(s, signal.SIG_IGN) for s in (2, 15)]; print('up', flush=True); time.sleep(60)"
    child = Child([sys.executable, "-c", code], dict(os.environ), OutputLog(tmp_path))
    real = child._signal_group
    monkeypatch.setattr(child, "_signal_group", lambda sig: None if sig == signal.SIGKILL else real(sig))
    wait_sync(lambda: (tmp_path / "output.log").read_bytes() == b"up\n", 10, "the command's signals ignored")
    stop = StopRequest()
    stop.request(signal.SIGINT)
    codes: list[int | None] = []
    waiter = threading.Thread(target=lambda: codes.append(child.wait(stop)), daemon=True)
    waiter.start()
    waiter.join(30)
    child.process.kill()
    waiter.join(10)
    assert codes == [None] and child.signal is None
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("rigscope: ")]
    assert said[-1] == (f"rigscope: the command does not end after SIGKILL (pid {child.pid} ({Path(sys.executable).name[:15]}, "
                        f"state S)): stuck in the kernel (a hung driver call?); going on without it"), said


def test_repeats_that_stop_early_say_why(tmp_path, capsys):
    """--repeat 3 whose first command fails: the repeats stop there (docs/runs.md), and the group's line says why,
    not only '1 of 3 sessions'."""
    assert main(["run", *SIM, "--dir", str(tmp_path), "--baseline", "0", "--cooldown", "0", "--repeat", "3", "--",
                 "sh", "-c", "exit 7"]) == 7
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("rigscope: group ") and ": 1 of 3 sessions; stopped: repeat 1 ended with exit code 7 (" in last
