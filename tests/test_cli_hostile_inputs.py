"""Hostile command lines: non-finite and absurd numbers, empty notes and tags, GPUs that are not there,
a command that does not exist, a --dir that is a file, negative durations; and note/tag honouring
$RIGSCOPE_DIR. Each refusal is one line on stderr, exit 2 (usage) or 1 (runtime), no traceback, nothing
left behind."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from collectors.event_parse import parse_event
from collectors.fake_nvml import FakeGpu, FakeNvml
from rigscope.cli import main
from rigscope.monitor import _system_sources
from rigscope.parser import build_parser
from rigscope.record_command import config_from_args
from tests.conftest import run_cli
from tests.rigscope.test_cli import start_recording


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """(exit code, stderr) of `rigscope ARGV` refused in this process (argparse exits)."""
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    return int(stop.value.code or 0), capsys.readouterr().err


SIM = ("record", "--source", "sim", "--duration", "2", "--dir")


@pytest.mark.parametrize(("argv", "words"), [
    ([*SIM, "D", "--rated-cpu-w", "nan"], "argument --rated-cpu-w: nan is not a finite number"),
    ([*SIM, "D", "--rated-cpu-w", "inf"], "argument --rated-cpu-w: inf is not a finite number"),
    ([*SIM, "D", "--cpu-temp-limit", "nan"], "argument --cpu-temp-limit: nan is not a finite number"),
    ([*SIM, "D", "--gpu-temp-limit", "nan"], "argument --gpu-temp-limit: nan is not a finite number"),
    ([*SIM, "D", "--gpu-temp-limit", "-inf"], "argument --gpu-temp-limit: -inf: negative values are not allowed"),
    ([*SIM, "D", "--gpu-temp-limit=-inf"], "argument --gpu-temp-limit: -inf is not a finite number"),
    ([*SIM, "D", "--speed", "nan"], "argument --speed: nan is not a finite number"),
    ([*SIM, "D", "--speed", "inf"], "argument --speed: inf is not a finite number"),
    ([*SIM, "D", "--speed", "1e308"], "argument --speed: 1e308 is more than 100000"),
    ([*SIM, "D", "--segment-interval", "nan"], "argument --segment-interval: nan is not a finite number"),
    ([*SIM, "D", "--segment-interval", "1e300"], "argument --segment-interval: 1e300 s is more than a day"),
    ([*SIM, "D", "--flush-interval", "nan"], "argument --flush-interval: nan is not a finite number"),
    ([*SIM, "D", "--flush-interval", "inf"], "argument --flush-interval: inf is not a finite number"),
    ([*SIM, "D", "--proc-interval", "nan"], "argument --proc-interval: nan is not a finite number"),
    ([*SIM, "D", "--proc-interval", "Infinity"], "argument --proc-interval: Infinity is not a finite number"),
    ([*SIM, "D", "--gpm-interval", "inf"], "argument --gpm-interval: inf is not a finite number"),
    ([*SIM, "D", "--gpm-interval", "90000"], "argument --gpm-interval: 90000 s is more than a day"),
    ([*SIM, "D", "--hz", "nan"], "argument --hz: nan is not a finite number"),
    ([*SIM, "D", "--host-hz", "inf"], "argument --host-hz: inf is not a finite number"),
    (["record", "--duration", "9" * 400], "argument --duration: " + "9" * 400 + " is more than"),
    (["record", "--duration", "400d"], "argument --duration: 400d is more than a year"),
    (["run", "--baseline", "9999999h", "--", "true"], "argument --baseline: 9999999h is more than a year"),
    (["demo", "--fps", "nan"], "argument --fps: nan is not a finite number"),
    (["replay", "latest", "--speed", "nan"], "argument --speed: nan is not a finite number"),
    (["fleet", "--targets", "127.0.0.1:1", "--timeout", "inf", "--once"],
     "argument --timeout: inf is not a finite number"),
    (["fleet", "--targets", "127.0.0.1:1", "--timeout", "nan", "--once"],
     "argument --timeout: nan is not a finite number"),
    (["fleet", "--targets", "127.0.0.1:1", "--timeout", "1e12", "--once"],
     "argument --timeout: 1e12 s is more than a day"),
    (["fleet", "--targets", "127.0.0.1:1", "--refresh", "nan"], "argument --refresh: nan is not a finite number"),
    (["fleet", "--targets", "127.0.0.1:1", "--window", "999999d"], "argument --window: 999999d is more than a year"),
    (["export", "latest", "--to", "csv", "--downsample", "nan"], "argument --downsample: nan is not a finite number"),
    (["--rated-cpu-w", "nan", "record"], "argument --rated-cpu-w: nan is not a finite number"),  # before the command
])
def test_non_finite_and_absurd_numbers_are_refused_naming_the_flag(tmp_path, capsys, argv, words):
    code, err = _refused(capsys, *(str(tmp_path / "D") if token == "D" else token for token in argv))
    assert not (tmp_path / "D").exists()  # (without the fix, a session was recorded there)
    assert code == 2
    assert err.count("\n") == 1 and words in err, err
    assert "Traceback" not in err


def test_a_refused_number_leaves_no_session_behind(tmp_path):
    """`--segment-interval nan` used to get as far as an empty interrupted session before its traceback."""
    for flag, value in (("--segment-interval", "nan"), ("--speed", "inf"), ("--rated-cpu-w", "nan")):
        result = run_cli(*SIM, str(tmp_path / "sessions"), flag, value)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"argument {flag}: {value} is not a finite number" in result.stderr
        assert not (tmp_path / "sessions").exists()


def test_the_largest_accepted_values_still_record(tmp_path):
    result = run_cli(*SIM, str(tmp_path), "--speed", "100000", "--segment-interval", "86400",
                     "--flush-interval", "86400", "--gpu-temp-limit", "90")
    assert result.returncode == 0, result.stderr
    (session,) = tmp_path.iterdir()
    assert json.loads((session / "meta.json").read_text())["status"] == "complete"


# --- note and tag: $RIGSCOPE_DIR, empty text -------------------------------------------------------------

def test_note_and_tag_go_to_the_recorder_of_rigscope_dir_only(tmp_path):
    """A recorder runs in A; with RIGSCOPE_DIR=B a note goes to B's latest session (there is none: one line),
    never to A's running session; with RIGSCOPE_DIR=A it reaches the recorder."""
    a, b = tmp_path / "a", tmp_path / "b"
    b.mkdir()
    process = start_recording(a)
    try:
        elsewhere = run_cli("note", "meant for b", env={"RIGSCOPE_DIR": str(b)})
        tagged_elsewhere = run_cli("tag", "eval", env={"RIGSCOPE_DIR": str(b)})
        here = run_cli("note", "meant for a", env={"RIGSCOPE_DIR": str(a)})
        assert elsewhere.returncode == 1 and elsewhere.stderr.count("\n") == 1, elsewhere.stdout
        assert str(b) in elsewhere.stderr and "Traceback" not in elsewhere.stderr
        assert tagged_elsewhere.returncode == 1 and "no running session" in tagged_elsewhere.stderr
        assert here.returncode == 0 and "running session" in here.stdout, here.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    (session,) = a.iterdir()
    events = (session / "events.jsonl").read_text()
    assert "meant for a" in events and "meant for b" not in events and '"eval"' not in events
    assert list(b.iterdir()) == []


