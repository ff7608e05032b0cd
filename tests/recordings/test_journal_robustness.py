"""A journal stays readable whatever a frame holds and whatever a crash does to its lines.

The recorder writes NaN and ±inf as null (json would write bare NaN, which no reader parses); a reader
keeps every good line of a journal holding bad ones (a cut line ended by a newline, a line of NULs a
power loss leaves, garbage, a bare NaN of an older recorder) and says how many it skipped; `repair`
says so too and brings samples.csv up to the repaired samples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from collectors.process_rows import empty_row
from collectors.schema import session_columns
from collectors.simulated import SimulatedCollector
from recordings import segments
from recordings.frames import csv_cells
from recordings.journal_row import RowEncoder, plain_line
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessJournal
from recordings.reader import read_samples
from recordings.repair import repair_session
from recordings.session import read_meta
from tests.recordings.test_recorder import crash_like, record

COLUMNS = session_columns([0])
NON_FINITE = (math.nan, math.inf, -math.inf)


def _strict(line: str) -> dict:
    """The line as strict JSON: a bare NaN or Infinity is an error, as it is for every other JSON reader."""
    def refuse(token: str) -> None:
        raise ValueError(f"bare {token}")
    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_value_is_written_as_null_in_a_column_and_in_a_list(value):
    encoder, names = RowEncoder(COLUMNS), tuple(COLUMNS)
    frame = {"ts": 1, "elapsed_s": 0.5, "cpu_power_limit_w": value, "cpu_core_util_pct": [1.5, value, 2.0],
             "workload_state": "NaN Infinity"}  # the words in a text stay as they are
    line = encoder.line(frame)
    assert line == plain_line(names, frame)
    row = _strict(line)
    assert row["cpu_power_limit_w"] is None and row["cpu_core_util_pct"] == [1.5, None, 2.0]
    assert row["workload_state"] == "NaN Infinity" and row["elapsed_s"] == 0.5
    every = dict.fromkeys(names, value)
    assert encoder.line(every) == plain_line(names, every)
    assert set(_strict(encoder.line(every)).values()) == {None}


def test_a_journal_of_frames_holding_nan_reads_back_whole(tmp_path, capsys):
    encoder = RowEncoder(COLUMNS)
    path = tmp_path / "part-000001.journal"
    path.write_text("".join(encoder.line({"ts": 1_800_000_000_000_000 + k, "elapsed_s": k / 10,
                                          "cpu_power_limit_w": math.nan if k % 2 else 65.0}) for k in range(10)))
    table = segments.read_journal(path, COLUMNS)
    assert table["cpu_power_limit_w"].to_list() == [65.0, None] * 5
    assert capsys.readouterr().err == ""


def test_a_recording_whose_readings_are_not_finite_closes_complete_with_them_as_null(tmp_path, monkeypatch):
    """What `--rated-cpu-w nan` did: every frame held a NaN; the recording stopped at its first segment."""
    read = SimulatedCollector.read

    def non_finite(self, elapsed_s):
        frame = read(self, elapsed_s)
        frame["cpu_power_limit_w"] = math.nan
        frame["cpu_core_util_pct"] = [math.inf, *frame["cpu_core_util_pct"][1:]]
        return frame

    monkeypatch.setattr(SimulatedCollector, "read", non_finite)
    session, recorder = record(tmp_path, seconds=3, hz=10, gpus=1, formats=("parquet", "csv"), segment_s=1.0)
    assert recorder.error is None and read_meta(session)["status"] == "complete"
    parquet = pl.read_parquet(session / segments.SAMPLES_PARQUET)
    assert parquet.height == 30 and parquet["cpu_power_limit_w"].null_count() == 30
    assert parquet["cpu_core_util_pct"].list.get(0).null_count() == 30
    assert parquet["cpu_core_util_pct"].list.get(1).null_count() == 0
    csv = (session / "samples.csv").read_text()
    assert "nan" not in csv and "inf" not in csv
    assert pl.read_csv(session / "samples.csv")["cpu_power_limit_w"].null_count() == 30


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_csv_cell_is_empty(value):
    cells = list(csv_cells({"ts": 1, "cpu_power_limit_w": value, "cpu_core_util_pct": [value, 1.0]}, COLUMNS,
                           {"cpu_core_util_pct": 2}))
    names = [name for name in COLUMNS if name != "cpu_core_util_pct"]
    assert cells[names.index("cpu_power_limit_w") + 1] == ""  # +1: the list's two cells come before it
    assert "nan" not in cells and "inf" not in cells and "-inf" not in cells


# -- reading a damaged journal ---------------------------------------------------------------------------

def _journal(session: Path) -> Path:
    return session / segments.SAMPLES_DIR / "part-000002.journal"


def _damaged(tmp_path: Path) -> tuple[Path, pl.DataFrame, set[int]]:
    """A crashed session whose journal holds a bare NaN and ±Infinity (an older recorder's), a line of NULs,
    a garbage line and a cut last line ended by a newline; the rows it should read as, and the lost ones."""
    session, table = crash_like(tmp_path, rows=25, cut=False)
    lines = _journal(session).read_bytes().split(b"\n")[:-1]
    assert len(lines) == table.height - 25
    rows = [json.loads(line) for line in lines]
    rows[3]["cpu_power_w"] = math.nan
    rows[4]["cpu_core_util_pct"][0] = math.inf
    rows[5]["gpu0_power_w"] = -math.inf
    encoded = [json.dumps(row).encode() for row in rows]  # json writes NaN, Infinity, -Infinity
    assert b"NaN" in encoded[3] and b"Infinity" in encoded[4] and b"-Infinity" in encoded[5]
    encoded[10] = b"\0" * len(encoded[10])  # (b) a power loss
    encoded.insert(12, b"this is garbage")  # (c)
    encoded[-1] = encoded[-1][:60]  # (a) a cut last line, then a newline
    _journal(session).write_bytes(b"\n".join(encoded) + b"\n")
    lost = {25 + 10, table.height - 1}
    expected = table.with_row_index("_n").filter(~pl.col("_n").is_in(list(lost))).drop("_n")
    expected = expected.with_columns(
        pl.when(pl.int_range(pl.len()) == 25 + 3).then(None).otherwise(pl.col("cpu_power_w")).alias("cpu_power_w"),
        pl.when(pl.int_range(pl.len()) == 25 + 5).then(None).otherwise(pl.col("gpu0_power_w")).alias("gpu0_power_w"),
        pl.when(pl.int_range(pl.len()) == 25 + 4)
        .then(pl.col("cpu_core_util_pct").list.eval(pl.when(pl.int_range(pl.len()) == 0).then(None)
                                                     .otherwise(pl.element())))
        .otherwise(pl.col("cpu_core_util_pct")).alias("cpu_core_util_pct"))
    return session, expected, lost


def test_every_good_line_of_a_damaged_journal_is_read_and_the_bad_ones_are_counted(tmp_path, capsys):
    session, expected, _ = _damaged(tmp_path)
    capsys.readouterr()
    recovered = read_samples(session)
    assert_frame_equal(recovered, expected)
    assert recovered.height == expected.height
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rigscope: warning: ")
    assert "part-000002.journal: skipped 3 invalid journal lines (line 11, 13, 36)" in err[0]


@pytest.mark.parametrize("damage", ["cut", "nul", "garbage", "nan"])
def test_each_kind_of_bad_line_alone_loses_only_its_own_row(tmp_path, capsys, damage):
    session, table = crash_like(tmp_path, rows=25, cut=False)
    lines = _journal(session).read_bytes().split(b"\n")[:-1]
    if damage == "cut":
        lines[-1] = lines[-1][:50]
    elif damage == "nul":
        lines[7] = b"\0" * len(lines[7])
    elif damage == "garbage":
        lines.insert(7, b"this is garbage")
    else:
        lines[7] = lines[7].replace(b'"elapsed_s": ', b'"elapsed_s": NaN, "x": ', 1)
    _journal(session).write_bytes(b"\n".join(lines) + b"\n")
    recovered = read_samples(session)
    lost = {"cut": [table.height - 1], "nul": [25 + 7], "garbage": [], "nan": []}[damage]
    kept = table.with_row_index("_n").filter(~pl.col("_n").is_in(lost)).drop("_n")
    if damage == "nan":
        assert recovered["elapsed_s"][25 + 7] is None
        recovered, kept = recovered.drop("elapsed_s"), kept.drop("elapsed_s")
    assert_frame_equal(recovered, kept)
    err = capsys.readouterr().err
    assert ("skipped an invalid journal line" in err) == (damage != "nan")


def test_repair_keeps_every_good_line_and_says_how_many_it_skipped(tmp_path):
    session, expected, _ = _damaged(tmp_path)
    said = repair_session(session)
    assert said.startswith(f"repaired: {expected.height} samples, status interrupted")
    assert "skipped 3 invalid journal lines" in said
    assert_frame_equal(pl.read_parquet(session / segments.SAMPLES_PARQUET), expected)
    meta = read_meta(session)
    assert meta["total_samples"] == expected.height
    assert any("skipped 3 invalid journal lines (line 11, 13, 36)" in warning for warning in meta["warnings"])


def test_repair_keeps_the_good_process_rows_of_a_damaged_process_journal_and_says_so(tmp_path):
    session, table = crash_like(tmp_path, rows=25, cut=False)
    start = int(table["ts"][0].timestamp() * 1e6)
    journal = ProcessJournal(session)
    for second in range(4):
        row = empty_row(start + second * 1_000_000, 100 + second, "compute", 0)
        row["cpu_pct"] = math.nan if second == 1 else 12.5
        journal.append([row])
    path = segments.part_path(session, 1, "journal", PROCESSES_DIR)
    lines = path.read_bytes().split(b"\n")[:-1]
    assert b'"cpu_pct":null' in lines[1]  # the writer writes no NaN; an older one did, and its journals are read
    lines[1] = lines[1].replace(b'"cpu_pct":null', b'"cpu_pct":NaN')
    path.write_bytes(b"\n".join([lines[0], lines[1], b"\0" * 40, lines[2], lines[3][:30]]) + b"\n")
    said = repair_session(session)
    assert "processes/part-000001.journal: skipped 2 invalid journal lines (line 3, 5)" in said
    processes = pl.read_parquet(session / PROCESSES_PARQUET)
    assert processes["pid"].to_list() == [100, 101, 102] and processes["cpu_pct"].to_list() == [12.5, None, 12.5]


# -- repair and samples.csv ------------------------------------------------------------------------------

def _crashed_with_csv_behind(tmp_path: Path, formats: list[str]) -> tuple[Path, pl.DataFrame]:
    """A crashed session whose samples.csv was flushed less far than its journal, with a torn last line."""
    session, table = crash_like(tmp_path, rows=25, cut=True)
    meta = json.loads((session / "meta.json").read_text())
    meta.setdefault("monitoring", {})["formats"] = formats
    (session / "meta.json").write_text(json.dumps(meta))
    csv = session / "samples.csv"
    lines = csv.read_text().splitlines(keepends=True)
    csv.write_text("".join(lines[: 1 + table.height - 5]) + lines[1 + table.height - 5][:20])
    return session, table


def test_repair_brings_samples_csv_up_to_the_repaired_samples(tmp_path):
    session, table = _crashed_with_csv_behind(tmp_path, ["csv", "parquet"])
    assert pl.read_csv(session / "samples.csv", truncate_ragged_lines=True).height < table.height
    repair_session(session)
    parquet = pl.read_parquet(session / segments.SAMPLES_PARQUET)
    csv = pl.read_csv(session / "samples.csv", infer_schema_length=None)
    assert parquet.height == csv.height == table.height
    for name in ("elapsed_s", "gpu0_util_pct", "gpu0_power_w", "mem_used_bytes"):
        assert csv[name].to_list() == pytest.approx(parquet[name].to_list(), rel=1e-6, nan_ok=True)
    assert csv["cpu_core3_util_pct"].to_list() == pytest.approx(parquet["cpu_core_util_pct"].list.get(3).to_list())
    assert csv["ts"].to_list() == parquet["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_list()
    assert not [p.name for p in session.glob(".*.tmp")]


def test_repair_writes_no_csv_for_a_session_that_records_none(tmp_path):
    session, _ = _crashed_with_csv_behind(tmp_path, ["parquet"])
    (session / "samples.csv").unlink()
    repair_session(session)
    assert not (session / "samples.csv").exists()


def test_replay_keeps_every_good_line_and_says_so_on_screen_not_under_the_dashboard(tmp_path, capfd):
    from tui.replay_source import ReplaySource

    session, expected, _ = _damaged(tmp_path)
    capfd.readouterr()
    source = ReplaySource(session)
    try:
        assert len(source.reader) == expected.height
        assert capfd.readouterr().err == ""
        (notice,) = source.notices()
        assert notice.endswith("part-000002.journal: skipped 3 invalid journal lines (line 11, 13, 36)")
        assert source.notices() == []  # once
    finally:
        source.close()
