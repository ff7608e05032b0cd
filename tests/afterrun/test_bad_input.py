"""Corrupt and unknown input to ls, import and export: one clear line, a non-zero exit, nothing on disk changed."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recordings.catalog import catalog
from recordings.errors import InputError
from recordings.export import export_session
from recordings.importers import import_file
from recordings.longcsv import LAB_COLUMNS
from tests.afterrun.conftest import copy_session, one_clear_line, snapshot

HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _import_or_clean_error(path: Path, root: Path) -> None:
    """Either a session, or an InputError with one line and no session directory left behind."""
    try:
        session, _ = import_file(path, root)
    except InputError as error:
        assert "\n" not in str(error)
        assert not root.exists() or not any(root.iterdir())
    else:
        assert (session / "meta.json").is_file()
        shutil.rmtree(root)


@HYPOTHESIS
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_import(tmp_path, data):
    source = tmp_path / "random.csv"
    source.write_bytes(data)
    _import_or_clean_error(source, tmp_path / "sessions")


CELL = st.one_of(st.just(""), st.sampled_from(["cpu", "gpu", "gpu1", "0", "nan", "abc", "1e400", "-3"]),
                 st.floats(allow_nan=False).map(repr), st.just("2025-10-27T09:04:30.204129Z"),
                 st.text(alphabet=st.characters(blacklist_characters="\r\n\"", blacklist_categories=("Cs",)), max_size=6))


@HYPOTHESIS
@given(st.lists(st.lists(CELL, min_size=0, max_size=len(LAB_COLUMNS) + 2), max_size=6))
def test_lab_header_with_random_rows(tmp_path, rows):
    source = tmp_path / "pc__rle_x.csv"
    source.write_text(",".join(LAB_COLUMNS) + "\n" + "\n".join(",".join(row) for row in rows) + "\n")
    _import_or_clean_error(source, tmp_path / "sessions")


def test_cut_lab_lines_are_skipped(lab, tmp_path):
    text = (lab / "pc__rle_20251028_08.csv").read_text().splitlines()
    source = tmp_path / "cut.csv"
    source.write_text("\n".join(text[:11]) + "\n" + text[11][:25])  # the last line torn mid-timestamp
    session, item = import_file(source, tmp_path / "sessions")
    assert pl.read_parquet(session / "samples.parquet").height == 5
    assert item.accounting() == ["skipped 1 row: a last line cut short (first at line 12)"]


@pytest.mark.parametrize(("text", "expected"), [
    ("timestamp,device,temp_c\n2025-10-27T09:04:30Z,gpu,50\n",
     ": an RLE lab CSV without util_pct (it needs timestamp, device, util_pct)"),
    ("time,gpu_util,mem\n1,2,3\n",
     ": unknown layout (columns time, gpu_util, mem); expected nvidia-smi dmon (#Date Time gpu ...), "
     "RLE lab long CSV (timestamp, device, util_pct), TTS requests (request_id, timestamp or start_time, "
     "duration_s or total_duration_s), nvidia-smi --query-gpu (timestamp and fields such as utilization.gpu)"),
    ("timestamp,device,util_pct\n2025-10-27T09:04:30Z,gpu,lots\n", ": no readable row (skipped 1 row: util_pct not a number (first at line 2))"),
    ("timestamp, index, utilization.gpu [%]\n2025/10/28 10:00:01.100, 0\nyesterday, 0, 35 %\n",
     ": no readable row (skipped 1 row: not 3 fields (a torn or foreign line) (first at line 2); "
     "skipped 1 row: an unreadable time (first at line 3))"),
    ("", ": empty file"),
])
def test_import_of_bad_csv_names_what_it_expected(tmp_path, rig, text, expected):
    source = tmp_path / "in.csv"
    source.write_text(text)
    root = tmp_path / "sessions"
    line = one_clear_line(rig("import", str(source), "--dir", str(root)))
    assert line == f"rigscope: error: {source}{expected}"
    assert not root.exists()


def test_a_broken_metadata_file_stops_the_import(lab, tmp_path, cli):
    source = tmp_path / "pc__rle_20251028_08.csv"
    shutil.copy(lab / source.name, source)
    (tmp_path / f"{source.stem}_metadata.json").write_text('{"model_name": "x", ')
    line = one_clear_line(cli("import", str(source), "--dir", str(tmp_path / "sessions")))  # a real process
    assert "_metadata.json: unreadable metadata" in line and not (tmp_path / "sessions").exists()


def test_an_unreadable_file_or_directory(tmp_path, rig):
    hidden = tmp_path / "locked"
    hidden.mkdir()
    (hidden / "a.csv").write_text("timestamp,device,util_pct\n")
    hidden.chmod(0)
    try:
        if os.access(hidden / "a.csv", os.R_OK):
            pytest.skip("running as root: chmod does not stop reads")
        line = one_clear_line(rig("import", str(hidden / "a.csv"), "--dir", str(tmp_path / "s")))
        assert "Permission denied" in line
        line = one_clear_line(rig("ls", "--dir", str(hidden)))
        assert "cannot list" in line
    finally:
        hidden.chmod(0o755)
    assert one_clear_line(rig("import", str(tmp_path / "missing.csv"))).endswith("missing.csv: no such file")


@pytest.fixture
def broken(sim_session, tmp_path):
    return copy_session(sim_session, tmp_path / "sessions")


@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_export_of_a_damaged_parquet_file(broken, tmp_path, rig, damage):
    target = broken / "samples.parquet"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    before = snapshot(broken)
    line = one_clear_line(rig("export", str(broken), "--to", "long-csv", "--out", str(tmp_path / "o.csv")))
    assert "unreadable Parquet file" in line
    assert snapshot(broken) == before and not (tmp_path / "o.csv").exists() and not list(tmp_path.glob(".o.csv*"))


def test_export_of_an_interrupted_session_with_a_cut_journal_line(broken, tmp_path):
    table = pl.read_parquet(broken / "samples.parquet").drop("cpu_core_util_pct")
    (broken / "samples.parquet").unlink()
    (broken / "samples").mkdir()
    rows = table.with_columns(pl.col("ts").dt.epoch("us")).to_dicts()
    lines = [json.dumps(row) for row in rows[:51]]
    (broken / "samples" / "part-000001.journal").write_text("\n".join(lines[:50]) + "\n" + lines[50][:40])
    meta = json.loads((broken / "meta.json").read_text())
    meta.update(status="recording", recorder={"pid": 2**22 + 17, "hostname": socket.gethostname()})
    (broken / "meta.json").write_text(json.dumps(meta))
    before = snapshot(broken)
    path, count = export_session(broken, "csv", tmp_path / "out.csv")
    assert count == 50 and pl.read_csv(path).height == 50
    assert snapshot(broken) == before
    assert [r["status"] for r in catalog(broken.parent)] == ["interrupted"]


def test_export_where_meta_json_has_wrong_types(broken, tmp_path, rig):
    meta = json.loads((broken / "meta.json").read_text())
    meta.update(gpus="two", columns=5, total_samples="many")
    (broken / "meta.json").write_text(json.dumps(meta))
    (broken / "samples.parquet").unlink()  # the reader falls back on meta.json to type the segments
    done = rig("export", str(broken), "--to", "csv", "--out", str(tmp_path / "o.csv"))
    assert done.returncode == 0, done.stderr  # no segments: an empty export, not a crash
    assert catalog(broken.parent)[0]["status"] == "corrupt"
    bad = one_clear_line(rig("export", str(broken), "--to", "csv", "--out", str(tmp_path / "no" / "where.csv")))
    assert "cannot write" in bad and "where.csv" in bad


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to take away root's right to read any folder")
@pytest.mark.parametrize("command", [["ls"], ["report", "latest"], ["compare", "--all"], ["repair", "latest"]])
def test_a_sessions_folder_that_cannot_be_read_is_one_line(tmp_path, command):
    import subprocess
    import sys

    from tests.conftest import REPO

    locked = tmp_path / "locked"
    (locked / "sessions").mkdir(parents=True)
    os.chown(locked, 65534, 65534)  # another user's folder, 0700: what a sessions path under it meets
    locked.chmod(0o700)
    done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                           "rigscope", *command, "--dir", str(locked / "sessions")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "Permission denied" in one_clear_line(done)


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_import_of_something_that_is_no_file_says_what_it_is(tmp_path, kind):
    """Named as a log, a FIFO is never opened (it would block), and none is called missing."""
    from tests.conftest import run_cli

    path = tmp_path / "gpu.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    done = run_cli("import", str(path), "--dir", str(tmp_path / "sessions"), timeout=30)
    line = one_clear_line(done)
    assert {"fifo": "a FIFO", "directory": "a directory", "device": "a device"}[kind] in line