@pytest.mark.parametrize("argv", [["note", ""], ["note", "   "], ["tag", ""], ["tag", " \t\n"]])
def test_empty_note_or_tag_is_refused(capsys, argv):
    code, err = _refused(capsys, *argv, "--dir", "nowhere")
    assert code == 2 and err.count("\n") == 1 and "must not be empty" in err, err


@pytest.mark.parametrize(("event", "taken"), [
    ({"kind": "tag", "state": ""}, False),
    ({"kind": "tag", "state": "  "}, False),
    ({"kind": "note", "text": ""}, False),
    ({"kind": "note", "text": "\n\t "}, False),
    ({"kind": "tag", "state": "eval"}, True),
    ({"kind": "note", "text": " x "}, True),
])
def test_an_empty_tag_or_note_event_is_refused_like_other_malformed_events(event, taken):
    assert (parse_event(json.dumps(event)) is not None) is taken


# --- --gpus ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gpus", ["7", "0,9"])
def test_a_simulated_gpu_that_is_not_there_is_one_line(tmp_path, gpus):
    result = run_cli(*SIM, str(tmp_path / "s"), "--speed", "max", "--gpus-sim", "4", "--gpus", gpus)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "4 GPUs: indices 0-3" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_a_part_of_the_simulated_gpus_is_refused_all_of_them_taken(tmp_path):
    part = run_cli(*SIM, str(tmp_path / "s"), "--speed", "max", "--gpus-sim", "4", "--gpus", "0,2")
    assert part.returncode == 1 and "--gpus-sim" in part.stderr and part.stderr.count("\n") == 1, part.stderr
    assert not (tmp_path / "s").exists()
    every = run_cli(*SIM, str(tmp_path / "s"), "--speed", "max", "--gpus-sim", "2", "--gpus", "1,0")
    assert every.returncode == 0, every.stderr


