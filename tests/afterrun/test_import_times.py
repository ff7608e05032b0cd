"""Times in imported files: epoch, zoned, day-first or month-first dates decided from the file, naive
times in the writer's zone; every one stored as the same UTC instant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.errors import InputError
from recordings.importers import import_file
from recordings.importers.times import TimeOptions, parse_times
from tests.afterrun.conftest import one_clear_line

ZONE = "Asia/Kolkata"  # +05:30 all year: every local time exists once


def _render(moment: datetime, style: str, offset_minutes: int) -> tuple[str, TimeOptions]:
    local = moment.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
    options = TimeOptions(tz=ZONE)
    if style == "epoch_s":
        whole = int(moment.timestamp())
        return f"{whole}.{moment.microsecond:06d}", options
    if style == "epoch_ms":
        return str(int(moment.timestamp()) * 1000 + moment.microsecond // 1000), options
    if style == "offset":
        shifted = moment + timedelta(minutes=offset_minutes)
        sign = "-" if offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(offset_minutes), 60)
        return f"{shifted:%Y-%m-%dT%H:%M:%S.%f}{sign}{hours:02d}:{minutes:02d}", options
    if style == "zulu":
        return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z", options
    if style == "smi":
        return f"{local:%Y/%m/%d %H:%M:%S.%f}", options
    if style == "iso_naive":
        return f"{local:%Y-%m-%d %H:%M:%S.%f}", options
    if style == "dmon":
        return f"{local:%Y%m%d %H:%M:%S}", options
    if style == "dotted":
        return f"{local:%d.%m.%Y %H:%M:%S.%f}", TimeOptions(tz=ZONE, date_order="dmy")
    if style == "dmy":
        return f"{local:%d-%m-%Y %H:%M:%S.%f}", TimeOptions(tz=ZONE, date_order="dmy")
    return f"{local:%m/%d/%Y %H:%M:%S.%f}", TimeOptions(tz=ZONE, date_order="mdy")


@settings(max_examples=150, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2002, 1, 1), max_value=datetime(2090, 1, 1)),
       style=st.sampled_from(["epoch_s", "epoch_ms", "offset", "zulu", "smi", "iso_naive", "dmon", "dotted", "dmy",
                              "mdy"]),
       offset_minutes=st.integers(-12 * 60, 14 * 60))
def test_every_accepted_format_reads_back_to_the_same_utc_instant(moment, style, offset_minutes):
    moment = moment.replace(tzinfo=UTC)
    if style == "epoch_ms":
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if style == "dmon":
        moment = moment.replace(microsecond=0)
    text, options = _render(moment, style, offset_minutes)
    (read,) = parse_times(pl.Series("t", [text]), Path("x.csv"), options).to_list()
    assert read == moment, text


def test_the_tts_log_with_epoch_times_imports(realworld, tmp_path):
    source = realworld / "synthesis_m1_air_20251113_013730.csv"
    session, item = import_file(source, tmp_path / "s")
    spans = pl.read_parquet(session / "spans.parquet")
    assert spans["request_id"].to_list() == ["ed744d7d"]
    start = float(pl.read_csv(source)["start_time"][0])  # epoch seconds in the file
    assert abs(spans["start_time"][0].timestamp() - start) < 1e-6


def test_offsets_are_applied(realworld, tmp_path):
    session, item = import_file(realworld / "gpu_glasses__nvidia_smi.csv", tmp_path / "s")
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["ts"][0] == datetime(2025, 9, 8, 9, 26, 50, tzinfo=UTC)  # 17:26:50+08:00
    assert "naive_times_zone" not in json.loads((session / "meta.json").read_text())["imported"]


def test_the_day_order_is_decided_from_the_file(realworld, tmp_path, rig):
    source = realworld / "zetascope__gpu_stats.csv"
    done = rig("import", str(source), "--dir", str(tmp_path / "s"), "--tz", "UTC")
    assert done.returncode == 0, done.stderr
    assert "  dates read month first (mdy; --date-order to change)" in done.stdout.splitlines()
    (session,) = (tmp_path / "s").iterdir()
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["ts"][0] == datetime(2026, 3, 11, 15, 13, 16, tzinfo=UTC)
    assert samples["ts"].diff().max() < timedelta(minutes=2)  # across midnight into the 12th of March
    assert json.loads((session / "meta.json").read_text())["imported"]["date_order"] == "mdy"
    forced = rig("import", str(source), "--dir", str(tmp_path / "d"), "--tz", "UTC", "--date-order", "dmy")
    assert forced.returncode == 0
    (session,) = (tmp_path / "d").iterdir()
    assert pl.read_parquet(session / "samples.parquet")["ts"][0] == datetime(2026, 11, 3, 15, 13, 16, tzinfo=UTC)


def test_a_file_that_cannot_tell_the_day_order_is_refused(tmp_path, rig):
    source = tmp_path / "one_day.csv"
    source.write_text("timestamp, utilization.gpu [%]\n03-11-2026 10:00:00, 5 %\n03-11-2026 10:00:01, 6 %\n")
    line = one_clear_line(rig("import", str(source), "--dir", str(tmp_path / "s")))
    assert line == (f"rigscope: error: {source}: dates like '03-11-2026 10:00:00' can be day-first or month-first "
                    "and the file does not tell which: give --date-order dmy or --date-order mdy")
    assert rig("import", str(source), "--dir", str(tmp_path / "s"), "--date-order", "dmy").returncode == 0
    # A day above 12 tells by itself.
    told = tmp_path / "told.csv"
    told.write_text("timestamp, utilization.gpu [%]\n13-11-2026 10:00:00, 5 %\n")
    session, item = import_file(told, tmp_path / "t")
    assert pl.read_parquet(session / "samples.parquet")["ts"][0].month == 11


def test_naive_times_are_local_time_of_the_zone_said_once(tmp_path, rig, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    files = []
    for n in range(2):
        files.append(tmp_path / f"gpu{n}.csv")
        files[-1].write_text(f"timestamp, utilization.gpu [%]\n2025/06/0{n + 1} 12:00:00.000, 5 %\n")
    done = rig("import", *map(str, files), "--dir", str(tmp_path / "s"))
    assert done.returncode == 0
    said = [line for line in done.stdout.splitlines() if "read as local time of" in line]
    assert said == ["  times without a zone read as local time of America/New_York (this machine's; --tz ZONE to change)"]
    sessions = sorted((tmp_path / "s").iterdir())
    assert pl.read_parquet(sessions[0] / "samples.parquet")["ts"][0] == datetime(2025, 6, 1, 16, tzinfo=UTC)  # EDT
    assert json.loads((sessions[0] / "meta.json").read_text())["imported"]["naive_times_zone"] == "America/New_York"
    berlin = rig("import", str(files[0]), "--dir", str(tmp_path / "b"), "--tz", "Europe/Berlin")
    assert "local time of" not in berlin.stdout
    (session,) = (tmp_path / "b").iterdir()
    assert pl.read_parquet(session / "samples.parquet")["ts"][0] == datetime(2025, 6, 1, 10, tzinfo=UTC)


def test_a_bad_zone_is_one_line(tmp_path, rig):
    source = tmp_path / "gpu.csv"
    source.write_text("timestamp, utilization.gpu [%]\n2025/06/01 12:00:00.000, 5 %\n")
    assert one_clear_line(rig("import", str(source), "--tz", "Mars/Olympus")) == (
        "rigscope: error: --tz 'Mars/Olympus' is not a time zone (e.g. UTC, Europe/Berlin, Asia/Shanghai)")


def test_dmon_times_are_read_by_the_same_parser(tmp_path):
    source = tmp_path / "dmon.log"
    source.write_text("#Date       Time        gpu    pwr  gtemp  sm\n#YYYYMMDD   HH:MM:SS    Idx      W      C   %\n"
                      " 20250601   12:00:00      0     70     40   5\n")
    session, _ = import_file(source, tmp_path / "s", times=TimeOptions(tz="Europe/Berlin"))
    assert pl.read_parquet(session / "samples.parquet")["ts"][0] == datetime(2025, 6, 1, 10, tzinfo=UTC)


def test_unknown_time_words_are_not_guessed():
    with pytest.raises(InputError):
        parse_times(pl.Series(["03-11-2026 10:00:00", "03-11-2026 10:00:05"]), Path("x"), TimeOptions(tz="UTC"))


@settings(max_examples=100, deadline=None)
@given(start=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
       step_min=st.integers(1, 360), order=st.sampled_from(["dmy", "mdy"]))
def test_the_day_order_of_a_steady_log_over_days_is_found(start, step_min, order):
    start = start.replace(microsecond=0)
    moments = [start + timedelta(minutes=step_min * n) for n in range(3 * 24 * 60 // step_min + 2)]  # 3 days
    shape = "%d-%m-%Y %H:%M:%S" if order == "dmy" else "%m-%d-%Y %H:%M:%S"
    options = TimeOptions(tz="UTC")
    read = parse_times(pl.Series("t", [m.strftime(shape) for m in moments]), Path("x.csv"), options).to_list()
    assert read == [m.replace(tzinfo=UTC) for m in moments]
    assert options.decided_order in (order, None)  # None: every date reads the same both ways
