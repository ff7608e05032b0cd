"""Hostile variants of real files from other tools: impossible readings become null and are counted,
columns rigscope does not read are named, a TTS temperature of 0.0 from no sensor is no reading, and
epoch times keep their microseconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.afterrun.conftest import realworld, rig  # noqa: F401  (fixtures)

ZETA = "zetascope__gpu_stats.csv"
TTS = "synthesis_m1_air_20251113_013730.csv"


def _imported(rig, source: Path, root: Path, *args: str) -> tuple[list[str], Path]:  # noqa: F811
    """Import `source` into `root`: the lines it printed and the one session it made (exit 0 required)."""
    done = rig("import", str(source), "--dir", str(root), "--tz", "UTC", *args)
    assert done.returncode == 0, (done.stdout, done.stderr)
    (session,) = root.iterdir()
    return done.stdout.splitlines(), session


def _meta(session: Path) -> dict:
    return json.loads((session / "meta.json").read_text())


def _with_cells(source: Path, target: Path, column: int, cells: dict[int, str]) -> Path:
    """`source` with the cell of `column` in the rows numbered in `cells` (1 is the first data row) replaced."""
    lines = source.read_text().splitlines()
    for row, text in cells.items():
        parts = lines[row].split(",")
        parts[column] = f" {text}"
        lines[row] = ",".join(parts)
    target.write_text("\n".join(lines) + "\n")
    return target


def test_impossible_utilization_in_a_query_log_is_null_and_counted(realworld, rig, tmp_path):  # noqa: F811
    source = _with_cells(realworld / ZETA, tmp_path / "gpu.csv", 2, {1: "nan", 2: "-500", 3: "250", 4: "inf"})
    lines, session = _imported(rig, source, tmp_path / "s")
    util = pl.read_parquet(session / "samples.parquet")["gpu0_util_pct"]
    assert util[:4].to_list() == [None, None, None, None]
    assert util.drop_nulls().is_between(0, 100).all() and util.null_count() == 4
    line = "  read 4 impossible values as null (NaN, infinite or out of range): gpu0_util_pct 4 (0 to 100)"
    assert line in lines
    meta = _meta(session)
    assert meta["imported"]["out_of_range"] == {"gpu0_util_pct": 4}
    assert line.strip() in meta["warnings"]
    assert meta["summary"]["devices"]["gpu0"]["mean_util_pct"] == pytest.approx(util.mean())


def test_impossible_dmon_readings_are_null_and_counted(rig, tmp_path):  # noqa: F811
    source = tmp_path / "dmon.txt"
    source.write_text("#Date       Time        gpu    pwr  gtemp    sm   mem\n"
                      "#YYYYMMDD   HH:MM:SS    Idx      W      C     %     %\n"
                      " 20251028   10:00:00      0    250     71    98    40\n"
                      " 20251028   10:00:01      0    -10     71   150    40\n"
                      " 20251028   10:00:02      0    251    900    97    41\n"
                      " 20251028   10:00:03      0    252    -60    96    42\n")
    lines, session = _imported(rig, source, tmp_path / "s")
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["gpu0_power_w"].to_list() == [250, None, 251, 252]
    assert samples["gpu0_util_pct"].to_list() == [98, None, 97, 96]
    assert samples["gpu0_temp_c"].to_list() == [71, 71, None, None]
    assert ("  read 4 impossible values as null (NaN, infinite or out of range): gpu0_power_w 1 (0 to 5000), "
            "gpu0_temp_c 2 (-50 to 150), gpu0_util_pct 1 (0 to 100)") in lines
    assert _meta(session)["summary"]["devices"]["gpu0"]["mean_util_pct"] == pytest.approx(97)


def test_impossible_readings_of_an_rle_lab_file_are_null_too(rig, tmp_path):  # noqa: F811
    source = tmp_path / "pc__rle.csv"
    source.write_text("timestamp,device,util_pct,temp_c,power_w\n"
                      "2025-06-01T12:00:00Z,gpu,50,60,200\n"
                      "2025-06-01T12:00:01Z,gpu,250,60,-3\n"
                      "2025-06-01T12:00:02Z,gpu,52,60,201\n")
    lines, session = _imported(rig, source, tmp_path / "s")
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["gpu0_util_pct"].to_list() == [50, None, 52]
    assert samples["gpu0_power_w"].to_list() == [200, None, 201]
    assert _meta(session)["imported"]["out_of_range"] == {"gpu0_util_pct": 1, "gpu0_power_w": 1}


def test_a_clean_file_says_nothing_about_impossible_values(realworld, rig, tmp_path):  # noqa: F811
    lines, session = _imported(rig, realworld / ZETA, tmp_path / "s")
    assert not any("impossible" in line for line in lines)
    assert _meta(session)["imported"]["out_of_range"] == {}


def test_a_misspelled_column_is_named_not_dropped_silently(realworld, rig, tmp_path):  # noqa: F811
    text = (realworld / ZETA).read_text()
    source = tmp_path / "gpu.csv"
    source.write_text(text.replace("utilization.gpu [%]", "utilisation.gpu [%]", 1))
    lines, session = _imported(rig, source, tmp_path / "s")
    line = "ignored 2 columns rigscope does not read: utilisation.gpu [%], memory.free [MiB]"
    assert f"  {line}" in lines
    assert line in _meta(session)["warnings"]
    assert pl.read_parquet(session / "samples.parquet").height == 590


def test_an_unknown_field_given_with_fields_is_named(rig, tmp_path):  # noqa: F811
    source = tmp_path / "noheader.csv"
    source.write_text("2025/06/01 12:00:00.000, 0, 7, 1000 MiB\n2025/06/01 12:00:01.000, 0, 8, 1001 MiB\n")
    done = rig("import", str(source), "--dir", str(tmp_path / "s"), "--fields",
               "timestamp,index,bogus.field,memory.used")
    assert done.returncode == 0, done.stderr
    assert "  ignored 1 column rigscope does not read: bogus.field" in done.stdout.splitlines()


def test_dmon_columns_rigscope_does_not_read_are_named(rig, tmp_path):  # noqa: F811
    source = tmp_path / "dmon.txt"
    source.write_text("#Date       Time        gpu    pwr  gtemp  mtemp    sm   mem   enc\n"
                      "#YYYYMMDD   HH:MM:SS    Idx      W      C      C     %     %     %\n"
                      " 20251028   10:00:00      0    250     71      -    98    40     0\n")
    lines, _ = _imported(rig, source, tmp_path / "s")
    assert "  ignored 2 columns rigscope does not read: mtemp, enc" in lines


def _tts_rows(source: Path, target: Path, temperatures: list[str]) -> Path:
    """The TTS file's one request repeated, a second apart, with these peak temperatures."""
    header, row = source.read_text().splitlines()[:2]
    names = header.split(",")
    at, start = names.index("peak_temperature_c"), names.index("start_time")
    rows = []
    for n, temperature in enumerate(temperatures):
        cells = row.split(",")
        cells[at] = temperature
        cells[start] = f"{float(cells[start]) + n:.6f}"
        rows.append(",".join(cells))
    target.write_text("\n".join([header, *rows]) + "\n")
    return target


