"""Compaction and repair never lose rows: a kill at every rename and unlink of close and repair, then repair twice.

The kill is injected at each file operation in turn (a `Killed` raised instead of the k-th rename, unlink or
rmdir, and every one after it, as a dead process does nothing more), never by timing.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
from pathlib import Path

import polars as pl
import pytest

from collectors.process_rows import empty_row
from recordings import repair as repair_module
from recordings import segments
from recordings.errors import InputError
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessJournal, compact_processes
from recordings.reader import session_columns_of
from recordings.repair import repair_session
from recordings.session import read_meta, row_group_rows
from tests.recordings.test_recorder import record


class Killed(BaseException):
    """The process died here (BaseException: no `except Exception` of the code under test catches it)."""


class KillAt:
    """Lets `k - 1` file operations through, then kills: the k-th and every later one raise."""

    def __init__(self, k: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.k, self.calls, self.fired = k, 0, False
        for owner, name in ((os, "replace"), (pathlib.Path, "unlink"), (pathlib.Path, "rmdir")):
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name)))

    def _wrap(self, real):
        def operation(*args, **kwargs):
            self.calls += 1
            if self.fired or self.calls >= self.k:
                self.fired = True
                raise Killed
            return real(*args, **kwargs)
        return operation


def _process_row(ts: int, pid: int) -> dict:
    row = empty_row(ts, pid, "compute", 0)
    row.update(visible=True, gpu_mem_bytes=1 << 30)
    return row


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """A session as a kill -9 leaves it: three landed sample parts and a journal, process parts and a journal."""
    root = tmp_path_factory.mktemp("template")
    session, _ = record(root, seconds=40, hz=2, gpus=1, formats=("parquet",))
    table = pl.read_parquet(session / segments.SAMPLES_PARQUET)
    (session / segments.SAMPLES_PARQUET).unlink()
    (session / "report.md").unlink()  # a crashed session has none
    (session / segments.SAMPLES_DIR).mkdir()
    for number, offset in enumerate((0, 20, 40), 1):
        segments.write_parquet_atomic(table.slice(offset, 20), segments.part_path(session, number, "parquet"))
    lines = [json.dumps({**row, "ts": int(row["ts"].timestamp() * 1e6)}, default=str) for row in table.slice(60).to_dicts()]
    segments.part_path(session, 4, "journal").write_text("\n".join(lines) + "\n")
    journal = ProcessJournal(session, segment_interval_s=4.0)
    start = int(table["ts"][0].timestamp() * 1e6)
    for second in range(0, 10, 2):
        journal.append([_process_row(start + second * 1_000_000, pid) for pid in (100, 200)])
    meta = read_meta(session)
    meta["status"] = "recording"
    meta["recorder"] = {"pid": 2**22 + 12345, "hostname": socket.gethostname()}  # this host, a dead pid
    (session / "meta.json").write_text(json.dumps(meta))
    return session, table


def _copy(template: tuple[Path, pl.DataFrame], tmp_path: Path) -> Path:
    return Path(shutil.copytree(template[0], tmp_path / template[0].name))


def _close(session: Path) -> None:
    """What the recorder's close does to the segments: compact the samples, then the process rows."""
    meta = read_meta(session)
    segments.compact(session, session_columns_of(meta), row_group_rows=row_group_rows(meta))
    compact_processes(session)


def _state(session: Path) -> tuple[list, list, int]:
    samples = pl.read_parquet(session / segments.SAMPLES_PARQUET, glob=False)["elapsed_s"].to_list()
    processes = pl.read_parquet(session / PROCESSES_PARQUET, glob=False).select("ts", "pid").rows()
    return samples, processes, read_meta(session)["total_samples"]


def _assert_whole(session: Path, table: pl.DataFrame) -> None:
    samples, processes, total = _state(session)
    assert samples == table["elapsed_s"].to_list()  # every row, once, in order
    assert total == table.height
    assert len(processes) == 10 and len(set(processes)) == 10
    assert not (session / segments.SAMPLES_DIR).exists() and not (session / PROCESSES_DIR).exists()
    assert not [p.name for p in session.rglob(".*.tmp")]


