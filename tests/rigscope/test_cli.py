"""The command line as users run it: a subprocess, real arguments, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from collectors.event_parse import CUT_MARK, NOTE_CAP
from rigscope.cli import main
from tests.conftest import REPO, run_cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["record", "--hz", "0"], "out of range"),
        (["record", "--hz", "1000"], "out of range"),
        (["record", "--hz", "fast"], "invalid rate"),
        (["record", "--duration", "abc"], "invalid duration"),
        (["record", "--source", "gpu-cloud"], "invalid choice"),
        (["record", "--gpus-sim", "17", "--source", "sim"], "1 to 16"),
        (["record", "--flush-interval", "0"], "greater than 0"),
        (["record", "--bogus"], "unrecognized arguments"),
        (["record", "--gpm-interval", "0.1"], "more than 0.1 s"),  # NVML needs more between GPM samples
        (["record", "--gpm-interval", "soon"], "invalid interval"),
        (["demo", "--host-hz", "0"], "out of range"),
        (["--hz", "50", "ls"], "--hz does not apply to ls"),  # a dashboard flag before a command without it
        (["--fps", "5", "record"], "--fps does not apply to record"),
        (["--speed", "7", "replay", "latest"], "use one of"),  # before the command, the command's meaning and type
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args, words):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and words in result.stderr
    assert "Traceback" not in result.stderr


def test_flags_given_before_the_command_apply_to_it_and_the_commands_own_win(tmp_path):
    """`rigscope --hz 20 --dir D record ...` records at 20 Hz into D (argparse alone would take the command's
    defaults, 10 Hz into the default folder); a flag given after the command wins over the same flag before it."""
    result = run_cli("--hz", "20", "--dir", str(tmp_path), "--gpus-sim", "3", "--model-name", "before",
                     "record", "--source", "sim", "--speed", "max", "--duration", "10s", "--model-name", "after")
    assert result.returncode == 0, result.stderr
    (session,) = tmp_path.iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["total_samples"] == 200 and meta["model_name"] == "after"
    assert "gpu2_util_pct" in pl.read_parquet(session / "samples.parquet").columns

    from rigscope.parser import build_parser

    parser = build_parser()
    demo = parser.parse_args(["--hz", "50", "demo", "--gpus-sim", "2"])
    assert (demo.hz, demo.gpus_sim, demo.source) == (50.0, 2, "sim")  # demo's own defaults stay where not given
    assert parser.parse_args(["--hz", "50", "record", "--hz", "10"]).hz == 10.0  # after wins, a default value too
    assert parser.parse_args(["--source", "system", "demo", "--source", "sim"]).source == "sim"
    assert parser.parse_args(["--hz", "20", "run", "--", "python", "x.py"]).argv == ["--", "python", "x.py"]


def test_unwritable_dir_is_one_line_exit_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("record", "--source", "sim", "--duration", "1s", "--dir", str(blocker / "sessions"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("rigscope: error: cannot create sessions directory")
    assert "Traceback" not in result.stderr


def test_speed_needs_simulated_source(tmp_path):
    result = run_cli("record", "--speed", "10", "--duration", "1s", "--dir", str(tmp_path))
    assert result.returncode == 1 and "--speed needs --source sim" in result.stderr


def test_missing_session_is_one_line(tmp_path):
    for args in (["repair", "nope"], ["note", "hello"], ["tag", "eval"]):
        result = run_cli(*args, "--dir", str(tmp_path))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1


def test_record_simulated_two_gpus_done_when(tmp_path):
    result = run_cli("record", "--source", "sim", "--gpus-sim", "2", "--speed", "max", "--duration", "30s",
                     "--hz", "10", "--model-name", "Test Model", "--training-mode", "Testing",
                     "--notes", "first run", "--realtime", "--format", "both", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (session,) = tmp_path.iterdir()
    meta = json.loads((session / "meta.json").read_text())
    for key in ("session_start", "session_end", "session_length_sec", "model_name", "training_mode",
                "notes", "hardware", "total_samples"):
        assert key in meta
    assert meta["model_name"] == "Test Model" and meta["monitoring"]["source"] == "simulated"
    assert meta["status"] == "complete" and meta["total_samples"] == 300
    parquet = pl.read_parquet(session / "samples.parquet")
    csv = pl.read_csv(session / "samples.csv")
    assert parquet.height == csv.height == 300
    assert {"gpu0_util_pct", "gpu1_util_pct", "gpu1_temp_c"} <= set(parquet.columns) & set(csv.columns)
    assert "300 samples" in result.stdout


def test_record_this_machine_writes_a_readable_session(tmp_path):
    result = run_cli("record", "--duration", "1s", "--hz", "20", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (session,) = tmp_path.iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["monitoring"]["source"] == "system" and meta["host"]["hardware_tier"]
    table = pl.read_parquet(session / "samples.parquet")
    assert 15 <= table.height <= 20
    assert table["cpu_util_pct"].null_count() == 0 and table["mem_total_bytes"].null_count() == 0


def start_recording(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rigscope", "record", "--source", "sim", "--hz", "20", "--dir", str(tmp_path),
         "--flush-interval", "0.2", *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journals = list(tmp_path.glob("*/samples/*.journal"))
        if journals and journals[0].stat().st_size > 0:
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the recorder never flushed")


def test_note_and_tag_reach_a_running_recorder_and_sigterm_closes_it(tmp_path):
    process = start_recording(tmp_path)
    try:
        noted = run_cli("note", "lr dropped to 1e-4", "--dir", str(tmp_path))
        tagged = run_cli("tag", "eval", "--dir", str(tmp_path))
        assert noted.returncode == 0 and "running session" in noted.stdout
        assert tagged.returncode == 0, tagged.stderr
        time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode == 0
    (session,) = tmp_path.iterdir()
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    assert {"kind": "note", "text": "lr dropped to 1e-4", "source": "cli"}.items() <= events[0].items()
    assert events[1]["kind"] == "tag" and events[1]["state"] == "eval"
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "complete"
    assert "eval" in pl.read_parquet(session / "samples.parquet")["workload_state"].to_list()
    late = run_cli("note", "after the run", "--dir", str(tmp_path))
    assert late.returncode == 0 and "not running" in late.stdout
    assert "after the run" in (session / "events.jsonl").read_text()
    long = run_cli("note", "x" * 5000, "--dir", str(tmp_path))  # capped as a running recorder caps it
    assert long.returncode == 0 and "not running" in long.stdout
    stored = json.loads((session / "events.jsonl").read_text().splitlines()[-1])["text"]
    assert len(stored) == NOTE_CAP and stored.endswith(CUT_MARK)


@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_loses_at_most_a_flush_and_repair_completes(tmp_path, attempt):
    process = start_recording(tmp_path)
    time.sleep(0.2 + 0.3 * attempt)
    killed_at = time.time()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    (session,) = tmp_path.iterdir()
    from recordings.reader import read_samples

    table = read_samples(session)  # opens before any repair
    last = table["ts"].max().timestamp()
    # At most one flush interval (0.2 s) is lost; the margin covers scheduling on a loaded machine.
    assert killed_at - last < 0.2 + 1.0
    result = run_cli("repair", "latest", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["total_samples"] == table.height


def test_every_command_and_argument_has_help_and_demo_shows_its_own_defaults():
    import argparse

    from rigscope.parser import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    described = {choice.dest: choice.help for choice in commands._choices_actions}
    assert set(described) == set(commands.choices) and all(described.values())
    missing = [f"{name} {action.dest}" for name, sub in [("rigscope", parser), *commands.choices.items()]
               for action in sub._actions if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == []
    demo = parser.parse_args(["demo"])
    assert demo.source == "sim" and demo.gpus_sim == 4
    text = commands.choices["demo"].format_help()
    assert "(default 4)" in text and "(default sim)" in text


def test_every_command_is_dispatched_by_the_table_to_a_function():
    import argparse
    from importlib import import_module

    from rigscope.cli import COMMANDS
    from rigscope.parser import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) == {None, *commands.choices} - {"help"}  # help prints; every other command runs
    for module, function in COMMANDS.values():
        assert module.endswith("_command") and callable(getattr(import_module(module), function))


def test_help_command_and_did_you_mean(capsys):
    assert main(["help", "replay"]) == 0
    assert capsys.readouterr().out.startswith("usage: rigscope replay")
    with pytest.raises(SystemExit) as stopped:
        main(["repaly"])
    assert stopped.value.code == 2 and "(did you mean replay?)" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["analyze", "latest", "--otu", "x.parquet"], "unrecognized arguments: --otu (did you mean --out?)"),
    (["correlate", "latest", "loss", "--jsno"], "unrecognized arguments: --jsno (did you mean --json?)"),
    (["fleet", "--promethus", "http://prom:9090"], "unrecognized arguments: --promethus (did you mean --prometheus?)"),
    (["--fsp", "3"], "unrecognized arguments: --fsp (did you mean --fps?)"),
    (["note", "--bogus"], "unrecognized arguments: --bogus\n"),
])
def test_a_mistyped_flag_is_named_with_a_suggestion(capsys, argv, said):
    """argparse said `the following arguments are required: --out` (or that `3` is no command) for a mistyped flag."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and said in err, err


def test_analyze_and_correlate_help_say_what_they_print(capsys):
    for command, said in (("analyze", ("summary as JSON on stdout", "rigscope import")),
                          ("correlate", ("Pearson correlation r (-1 to 1)", "-10 to +10 s", "> 0: the metric leads"))):
        with pytest.raises(SystemExit) as stopped:
            main([command, "--help"])
        shown = " ".join(capsys.readouterr().out.split())
        assert stopped.value.code == 0 and all(words in shown for words in said), shown