def test_a_tts_temperature_of_zero_from_no_sensor_is_null(realworld, rig, tmp_path):  # noqa: F811
    lines, session = _imported(rig, realworld / TTS, tmp_path / "s")
    assert pl.read_parquet(session / "spans.parquet")["peak_temperature_c"].to_list() == [None]
    line = "peak_temperature_c: 0.0 in every row (no temperature sensor was read), stored as null"
    assert f"  {line}" in lines
    assert line in _meta(session)["imported"]["dropped"]
    several = _tts_rows(realworld / TTS, tmp_path / "all_zero.csv", ["0.0", "0.0", "0"])
    _, session = _imported(rig, several, tmp_path / "z")
    assert pl.read_parquet(session / "spans.parquet")["peak_temperature_c"].to_list() == [None] * 3


def test_a_tts_temperature_of_zero_beside_real_ones_is_kept(realworld, rig, tmp_path):  # noqa: F811
    source = _tts_rows(realworld / TTS, tmp_path / "mixed.csv", ["0.0", "41.5", "44.0"])
    lines, session = _imported(rig, source, tmp_path / "s")
    assert pl.read_parquet(session / "spans.parquet")["peak_temperature_c"].to_list() == [0.0, 41.5, 44.0]
    assert not any("peak_temperature_c" in line for line in lines)


def test_tts_end_time_keeps_the_microsecond_of_the_file(realworld, rig, tmp_path):  # noqa: F811
    _, session = _imported(rig, realworld / TTS, tmp_path / "s")
    spans = pl.read_parquet(session / "spans.parquet")
    assert spans["start_time"][0] == datetime.fromtimestamp(1762969107, UTC).replace(microsecond=395514)
    assert spans["end_time"][0] == datetime.fromtimestamp(1762969251, UTC).replace(microsecond=650303)
    assert _meta(session)["session_end"] == "2025-11-12T17:40:51.650303Z"


def test_an_rle_column_of_no_layout_is_named_and_the_labs_own_are_not(rig, tmp_path):  # noqa: F811
    source = tmp_path / "pc__rle.csv"
    source.write_text("timestamp,device,util_pct,tmep_c,disk_used_gb,cpu_core0_util_pct\n"
                      "2025-06-01T12:00:00Z,cpu,50,60,100,40\n")
    lines, _ = _imported(rig, source, tmp_path / "s")
    assert [line for line in lines if "ignored" in line] == ["  ignored 1 column rigscope does not read: tmep_c"]
