"""`rigscope run [flags] -- CMD ARGS...`: a recorded session around a command, with checks and repeats.

Each repeat is one session: a baseline tagged `baseline`, the command tagged `run` (its probe
may tag finer phases), a cooldown tagged `cooldown`; then the checks over the session's
summary go into meta.json. The exit code is the command's, 3 when a check failed, 127 when
the command was not found (126: not executable), 128 + N when signal N stopped the run (130 at Ctrl-C).

On the simulated source sped up (`--speed N|max`) the baseline and cooldown pass in the
simulation's time but the command runs in real time, so its wall time, its samples and the
tags its probe sends are real (collectors/phased_clock.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.clock import Clock
from collectors.event_kinds import EventKind
from collectors.phased_clock import PhasedClock
from recordings.checks import Check, CheckError, checks_table, parse_check, validate_checks
from recordings.inert import inert
from recordings.output_log import OutputLog
from recordings.report import write_session_report
from recordings.session import read_meta, write_json_atomic
from rigscope.child import Child, StopRequest, say
from rigscope.local_channel import SESSION_ENV
from rigscope.monitor import Monitor, MonitorConfig, make_clock
from rigscope.probe import TOKEN_ENV, UDP_ENV
from rigscope.record_command import STATUS_EVERY_S, check_http, config_from_args, say_attach, status_line
from rigscope.terminal import install_handlers, leave_terminal, tell

CHECK_FAILED, NOT_EXECUTABLE, NOT_FOUND = 3, 126, 127  # as a shell says
WRITER_CHECK_S = 0.2  # how often a baseline or cooldown looks whether the recording failed
RECORDING_FAILED = 1  # the command went well but its recording stopped (a full disk): a runtime failure
_PASSED_ON = (signal.SIGUSR1, signal.SIGUSR2)  # signals for the command, not for rigscope


@dataclass
class Plan:
    command: list[str]
    config: MonitorConfig
    checks: list[Check]
    group_id: str
    repeats: int
    baseline_s: float
    cooldown_s: float
    log_cap: int
    env_keys: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    session: Path
    exit_code: int


def _phases_line(plan: Plan, command_line: str) -> str:
    """What happens, in order, and how to skip the waits (the defaults wait 3 minutes around the command)."""
    waits = [(flag, seconds) for flag, seconds in (("--baseline", plan.baseline_s), ("--cooldown", plan.cooldown_s))
             if seconds > 0]
    line = (f"idle baseline {plan.baseline_s:g} s first, then " if plan.baseline_s > 0 else "") + command_line
    if plan.cooldown_s > 0:
        line += f", then cooldown {plan.cooldown_s:g} s"
    if waits:
        line += f" ({' '.join(f'{flag} 0' for flag, _ in waits)} skips {'it' if len(waits) == 1 else 'them'})"
    return line


def _plan(args: argparse.Namespace) -> Plan:
    command = list(args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
    if not command:
        raise CheckError("run: no command given (rigscope run [flags] -- CMD ARGS...)")
    if args.duration is not None:
        raise CheckError("run: --duration does not apply (the command's end ends the session)")
    checks = [parse_check(expression) for expression in args.check or []]
    config = replace(config_from_args(args), record=False)
    check_http(config)
    group_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    return Plan(command, config, checks, group_id, args.repeat, args.baseline, args.cooldown, args.log_cap,
                args.env_keys or [])


def run(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
    except CheckError as error:  # a usage error: the command line itself is wrong
        print(f"rigscope: error: {error}", file=sys.stderr)
        return 2
    unrunnable = _unrunnable(plan.command[0])
    if unrunnable is not None:  # said at once, not after the baseline
        message, code = unrunnable
        print(f"rigscope: error: {message}", file=sys.stderr)
        return code
    stopping = StopRequest()
    previous = install_handlers({**{sig: lambda signum, _: stopping.request(signum)
                            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)},  # SIGQUIT: Ctrl-\
                         signal.SIGHUP: lambda signum, _: _hung_up(stopping, signum),
                         **{sig: lambda *_: None for sig in _PASSED_ON}})  # for the command only (below)
    outcomes: list[Outcome] = []
    try:
        for repeat in range(1, plan.repeats + 1):
            outcome = _one_session(plan, repeat, stopping)
            if outcome is None:  # a check named something this session lacks
                return 2
            outcomes.append(outcome)
            if outcome.exit_code not in (0, CHECK_FAILED) or stopping.is_set():
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if plan.repeats > 1:
        stopped = "" if len(outcomes) == plan.repeats else (
            f"; stopped: repeat {len(outcomes)} ended with exit code {outcomes[-1].exit_code}")
        say(f"group {plan.group_id}: {len(outcomes)} of {plan.repeats} sessions{stopped} "
            f"(rigscope report --group {plan.group_id})")
    codes = [outcome.exit_code for outcome in outcomes]
    return next((code for code in codes if code not in (0, CHECK_FAILED)), CHECK_FAILED if CHECK_FAILED in codes else 0)


@contextlib.contextmanager
def _passed_on(child: Child) -> Iterator[None]:
    """While the command runs: Ctrl-Z stops it with rigscope, and SIGUSR1, SIGUSR2 reach its process group (Slurm's
    `--signal=USR1@90` warns the job step of its time limit so the training can save; their default ends rigscope)."""
    previous = install_handlers({signal.SIGTSTP: lambda *_: child.suspend(),
                         **{sig: lambda signum, _: child.pass_on(signum) for sig in _PASSED_ON}})
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hung_up(stopping: StopRequest, signum: int) -> None:
    """The terminal went away (ssh dropped): stop as at Ctrl-C."""
    leave_terminal()
    stopping.request(signum)


def _unrunnable(program: str) -> tuple[str, int] | None:
    """Why `program` cannot be started, as a shell says it, with the shell's exit code; None when it can
    (found on PATH, or a path to an executable file whose #! interpreter, if it names one, is there)."""
    found = shutil.which(program)
    if found is not None:
        interpreter = _interpreter(found)
        if interpreter is None or os.access(interpreter, os.X_OK):
            return None
        return f"{program}: its interpreter {inert(interpreter)} was not found", NOT_FOUND
    if os.sep in program and os.path.exists(program):
        return f"permission denied: {program}", NOT_EXECUTABLE
    return f"command not found: {program}", NOT_FOUND


def _interpreter(path: str) -> str | None:
    """The program a script's #! line names (`/usr/bin/env` for `#!/usr/bin/env python`); None without one."""
    try:
        with open(path, "rb") as file:
            first = file.readline(4096)
    except OSError:  # not ours to read: the kernel may still run it
        return None
    # As the kernel reads it: up to the first space or tab, a \r kept (a file saved with Windows line ends)
    line = first[2:].rstrip(b"\n").replace(b"\t", b" ") if first.startswith(b"#!") else b""
    words = [word for word in line.split(b" ") if word]
    return os.fsdecode(words[0]) if words else None


class _Phases:
    """How a run's idle phases (baseline, cooldown) pass: in real time, each a wait of its seconds."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def begin_idle(self, seconds: float) -> None:
        """A baseline or cooldown of `seconds` begins."""

    def begin_command(self) -> None:
        """The command begins: it runs in real time."""

    def wait(self, monitor: Monitor, seconds: float, stopping: StopRequest) -> bool:
        """Wait out the idle phase begun; False when interrupted or the recording failed."""
        deadline = time.monotonic() + seconds
        next_status = time.monotonic() + STATUS_EVERY_S
        while (left := deadline - time.monotonic()) > 0:
            if stopping.wait(min(left, WRITER_CHECK_S)) or monitor.recording_error:
                return False
            if next_status <= time.monotonic() < deadline:  # a long baseline or cooldown shows how it goes, on stderr
                next_status += STATUS_EVERY_S
                tell(status_line(monitor))
        return not stopping.is_set()


class _FastPhases(_Phases):
    """The simulated source sped up: idle phases pass in the clock's time, up to its barrier."""

    def __init__(self, clock: PhasedClock) -> None:
        super().__init__(clock)
        self.phased = clock

    def begin_idle(self, seconds: float) -> None:
        self.phased.go_fast(seconds)

    def begin_command(self) -> None:
        self.phased.go_real()

    def wait(self, monitor: Monitor, seconds: float, stopping: StopRequest) -> bool:
        while not self.phased.reached.wait(0.05):
            if stopping.is_set() or monitor.sampling_ended or monitor.recording_error:
                return False
        return not stopping.is_set()


def _phases(plan: Plan) -> _Phases:
    config = plan.config
    if config.source == "sim" and config.speed != 1.0:
        return _FastPhases(PhasedClock(config.speed, plan.baseline_s))
    return _Phases(make_clock(config))


def _one_session(plan: Plan, repeat: int, stopping: StopRequest) -> Outcome | None:
    phases = _phases(plan)
    monitor = Monitor(plan.config, clock=phases.clock, on_notice=lambda message: say(f"note: {message}"))
    try:
        validate_checks(plan.checks, monitor.summary())
    except CheckError as error:
        monitor.release()
        say(f"error: {error}")
        return None
    monitor.open_recording()
    assert monitor.session is not None
    session = monitor.session
    log = OutputLog(session, plan.log_cap, on_error=_log_failed)
    facts: dict[str, Any] = {
        "command": plan.command, "command_line": shlex.join(plan.command), "cwd": _cwd(),
        "exit_code": None, "signal": None, "wall_s": None, "git_commit": _git_commit(), "env": {k: os.environ.get(k) for k in plan.env_keys},
        "repeat": repeat, "repeats": plan.repeats, "baseline_s": plan.baseline_s, "cooldown_s": plan.cooldown_s,
        "output_log": log.meta(),
    }
    monitor.annotate(group_id=plan.group_id, run=facts)  # `facts` fills in as the run goes, until meta.json is final
    say(f"run {repeat}/{plan.repeats}: {session}: {_phases_line(plan, facts['command_line'])}")
    status, code = "complete", 0
    monitor.post(EventKind.TAG, state="baseline", source="run")
    phases.begin_idle(plan.baseline_s)
    monitor.start()
    say_attach(monitor)
    try:
        if not phases.wait(monitor, plan.baseline_s, stopping):  # a stop signal, or the recording failed
            status, code = "interrupted", stopping.exit_code if stopping.is_set() else RECORDING_FAILED
        else:
            status, code = _run_command(plan, monitor, phases, log, facts, stopping)
    finally:
        log.close()
        facts["output_log"] = log.meta()
        monitor.stop()
    if monitor.recording_error:
        say(f"error: {monitor.recording_error}; what was flushed is kept in {session}")
        if stopping.is_set():
            code = stopping.exit_code
        elif code in (0, CHECK_FAILED):  # (the command's own failure says more)
            code = RECORDING_FAILED
        return Outcome(session, code)  # meta.json says why; the disk may take nothing more
    results = _finish(session, plan.checks, status)
    if results:
        tell(checks_table(results))
    ended = "" if facts["exit_code"] is None else f", exit code {facts['exit_code']}" + (
        f" (killed by {facts['signal']})" if facts["signal"] else "")
    say(f"{status}: {session}{ended}")
    if code == 0 and any(not result["passed"] for result in results):
        code = CHECK_FAILED
    return Outcome(session, code)


class _RecordingWatch:
    """Says at once when the recording fails while the command runs (a full disk an hour into a long run)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.said = False

    def __call__(self) -> None:
        if self.monitor.recording_error and not self.said:
            self.said = True
            say(f"error: {self.monitor.recording_error}; the command runs on, unrecorded")


def _log_failed(reason: str) -> None:
    say(f"note: output.log: {reason}; the command runs on, its output is no longer saved")


def _run_command(plan: Plan, monitor: Monitor, phases: _Phases, log: OutputLog, facts: dict[str, Any],
                 stopping: StopRequest) -> tuple[str, int]:
    """The command phase, then the cooldown: (status, exit code). A failed recording ends the
    baseline or cooldown (the sampler stops); the command itself runs to its end."""
    phases.begin_command()
    monitor.post(EventKind.TAG, state="run", source="run")
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")  # a Python child's prints arrive as they are made, not at its exit
    env[SESSION_ENV] = monitor.session.name  # type: ignore[union-attr]  # its probe and notes reach this session
    udp = monitor.udp_address()
    if udp is not None:  # --probe-udp: the child sends over UDP, with the token
        env.update({UDP_ENV: str(udp["port"]), TOKEN_ENV: udp["token"]})
    else:  # not an outer `rigscope run --probe-udp`'s channel, which would take this session's events
        env.pop(UDP_ENV, None)
        env.pop(TOKEN_ENV, None)
    try:
        child = Child(plan.command, env, log)
    except OSError as error:
        found = not isinstance(error, FileNotFoundError)
        reason = (error.strerror or str(error)).lower() if found else "command not found"
        say(f"error: {reason}: {plan.command[0]}")
        monitor.annotate(error=f"{reason}: {plan.command[0]}")
        return "failed", NOT_EXECUTABLE if found else NOT_FOUND
    with _passed_on(child):
        exit_code = child.wait(stopping, on_poll=_RecordingWatch(monitor))
    if child.daemons:  # (none found: only our own output was slow to take it)
        held_by = ", ".join(f"pid {pid} ({inert(name)})" for pid, name in child.daemons)  # a name it chose
        say(f"note: the command's output is still held by {held_by}, outside its process group "
             f"(a daemon?); not waiting for it")
    unsaid = [stray for stray in child.strays if stray not in (child.daemons or [])]
    if unsaid:
        named = ", ".join(f"pid {pid} ({inert(name)})" for pid, name in unsaid)
        say(f"note: {named}, started by the command, runs on outside its process group (a daemon?); not stopped")
    facts["wall_s"] = child.wall_s
    facts["exit_code"] = exit_code
    facts["signal"] = child.signal
    monitor.post(EventKind.TAG, state="cooldown", source="run")
    if stopping.is_set():
        return "interrupted", stopping.exit_code
    assert exit_code is not None  # (unknown only when a stop could not end the command)
    phases.begin_idle(plan.cooldown_s)
    if not phases.wait(monitor, plan.cooldown_s, stopping):  # as the baseline; the command's code stands
        return "interrupted", stopping.exit_code if stopping.is_set() else exit_code
    return "complete", exit_code


def _finish(session: Path, checks: list[Check], status: str) -> list[dict[str, Any]]:
    """Checks and the final status into meta.json, once the recorder wrote its summary."""
    meta = read_meta(session)
    results = [] if status == "failed" else [check.evaluate(meta.get("summary") or {}) for check in checks]
    meta["checks"] = results
    if meta.get("status") == "complete" or status != "complete":
        meta["status"] = status
    write_json_atomic(session / "meta.json", meta)
    write_session_report(session)  # again, now that meta.json holds the checks
    return results


def _cwd() -> str | None:
    """The working directory; None when it was deleted under us (the command still runs in it, as from a shell)."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
