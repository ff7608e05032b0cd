"""Corrupt inputs for `replay`, `analyze`, `repair` and `correlate`, generated with hypothesis.

Each case damages a copy of a recorded session (or a samples file): a truncated Parquet file,
random bytes, cut JSON lines, a meta.json with wrong types, a CSV with missing columns, a
directory that cannot be read.  The command runs in-process through `rigscope.cli.main`: it
either copes (exit 0) or says one line and exits non-zero; there is never a traceback, and the
files it read are byte for byte what they were.  `replay` runs without its app (the part under
test is opening the session; a stub stands in for the dashboard).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigscope import cli
from tests.conftest import REPO
from tests.recordings.hostile import interrupted
from tests.replay.conftest import record_sim, tree_hashes

COMMANDS = ("replay", "analyze", "repair", "correlate")
META_FREE = {"analyze"}  # works from the samples alone: a broken meta.json is not its business
EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute, 2 Hz, 1-GPU simulated session, with Parquet and CSV (read-only: tests damage copies)."""
    return record_sim(tmp_path_factory.mktemp("sessions"), "--format", "both", duration="2m", gpus=1)


@pytest.fixture
def quiet_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """replay without a terminal check and without the app: opening the session is what is tested."""
    import tui.replay_app

    class NoApp:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self) -> None:
            return None

    monkeypatch.setattr("rigscope.replay_command.check_terminal", lambda: None)
    monkeypatch.setattr(tui.replay_app, "ReplayApp", NoApp)


def copy_of(recorded: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="corrupt-")) / "sessions" / recorded.name
    shutil.copytree(recorded, target)
    return target


def argv(command: str, session: Path, out_dir: Path) -> list[str]:
    return {"replay": ["replay", str(session)],
            "analyze": ["analyze", str(session), "--out", str(out_dir / "derived.parquet")],
            "repair": ["repair", str(session)],
            "correlate": ["correlate", str(session), "loss"]}[command]


def run_checked(command: str, session: Path, capsys: pytest.CaptureFixture[str], must_fail: bool) -> int:
    """Run the command on `session`; the checks every corrupt input shares.  Its exit code."""
    out_dir = Path(tempfile.mkdtemp(prefix="corrupt-out-"))
    before = tree_hashes(session)
    capsys.readouterr()
    try:
        code = cli.main(argv(command, session, out_dir))
    except SystemExit as exit_:  # argparse: usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err + captured.out
    if code != 0 or must_fail:
        assert code != 0, f"{command} took a corrupt input: {captured.out[-300:]}"
        assert len(errors) == 1 and errors[0].startswith("rigscope: error: "), captured.err
    if code != 0 or command != "repair":  # repair rewrites the session only when it succeeds
        assert tree_hashes(session) == before
    shutil.rmtree(out_dir, ignore_errors=True)
    return code


def damage_parquet(session: Path, command: str) -> Path:
    if command == "repair":
        interrupted(session, journal=False)
        return session / "samples" / "part-000001.parquet"
    return session / "samples.parquet"


# -- the cases ------------------------------------------------------------------------
@pytest.mark.usefixtures("quiet_replay")
@EXAMPLES
@given(command=st.sampled_from(COMMANDS), fraction=st.floats(0.0, 0.999))
def test_truncated_parquet(recorded, capsys, command, fraction):
    session = copy_of(recorded)
    parquet = damage_parquet(session, command)
    data = parquet.read_bytes()
    parquet.write_bytes(data[: int(len(data) * fraction)])
    run_checked(command, session, capsys, must_fail=True)


@pytest.mark.usefixtures("quiet_replay")
@EXAMPLES
@given(command=st.sampled_from(COMMANDS), noise=st.binary(min_size=0, max_size=2048),
       target=st.sampled_from(["parquet", "meta.json"]))
def test_random_bytes(recorded, capsys, command, noise, target):
    session = copy_of(recorded)
    path = damage_parquet(session, command) if target == "parquet" else session / "meta.json"
    path.write_bytes(noise)
    run_checked(command, session, capsys, must_fail=target == "parquet" or command not in META_FREE)


@pytest.mark.usefixtures("quiet_replay")
@EXAMPLES
@given(command=st.sampled_from(COMMANDS), cut=st.floats(0.0, 0.999), target=st.sampled_from(["events", "meta"]))
def test_cut_json_lines(recorded, capsys, command, cut, target):
    """A cut meta.json is an error; a cut events.jsonl (a crash mid-line) is read up to the cut."""
    session = copy_of(recorded)
    path = session / ("events.jsonl" if target == "events" else "meta.json")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    run_checked(command, session, capsys, must_fail=target == "meta" and command not in META_FREE)


WRONG_TYPES = st.sampled_from([None, 0, -1.5, "", "x", [], [1, "a"], {}, {"a": None}, True])


@pytest.mark.usefixtures("quiet_replay")
@EXAMPLES
@given(command=st.sampled_from(COMMANDS), keys=st.lists(st.sampled_from(
    ["columns", "status", "recorder", "session_start", "hz", "host", "monitoring", "summary", "session_id"]),
    min_size=1, max_size=4, unique=True), values=st.lists(WRONG_TYPES, min_size=4, max_size=4), whole=st.booleans())
def test_meta_json_with_wrong_types(recorded, capsys, command, keys, values, whole):
    session = copy_of(recorded)
    meta = json.loads((session / "meta.json").read_text())
    if whole:  # the document itself is not an object
        meta = values[0] if not isinstance(values[0], dict) else [meta]
    else:
        for key, value in zip(keys, values):
            meta[key] = value
    (session / "meta.json").write_text(json.dumps(meta))
    run_checked(command, session, capsys, must_fail=whole and command not in META_FREE)


@EXAMPLES
@given(drop=st.lists(st.sampled_from(["ts", "elapsed_s", "cpu_util_pct", "gpu0_util_pct", "gpu0_power_w",
                                      "mem_used_bytes"]), min_size=1, max_size=3, unique=True),
       rows=st.integers(0, 50))
def test_csv_with_missing_columns(recorded, capsys, drop, rows):
    """analyze on a samples CSV without some columns: a column it needs is named, none it can miss is fatal."""
    directory = Path(tempfile.mkdtemp(prefix="corrupt-csv-"))
    table = pl.read_csv(recorded / "samples.csv", infer_schema_length=0).head(rows)
    csv = directory / "samples.csv"
    table.drop(drop).write_csv(csv)
    code = run_checked("analyze", csv, capsys, must_fail=False)
    if "ts" in drop or "elapsed_s" in drop:
        assert code == 1


@pytest.mark.usefixtures("quiet_replay")
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a directory whatever its mode")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_session_directory_that_cannot_be_read(recorded, capsys, command):
    session = copy_of(recorded)
    if command == "repair":
        interrupted(session, journal=False)
    before = tree_hashes(session)
    session.chmod(0)
    try:
        code = cli.main(argv(command, session, Path(tempfile.mkdtemp())))
        captured = capsys.readouterr()
    finally:
        session.chmod(0o755)
    assert code == 1 and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("rigscope: error: ")
    assert tree_hashes(session) == before


def test_no_traceback_reaches_the_terminal(recorded, tmp_path):
    """The same path as a user's shell: a subprocess, a truncated Parquet file, one line on stderr."""
    session = copy_of(recorded)
    parquet = session / "samples.parquet"
    parquet.write_bytes(parquet.read_bytes()[:1000])
    done = subprocess.run([sys.executable, "-m", "rigscope", "analyze", str(session), "--out",
                           str(tmp_path / "x.parquet")], capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("rigscope: error: ")
