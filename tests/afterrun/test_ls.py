"""`rigscope ls`: one row per session from meta.json, the five statuses, JSON output, ambiguous prefixes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from recordings.catalog import catalog
from recordings.errors import InputError
from recordings.importers import import_file
from recordings.session import resolve_session
from tests.afterrun.conftest import copy_session, one_clear_line, snapshot


def _edit_meta(session, **changes):
    path = session / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def root(sim_session, lab, tmp_path):
    """One session of each status, plus corrupt ones of each kind."""
    root = tmp_path / "sessions"
    copy_session(sim_session, root, "20260101-000000-done")
    running = copy_session(sim_session, root, "20260102-000000-running")
    _edit_meta(running, status="recording", recorder={"pid": os.getpid(), "hostname": socket.gethostname()})
    killed = copy_session(sim_session, root, "20260103-000000-killed")
    _edit_meta(killed, status="recording", recorder={"pid": _dead_pid(), "hostname": socket.gethostname()})
    elsewhere = copy_session(sim_session, root, "20260104-000000-elsewhere")  # a recorder on another host
    _edit_meta(elsewhere, status="recording", recorder={"pid": 1, "hostname": "other-host"})
    os.utime(elsewhere / "events.jsonl")  # the copy kept the old times: this one was just flushed
    stale = copy_session(sim_session, root, "20260105-000000-stale")
    _edit_meta(stale, status="recording", recorder={"pid": 1, "hostname": "other-host"})
    os.utime(stale / "events.jsonl", (time.time() - 3600, time.time() - 3600))
    import_file(lab / "reproducibility_test_1__rle_data_20251028_195412.csv", root)
    for name, text in (("20260106-000000-badjson", '{"session_id": "x", '),
                       ("20260107-000000-types", json.dumps({"session_id": "t", "total_samples": "many"})),
                       ("20260108-000000-list", "[1, 2]")):
        (root / name).mkdir()
        (root / name / "meta.json").write_text(text)
    return root


def test_each_status_and_corrupt_sessions_with_reasons(root):
    before = snapshot(root)
    rows = {row["id"]: row for row in catalog(root)}
    assert snapshot(root) == before  # ls only reads
    status = {name: row["status"] for name, row in rows.items()}
    assert status["20260101-000000-done"] == "complete"
    assert status["20260102-000000-running"] == "recording"
    assert status["20260103-000000-killed"] == "interrupted"
    assert status["20260104-000000-elsewhere"] == "recording"  # its files were just written
    assert status["20260105-000000-stale"] == "interrupted"  # nothing written for an hour
    assert status["20251029-005413-reproducibility-test-1"] == "imported"
    assert rows["20260106-000000-badjson"]["error"].startswith("meta.json: unreadable (Expecting")
    assert rows["20260107-000000-types"]["error"] == "meta.json: total_samples is str, not an integer"
    assert "not a JSON object" in rows["20260108-000000-list"]["error"]
    assert all(rows[n]["status"] == "corrupt" for n in ("20260106-000000-badjson", "20260107-000000-types",
                                                       "20260108-000000-list"))


def test_a_row_describes_the_session(root, sim_session):
    rows = catalog(root)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)  # newest first
    done = next(r for r in rows if r["id"] == "20260101-000000-done")
    meta = json.loads((sim_session / "meta.json").read_text())
    assert done["samples"] == meta["total_samples"] == 240
    assert done["duration_s"] == pytest.approx(119.5) and done["hz"] == pytest.approx(2.0)
    assert (done["host"], done["tier"], done["device_type"]) == ("sim-rig", "nvidia_h100", "cuda")
    devices = meta["summary"]["devices"].values()
    assert done["collapses"] == sum(d["collapse_events"] for d in devices)
    assert done["max_temp_c"] == max(d["max_temp_c"] for d in devices)
    running = next(r for r in rows if r["id"] == "20260102-000000-running")
    assert running["samples"] is None  # counted only when the session closes


def test_cli_table_and_json(root, rig, cli):
    table = cli("ls", "--dir", str(root))  # the real process: no data library makes it slow to start
    # The session whose recorder died here is compacted (SESSION_FORMAT); the other host's stale one waits for `repair`.
    assert table.returncode == 0
    assert table.stderr.splitlines() == ["rigscope: 20260103-000000-killed: its recorder is gone; compacting it",
                                         "rigscope: 20260103-000000-killed: repaired: 240 samples, status interrupted"]
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "start", "duration", "host"] and len(lines) == 1 + 9
    assert re.search(r"corrupt +\(meta.json: total_samples is str, not an integer\)$", table.stdout, re.M)
    done = next(line for line in lines if line.startswith("20260101-000000-done"))
    assert "0:01:59" in done and "240" in done and "2.0" in done and "complete" in done
    listed = json.loads(rig("ls", "--dir", str(root), "--json").stdout)
    assert len(listed) == 9 and {row["status"] for row in listed} == {
        "complete", "recording", "interrupted", "repaired", "imported", "corrupt"}
    assert set(listed[0]) == {"id", "start", "duration_s", "host", "tier", "device_type", "samples", "hz",
                              "collapses", "max_temp_c", "notes", "spans", "status", "demo", "error", "path"}


def test_an_unreadable_directory_is_listed_as_corrupt(root):
    locked = root / "20260109-000000-locked"
    locked.mkdir()
    (locked / "meta.json").write_text("{}")
    locked.chmod(0)
    try:
        if os.access(locked / "meta.json", os.R_OK):
            pytest.skip("running as root: chmod does not stop reads")
        rows = {row["id"]: row for row in catalog(root)}
        assert rows[locked.name]["status"] == "corrupt" and "Permission denied" in rows[locked.name]["error"]
    finally:
        locked.chmod(0o755)


def test_a_directory_that_denies_reads_is_corrupt_even_as_root(root, monkeypatch):
    """The same as above where chmod cannot deny a read (root): the file system is told to refuse."""
    import pathlib

    locked = root / "20260109-000000-locked"
    locked.mkdir()
    real_stat, real_open = pathlib.Path.stat, pathlib.Path.open

    def refuse(real):
        def call(self, *args, **kwargs):
            if str(self).startswith(f"{locked}/"):
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)
        return call

    monkeypatch.setattr(pathlib.Path, "stat", refuse(real_stat))
    monkeypatch.setattr(pathlib.Path, "open", refuse(real_open))
    rows = {row["id"]: row for row in catalog(root)}
    assert rows[locked.name]["status"] == "corrupt" and "Permission denied" in rows[locked.name]["error"]
    assert len(rows) == 10


def test_an_ambiguous_prefix_lists_the_matches(root, rig):
    with pytest.raises(InputError, match=r"'2026010' is ambiguous .*: 8 match \(20260101-000000-done, "):
        resolve_session("2026010", root)
    line = one_clear_line(rig("export", "2026010", "--to", "csv", "--dir", str(root)))
    assert "20260101-000000-done" in line and "20260108-000000-list" in line
    assert resolve_session("20260101", root).name == "20260101-000000-done"


def test_a_narrow_terminal_keeps_the_id_samples_and_status(root):
    from rigscope.catalog_command import LS_COLUMNS, _cells, _fit

    table = [list(LS_COLUMNS), *(_cells(r) for r in catalog(root))]
    wide, narrow = _fit(table, None), _fit(table, 80)
    assert wide[0].split() == [*LS_COLUMNS[:9], "max", "°C", *LS_COLUMNS[10:]]
    assert narrow[0].split() == ["id", "samples", "collapses", "status", "notes"]  # the ids here are 40 wide
    assert all(len(line) <= 80 for line in narrow)
    types = next(line for line in _fit(table, 110) if line.startswith("20260107-000000-types"))
    assert re.search(r" corrupt +\(meta.json: total_samples is str.*…$", types) and len(types) == 110


def test_demo_sessions_are_marked(root):
    from rigscope.catalog_command import _cells

    rows = catalog(root)
    done = next(r for r in rows if r["id"] == "20260101-000000-done")
    assert done["demo"] is True and _cells(done)[-1].startswith("demo")  # recorded by the simulator


@pytest.mark.parametrize(("hz", "shown"), [(10.0, "10.0"), (1.0, "1.0"), (1 / 60, "0.017"), (None, "—")])
def test_the_rate_of_a_slow_log_is_not_shown_as_zero(root, hz, shown):
    from rigscope.catalog_command import LS_COLUMNS, _cells

    row = {**catalog(root)[0], "hz": hz}
    assert _cells(row)[LS_COLUMNS.index("Hz")] == shown  # an nvidia-smi log of a line a minute: 0.017 Hz


def test_a_start_that_is_no_time_is_unknown_not_shown_as_written(root, cli):
    """Another tool's or a damaged meta.json: its start is null in --json and blank in the table, the rest kept."""
    done = root / "20260101-000000-done"
    _edit_meta(done, session_start="\x1b[31mtomorrow; rm -rf")
    row = next(r for r in catalog(root) if r["id"] == done.name)
    assert row["start"] is None and row["status"] == "complete" and row["samples"] == 240
    line = next(line for line in cli("ls", "--dir", str(root)).stdout.splitlines() if line.startswith(done.name))
    assert "tomorrow" not in line and "rm -rf" not in line and "240" in line
