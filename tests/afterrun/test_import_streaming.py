"""A long nvidia-smi log is read a piece at a time: the pieces give the same session as one read, with
ticks across the pieces' edges whole, rows counted once, and the day order decided by the whole file."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from recordings.importers import import_file, nvidia_smi
from recordings.importers.times import TimeOptions
from tests.afterrun.import_pieces import whole_and_pieces

HEADER = "timestamp, index, utilization.gpu [%], temperature.gpu, power.draw [W], power.limit [W]\n"


def _log(minutes: int) -> str:
    rows = []
    for m in range(minutes):
        hour, minute = divmod(23 * 60 + 40 + m, 60)  # 23:40 on the 11th of March, on past midnight
        day = 11 + hour // 24
        stamp = f"03-{day:02d}-2026 {hour % 24:02d}:{minute:02d}:00"
        rows += [f"{stamp}, {gpu}, {(m * 7 + gpu) % 100} %, {50 + gpu}, {100 + m} W, 300 W\n" for gpu in range(3)]
        if m == 17:
            rows.append(HEADER)
            rows.append(f"{stamp}, 0, torn\n")
    return HEADER + "".join(rows)


@pytest.mark.parametrize("lines", [7, 100_000])
def test_pieces_give_the_same_session_as_one_read(tmp_path, monkeypatch, lines):
    source = tmp_path / "gpus.csv"
    source.write_text(_log(40))
    monkeypatch.setattr(nvidia_smi, "CHUNK_LINES", lines)  # 7 rows: a tick of 3 GPUs is cut at most edges
    session, item = import_file(source, tmp_path / "s", times=TimeOptions(tz="UTC"))
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples.height == 40 and item.count == 40
    assert samples["gpu2_util_pct"].to_list() == [float((m * 7 + 2) % 100) for m in range(40)]
    assert samples["elapsed_s"].to_list() == [60.0 * m for m in range(40)]
    assert samples["ts"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=1)]
    meta = json.loads((session / "meta.json").read_text())
    assert meta["imported"]["date_order"] == "mdy"  # only the rows after midnight tell
    assert meta["imported"]["skipped_rows"] == {"a repeated header line": {"rows": 1, "first_line": 56},
                                                "not 6 fields (a torn or foreign line)": {"rows": 1, "first_line": 57}}
    assert meta["summary"]["samples"] == 40 and set(meta["summary"]["devices"]) == {"gpu0", "gpu1", "gpu2"}
    assert not (session / "samples").exists()  # the pieces were compacted into samples.parquet


def test_dmon_output_is_read_in_pieces_too(tmp_path, monkeypatch):
    source = tmp_path / "dmon.log"
    header = "#Date       Time        gpu    pwr  gtemp  sm\n#YYYYMMDD   HH:MM:SS    Idx      W      C   %\n"
    source.write_text(header + "".join(f" 20250601   12:00:{s:02d}      {g}     {70 + s}     40   {g * 10 + s}\n"
                                       for s in range(20) for g in range(3)))
    monkeypatch.setattr(nvidia_smi, "CHUNK_LINES", 7)
    session, item = import_file(source, tmp_path / "s", times=TimeOptions(tz="UTC"))
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples.height == 20 and samples["gpu2_util_pct"].to_list() == [float(20 + s) for s in range(20)]
    assert samples["gpu0_power_w"].to_list() == [float(70 + s) for s in range(20)]


def test_a_gpu_lost_part_way_keeps_its_derived_values_whatever_the_pieces(tmp_path, monkeypatch):
    """gpu1 stops being logged at minute 20 (lost): its derived values (t_sustain_s is 600 s without a temperature,
    SIGNALS.md §2.5) are those of one read in every piece; a piece holding no gpu1 row nulled them for that piece."""
    lines = []
    for m in range(40):
        stamp = f"2026-03-11 10:{m:02d}:00"
        gpus = (0, 1) if m < 20 else (0,)
        lines += [f"{stamp}, {gpu}, {(m * 7 + gpu) % 100} %, {50 + gpu}, {100 + m} W, 300 W\n" for gpu in gpus]
    source = tmp_path / "lost.csv"
    source.write_text(HEADER + "".join(lines))
    derived = ["gpu1_t_sustain_s", "gpu1_a_load", "gpu1_rle_raw"]
    whole, pieces = whole_and_pieces(source, tmp_path, derived, monkeypatch)
    assert whole["gpu1_t_sustain_s"].null_count() < 20  # derived after the loss too, as live
    assert pieces.equals(whole)