def _sources_for(*argv: str) -> list[int]:
    args = build_parser().parse_args(["record", "--mode", "gpu", *argv])
    backend = FakeNvml([FakeGpu(uuid="GPU-aaaa1111-0000"), FakeGpu(uuid="GPU-bbbb2222-0000"),
                        FakeGpu(uuid="GPU-cccc3333-0000")])
    sources = _system_sources(config_from_args(args), backend)
    try:
        return sources.gpu_indices
    finally:
        for collector in sources.collectors:
            getattr(collector, "close", lambda: None)()


def test_gpus_by_uuid_or_uuid_prefix_as_the_readme_says():
    assert _sources_for("--gpus", "GPU-bbbb2222-0000") == [1]
    assert _sources_for("--gpus", "GPU-cccc,0") == [0, 2]


@pytest.mark.parametrize(("gpus", "words"), [
    ("GPU-ffff", "no GPU has a UUID starting with GPU-ffff"),
    ("3", "there is no GPU 3 (this machine has 3 GPUs: indices 0-2)"),
])
def test_an_unknown_uuid_or_index_is_an_error(gpus, words):
    from recordings.errors import InputError

    with pytest.raises(InputError, match=re.escape(words)):
        _sources_for("--gpus", gpus)


@pytest.mark.parametrize("gpus", ["0;2", "gpu0", "GPU-", "GPU-x_y", "-1"])
def test_a_malformed_gpu_list_says_indexes_or_uuids(tmp_path, capsys, gpus):
    code, err = _refused(capsys, *SIM, str(tmp_path), "--speed", "max", f"--gpus={gpus}")
    assert code == 2 and err.count("\n") == 1 and "NVML indexes or GPU-... UUIDs" in err, err


# --- run: a command that is not there ---------------------------------------------------------------------

def test_run_of_a_missing_command_fails_before_any_baseline(tmp_path):
    started = time.monotonic()
    result = run_cli("run", "--dir", str(tmp_path / "s"), "--", "/nonexistent/cmd", "x")
    assert time.monotonic() - started < 60  # the default baseline alone is 120 s
    assert result.returncode == 127 and result.stderr == "rigscope: error: command not found: /nonexistent/cmd\n"
    assert not (tmp_path / "s").exists()
    bare = run_cli("run", "--dir", str(tmp_path / "s"), "--", "no-such-command-here")
    assert bare.returncode == 127 and bare.stderr == "rigscope: error: command not found: no-such-command-here\n"


def test_run_of_a_file_that_is_not_executable_is_126_at_once(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    result = run_cli("run", "--dir", str(tmp_path / "s"), "--", str(script))
    assert result.returncode == 126 and result.stderr == f"rigscope: error: permission denied: {script}\n"
    assert not (tmp_path / "s").exists()


# --- ls --dir, negative durations ------------------------------------------------------------------------

def test_ls_of_a_file_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["ls", "--dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err == f"rigscope: error: {blocker} is a file, not a sessions directory\n"


def test_ls_of_a_missing_dir_says_it_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["ls", "--dir", str(missing)]) == 0
    assert capsys.readouterr().err == f"no sessions in {missing} (it does not exist)\n"
    assert main(["ls", "--json", "--dir", str(missing)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not missing.exists()


@pytest.mark.parametrize(("argv", "words"), [
    (["record", "--duration", "-5s"], "argument --duration: -5s: negative values are not allowed"),
    (["replay", "latest", "--at", "-5m"], "argument --at: -5m: negative values are not allowed"),
    (["run", "--cooldown", "-1", "--", "true"], "argument --cooldown: -1: negative values are not allowed"),
])
def test_a_negative_value_says_so(capsys, argv, words):
    code, err = _refused(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and words in err, err


def test_a_missing_value_still_says_expected_one_argument(capsys):
    code, err = _refused(capsys, "record", "--duration", "--hz", "5")
    assert code == 2 and "argument --duration: expected one argument" in err
