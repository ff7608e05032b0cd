"""`rigscope run`: the timeline of tags, exit codes, checks, output.log, repeats, Ctrl-C, a missing command.

Most runs use the simulated source at `--speed max` (baseline and cooldown pass in virtual time,
the command in real time) and call the command line in-process; Ctrl-C needs a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psutil
import pytest

from recordings.events import read_events
from recordings.output_log import OutputLog
from rigscope import child as child_module
from rigscope.child import Child, StopRequest
from rigscope.cli import main
from tests.conftest import REPO
from tests.waiting import wait_sync

SIM = ["--source", "sim", "--speed", "max", "--hz", "10"]


def _run(tmp_path: Path, *flags: str, command: list[str]) -> int:
    return main(["run", *SIM, "--dir", str(tmp_path), *flags, "--", *command])


def _sessions(tmp_path: Path) -> list[Path]:
    return sorted(p for p in tmp_path.iterdir() if (p / "meta.json").is_file())


def _meta(session: Path) -> dict:
    return json.loads((session / "meta.json").read_text())


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_tags_at_the_right_times_and_the_exit_code_passes_through(tmp_path, capfd):
    child = ("import sys, time, rigscope\n"
             "print('to stdout'); print('to stderr', file=sys.stderr); sys.stdout.flush()\n"
             "time.sleep(0.6); rigscope.tag('eval'); time.sleep(0.6); sys.exit(7)")
    assert _run(tmp_path, "--baseline", "30s", "--cooldown", "20s", "--env-keys", "RUN_TEST_KEY,UNSET_KEY",
                command=_py(child)) == 7
    out, err = capfd.readouterr()
    assert out == "to stdout\n" and "to stderr" in err.splitlines()  # stdout holds the command's output only
    (session,) = _sessions(tmp_path)
    meta = _meta(session)
    run = meta["run"]
    assert meta["status"] == "complete" and meta["group_id"] and meta["checks"] == []
    assert run["exit_code"] == 7 and run["command"] == _py(child) and run["cwd"] == os.getcwd()
    assert run["repeat"] == 1 and run["repeats"] == 1 and run["baseline_s"] == 30 and run["cooldown_s"] == 20
    assert run["env"] == {"RUN_TEST_KEY": "from the test", "UNSET_KEY": None}
    assert run["wall_s"] >= 1.2 and run["output_log"]["truncated"] is False
    assert set((session / "output.log").read_text().splitlines()) == {"to stdout", "to stderr"}
    tags = [(e["state"], e.get("source")) for e in read_events(session / "events.jsonl") if e["kind"] == "tag"]
    assert tags == [("baseline", "run"), ("run", "run"), ("eval", "probe"), ("cooldown", "run")]
    samples = pl.read_parquet(session / "samples.parquet").sort("elapsed_s")
    states = samples["workload_state"].to_list()
    # The phases come in order, and last their clock time: 30 s and 20 s at 10 Hz, the command in real time.
    order = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
    assert order == ["baseline", "run", "eval", "cooldown"]
    assert abs(states.count("baseline") - 300) <= 2 and abs(states.count("cooldown") - 200) <= 2
    first_run = samples.filter(pl.col("workload_state") == "run")["elapsed_s"][0]
    assert abs(first_run - 30.0) <= 0.2
    run_rows = states.count("run") + states.count("eval")
    assert abs(run_rows - 10 * run["wall_s"]) <= 3
    seconds = meta["summary"]["workload_seconds"]
    assert abs(seconds["baseline"] - 30) <= 0.2 and abs(seconds["cooldown"] - 20) <= 0.2


@pytest.fixture(autouse=True)
def _test_env(monkeypatch):
    monkeypatch.setenv("RUN_TEST_KEY", "from the test")
    monkeypatch.delenv("UNSET_KEY", raising=False)


def test_failing_check_exits_3_and_the_table_shows_it(tmp_path, capsys):
    checks = ["gpu0.max_temp_c < 1", "collapses == 0", "workload.run_s > 0 and not spans.total > 0"]
    code = _run(tmp_path, "--baseline", "5s", "--cooldown", "1s", *[f"--check={c}" for c in checks],
                command=_py("import time; time.sleep(0.3)"))
    assert code == 3
    err = capsys.readouterr().err
    table = [line.split()[:2] for line in err.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert table == [["FAIL", "gpu0.max_temp_c"], ["PASS", "collapses"], ["PASS", "workload.run_s"]]
    results = _meta(_sessions(tmp_path)[0])["checks"]
    assert [r["expression"] for r in results] == checks
    assert [r["passed"] for r in results] == [False, True, True]
    assert results[0]["value"] > 1 and results[1]["value"] == 0
    report = (_sessions(tmp_path)[0] / "report.md").read_text()  # rewritten once the checks are in meta.json
    assert "## Checks\n\n2 of 3 checks passed." in report and "| `gpu0.max_temp_c < 1` |" in report


def test_unknown_name_is_an_error_before_the_command_starts(tmp_path, capsys):
    marker = tmp_path / "ran"
    code = _run(tmp_path, "--check", "gpu3.max_temp_c < 85", command=_py(f"open({str(marker)!r}, 'w')"))
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rigscope: error: --check 'gpu3.max_temp_c < 85': unknown name 'gpu3.max_temp_c' at column 1 "
                   "(did you mean gpu0.max_temp_c?)")
    assert not marker.exists() and _sessions(tmp_path) == []


def test_malformed_check_points_at_the_column(tmp_path, capsys):
    code = _run(tmp_path, "--check", "gpu0.max_temp_c << 85", command=_py("pass"))
    assert code == 2
    assert capsys.readouterr().err == "rigscope: error: --check 'gpu0.max_temp_c << 85': unexpected '<' at column 18 " \
                                      "(expected a name or a number)\n"
    assert _sessions(tmp_path) == []


def test_repeats_share_a_group_each_with_its_baseline(tmp_path, capsys):
    assert _run(tmp_path, "--baseline", "3s", "--cooldown", "1s", "--repeat", "3", command=_py("pass")) == 0
    metas = [_meta(session) for session in _sessions(tmp_path)]
    assert len(metas) == 3 and len({m["group_id"] for m in metas}) == 1
    assert sorted(m["run"]["repeat"] for m in metas) == [1, 2, 3] and {m["run"]["repeats"] for m in metas} == {3}
    for session in _sessions(tmp_path):
        assert pl.read_parquet(session / "samples.parquet")["workload_state"].to_list().count("baseline") >= 29
    assert f"rigscope report --group {metas[0]['group_id']}" in capsys.readouterr().err


def test_output_log_is_capped_and_says_so(tmp_path, capfd):
    code = _run(tmp_path, "--baseline", "0", "--cooldown", "0", "--log-cap", "1K",
                command=_py("import sys; sys.stdout.write('x' * 5000)"))
    assert code == 0
    assert capfd.readouterr().out.count("x") == 5000  # the terminal gets everything
    (session,) = _sessions(tmp_path)
    log = (session / "output.log").read_bytes()
    assert log.startswith(b"x" * 1024) and log.count(b"x") == 1024
    assert b"output.log capped at 1024 bytes; 3976 more bytes were not saved" in log
    assert _meta(session)["run"]["output_log"] == {"path": "output.log", "bytes_written": 1024, "bytes_seen": 5000,
                                                   "cap_bytes": 1024, "truncated": True, "error": None}


def test_command_not_found_marks_the_session_failed(tmp_path, capsys, monkeypatch):
    """The command is looked up before the baseline (tests/test_cli_hostile_inputs.py); one that vanishes
    between the look-up and its start fails the session."""
    monkeypatch.setattr("rigscope.run_command._unrunnable", lambda program: None)
    code = _run(tmp_path, "--baseline", "1s", "--check", "collapses == 0", command=["no-such-command-here", "x"])
    assert code == 127
    assert "rigscope: error: command not found: no-such-command-here" in capsys.readouterr().err
    (session,) = _sessions(tmp_path)
    meta = _meta(session)
    assert meta["status"] == "failed" and meta["run"]["exit_code"] is None and meta["checks"] == []
    assert meta["error"] == "command not found: no-such-command-here"


def test_command_not_executable_is_126(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("rigscope.run_command._unrunnable", lambda program: None)  # as above
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    assert _run(tmp_path, "--baseline", "0", command=[str(script)]) == 126
    assert f"rigscope: error: permission denied: {script}" in capsys.readouterr().err
    assert _meta(_sessions(tmp_path)[0])["status"] == "failed"


def test_ctrl_c_stops_the_child_group_and_marks_the_session_interrupted(tmp_path):
    pids = tmp_path / "pids"
    child = ("import os, subprocess, sys, time\n"
             "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
             f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{grandchild.pid}}')\n"
             "time.sleep(60)")
    sessions = tmp_path / "sessions"
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--baseline", "1s",
                                 "--dir", str(sessions), "--", *_py(child)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_sync(lambda: pids.is_file() and pids.read_text().count(" ") == 1, timeout=60)
        rigscope.send_signal(signal.SIGINT)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    assert rigscope.returncode == 130, err
    (session,) = _sessions(sessions)
    meta = _meta(session)
    assert meta["status"] == "interrupted" and meta["run"]["exit_code"] is not None
    assert meta["summary"]["samples"] > 0
    for pid in map(int, pids.read_text().split()):
        wait_sync(lambda pid=pid: not _alive(pid), timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie that nobody has reaped yet."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _pids(path: Path, count: int) -> list[int] | None:
    words = path.read_text().split() if path.is_file() else []
    return [int(word) for word in words] if len(words) == count else None


def _end(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _daemon(pid_file: Path, seconds: int) -> str:
    """Shell lines that start `sleep` in a session of its own (holding stdout) and wait until its pid is in the file."""
    return (f"setsid sh -c 'echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep {seconds}' & "
            f"while [ ! -s {pid_file} ]; do sleep 0.02; done")


def test_kill_9_of_rigscope_takes_the_command_and_its_group_down(tmp_path):
    """The command (a shell), its child in the group, and a `setsid` daemon: kill -9 of rigscope ends the first two."""
    pids = tmp_path / "pids"
    script = (f"sleep 300 & child=$!; {_daemon(tmp_path / 'daemon', 301)}; "
              f"echo $$ $child $(cat {tmp_path / 'daemon'}) > {pids}.tmp; mv {pids}.tmp {pids}; wait")
    sessions = tmp_path / "sessions"
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", *SIM, "--baseline", "0s",
                                 "--dir", str(sessions), "--", "sh", "-c", script],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shell = child = daemon = -1
    try:
        shell, child, daemon = wait_sync(lambda: _pids(pids, 3), timeout=60)
        rigscope.kill()
        rigscope.wait(timeout=10)
        wait_sync(lambda: _gone(shell), timeout=10, what="the command to end with rigscope")
        wait_sync(lambda: _gone(child), timeout=10, what="the command's process group to end with rigscope")
        assert not _gone(daemon)  # it left the group on purpose: not rigscope's to kill
    finally:
        rigscope.kill()
        _end([shell, child, daemon])


def test_a_daemon_holding_the_output_is_reported_and_not_waited_for(tmp_path, capfd):
    pid_file = tmp_path / "daemon"
    started = time.monotonic()
    try:
        code = _run(tmp_path, "--baseline", "0s", "--cooldown", "0s",
                    command=["sh", "-c", f"{_daemon(pid_file, 60)}; echo started"])
        elapsed = time.monotonic() - started
        _, err = capfd.readouterr()
        daemon = int(pid_file.read_text())
        assert code == 0 and elapsed < 5, elapsed  # it waited 10 s for the daemon's end of the pipe before
        (line,) = [line for line in err.splitlines() if "still held by" in line]
        assert line.startswith("rigscope: note: ") and f"pid {daemon}" in line
        assert not _gone(daemon)
        assert (_sessions(tmp_path)[0] / "output.log").read_text() == "started\n"
    finally:
        if pid_file.is_file():
            _end([int(pid_file.read_text())])


def test_on_this_machine(tmp_path, capfd):
    code = main(["run", "--source", "system", "--hz", "10", "--baseline", "1s", "--cooldown", "0.5s",
                 "--dir", str(tmp_path), "--check", "cpu.mean_util_pct >= 0", "--",
                 *_py("import time, sys; time.sleep(0.5); sys.exit(4)")])
    assert code == 4
    (session,) = _sessions(tmp_path)
    meta = _meta(session)
    assert meta["monitoring"]["source"] == "system" and meta["run"]["exit_code"] == 4
    assert meta["checks"][0]["passed"] is True
    states = pl.read_parquet(session / "samples.parquet").sort("elapsed_s")["workload_state"].to_list()
    assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == ["baseline", "run", "cooldown"]
    assert 7 <= states.count("baseline") <= 13 and states.count("run") >= 3


def test_sped_up_simulation_keeps_the_phase_lengths(tmp_path):
    """At --speed 20 the baseline and cooldown pass 20 times faster; their clock lengths stay as asked."""
    flags = ["run", "--source", "sim", "--speed", "20", "--hz", "10", "--baseline", "6s", "--cooldown", "4s"]
    assert main([*flags, "--dir", str(tmp_path), "--", *_py("import time; time.sleep(0.3)")]) == 0
    meta = _meta(_sessions(tmp_path)[0])
    seconds = meta["summary"]["workload_seconds"]
    assert abs(seconds["baseline"] - 6) <= 0.5 and abs(seconds["cooldown"] - 4) <= 1.0
    assert seconds["run"] >= 0.2 and meta["run"]["wall_s"] >= 0.3


def test_ctrl_c_in_the_baseline_never_starts_the_command(tmp_path):
    marker = tmp_path / "ran"
    sessions = tmp_path / "sessions"
    rigscope = subprocess.Popen([sys.executable, "-m", "rigscope", "run", "--source", "sim", "--hz", "10",
                                 "--baseline", "10m", "--dir", str(sessions), "--", *_py(f"open({str(marker)!r}, 'w')")],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_sync(lambda: sessions.is_dir() and _sessions(sessions), timeout=60)
        rigscope.send_signal(signal.SIGINT)
        _, err = rigscope.communicate(timeout=60)
    finally:
        rigscope.kill()
    assert rigscope.returncode == 130, err
    meta = _meta(_sessions(sessions)[0])
    assert meta["status"] == "interrupted" and meta["run"]["exit_code"] is None and not marker.exists()


def test_without_prctl_the_watchdog_alone_ends_the_group_when_rigscope_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(child_module, "_PRCTL", None)  # as where PR_SET_PDEATHSIG does not exist
    pid_file = tmp_path / "pid"
    child = Child(["sh", "-c", f"sleep 300 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait"],
                  dict(os.environ), OutputLog(tmp_path))
    try:
        (grandchild,) = wait_sync(lambda: _pids(pid_file, 1), timeout=10)
        child._watchdog.stdin.close()  # what rigscope's death does to the watchdog's pipe  # type: ignore[union-attr]
        wait_sync(lambda: _gone(child.pid) and _gone(grandchild), timeout=10, what="the group to be killed")
    finally:
        child.wait(StopRequest())


def test_the_first_line_says_the_baseline_and_cooldown_and_how_to_skip_them(tmp_path, capsys):
    assert _run(tmp_path, "--baseline", "3s", "--cooldown", "1s", command=_py("pass")) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert "idle baseline 3 s first, then " in first and "then cooldown 1 s" in first
    assert "(--baseline 0 --cooldown 0 skips them)" in first
    assert _run(tmp_path, "--baseline", "0", "--cooldown", "0", command=_py("pass")) == 0
    assert "skips" not in capsys.readouterr().err.splitlines()[0]