@pytest.mark.parametrize("phase", ["close", "repair"])
def test_a_kill_at_any_rename_or_unlink_loses_no_row_and_repair_twice_is_repair_once(
        template, tmp_path, monkeypatch, phase):
    step = _close if phase == "close" else repair_session
    k = 1
    while True:
        session = _copy(template, tmp_path / f"{phase}-{k}")
        with monkeypatch.context() as patch:
            killer = KillAt(k, patch)
            try:
                step(session)
            except Killed:
                pass
        repair_session(session)
        _assert_whole(session, template[1])
        once = _state(session), (session / "report.md").read_text()
        repair_session(session)
        assert (_state(session), (session / "report.md").read_text()) == once
        if not killer.fired:
            break
        k += 1
    assert k > 10  # every landing, publishing and removal step was a kill point


def test_repair_keeps_a_complete_file_and_removes_only_the_leftover_parts(template, tmp_path):
    """The field case: a close killed while removing parts left a whole samples.parquet and most parts."""
    session = _copy(template, tmp_path)
    _close(session)
    whole = pl.read_parquet(session / segments.SAMPLES_PARQUET)
    leftovers = session / segments.SAMPLES_DIR
    leftovers.mkdir()
    segments.write_parquet_atomic(whole.slice(10, 30), leftovers / "part-000002.parquet")
    assert "80 samples" in repair_session(session)
    assert pl.read_parquet(session / segments.SAMPLES_PARQUET).equals(whole)
    assert not leftovers.exists()


def test_parts_holding_rows_the_file_lacks_are_kept_with_one_line(template, tmp_path):
    session = _copy(template, tmp_path)
    _close(session)
    whole = pl.read_parquet(session / segments.SAMPLES_PARQUET)
    later = whole.tail(5).with_columns(pl.col("ts") + pl.duration(hours=1))
    (session / segments.SAMPLES_DIR).mkdir()
    part = session / segments.SAMPLES_DIR / "part-000009.parquet"
    segments.write_parquet_atomic(later, part)
    with pytest.raises(InputError, match="segments hold rows outside it"):
        repair_session(session)
    assert part.is_file() and pl.read_parquet(session / segments.SAMPLES_PARQUET).equals(whole)


def test_the_compacted_file_records_its_rows_and_time_range(template, tmp_path):
    session = _copy(template, tmp_path)
    _close(session)
    metadata = pl.read_parquet_metadata(session / segments.SAMPLES_PARQUET)
    table = template[1]
    assert metadata[segments.ROWS_KEY] == str(table.height)
    assert metadata[segments.FIRST_TS_KEY] == str(int(table["ts"][0].timestamp() * 1e6))
    assert metadata[segments.LAST_TS_KEY] == str(int(table["ts"][-1].timestamp() * 1e6))


@pytest.mark.parametrize("folder", ["runs[1]", "a*", "b?"])
def test_close_and_repair_take_a_sessions_path_literally(template, tmp_path, monkeypatch, folder):
    """Brackets, stars and question marks in --dir are names, not patterns: nothing of `ab/` comes in."""
    monkeypatch.setattr(repair_module, "_write_report", lambda session: None)  # the report's reading is tested apart
    neighbour = _copy(template, tmp_path / folder.replace("*", "b").replace("?", "c").replace("[1]", "1"))
    extra = segments.part_path(neighbour, 5, "parquet")
    segments.write_parquet_atomic(template[1].head(7), extra)
    closing, repairing = (_copy(template, tmp_path / f"{folder}{i}" if i else tmp_path / folder) for i in ("", 2))
    _close(closing)
    repair_session(closing)
    repair_session(repairing)
    for session in (closing, repairing):
        _assert_whole(session, template[1])
    assert extra.is_file()  # the neighbour is untouched
