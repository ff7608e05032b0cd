"""Tolerant reading with accounting: repeated headers and torn or unreadable rows are skipped and
counted (with the first line number) in the output and in meta; a file is refused only when no row reads."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recordings.errors import InputError
from recordings.importers import import_file, read_file
from tests.afterrun.conftest import samples_of

ROWS = 12


def _smi(n: int) -> str:
    return f"2025/06/01 12:00:{n:02d}.000, 0, {n + 10} %, {n + 40}\n"


def _rle(n: int) -> str:
    return f"2025-06-01T12:00:{n:02d}Z,gpu,{n + 10}.5,{n + 40}\n"


def _tts(n: int) -> str:
    return f"r{n},{1748779200 + n}.25,{n + 1}.5\n"


def _dmon(n: int) -> str:
    return f" 20250601   12:00:{n:02d}      0     {n + 70}     40   5\n"


LAYOUTS = {
    "nvidia-smi query": ("timestamp, index, utilization.gpu [%], temperature.gpu\n", _smi),
    "rle": ("timestamp,device,util_pct,temp_c\n", _rle),
    "tts": ("request_id,start_time,total_duration_s\n", _tts),
    "dmon": ("#Date       Time        gpu    pwr  gtemp  sm\n#YYYYMMDD   HH:MM:SS    Idx      W      C   %\n", _dmon),
}


def _count(item) -> int:
    return samples_of(item).height if item.has_samples else len(item.spans)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.sampled_from(sorted(LAYOUTS)), cut=st.integers(0, 10_000))
def test_any_cut_keeps_every_whole_row_before_it(tmp_path, layout, cut):
    header, row = LAYOUTS[layout]
    text = header + "".join(row(n) for n in range(ROWS))
    cut %= len(text) + 1
    source = tmp_path / f"cut-{layout}.csv"
    source.write_text(text[:cut])
    whole = max(text[:cut].count("\n") - header.count("\n"), 0)
    try:
        count = _count(read_file(source))
    except InputError:
        assert whole == 0
        return
    assert whole <= count <= whole + 1  # every whole row, and the torn one only if it still read


def test_a_header_before_every_row(realworld, tmp_path, rig):
    source = realworld / "akshayroyal__gpu_usage.csv"
    done = rig("import", str(source), "--dir", str(tmp_path / "s"))
    assert done.returncode == 0
    assert "  skipped 223 rows: a repeated header line (first at line 3)" in done.stdout.splitlines()
    (session,) = (tmp_path / "s").iterdir()
    meta = json.loads((session / "meta.json").read_text())
    assert meta["total_samples"] == 224
    assert meta["imported"]["skipped_rows"] == {"a repeated header line": {"rows": 223, "first_line": 3}}


def test_unreadable_rows_are_skipped_with_their_first_line(tmp_path):
    source = tmp_path / "gpu.csv"
    source.write_text("timestamp, index, utilization.gpu [%]\n"
                      "2025/06/01 12:00:00.000, 0, 5 %\n"
                      "garbage\n"
                      "2025/06/01 12:00:01.000, 0, lots\n"
                      "yesterday, 0, 5 %\n"
                      "2025/06/01 12:00:02.000, 0, 7 %\n"
                      "2025/06/01 12:00:03.000, 0, many\n")
    session, item = import_file(source, tmp_path / "s")
    assert item.count == 2
    assert item.skipped_rows == {"not 3 fields (a torn or foreign line)": {"rows": 1, "first_line": 3},
                                 "an unreadable time": {"rows": 1, "first_line": 5},
                                 "utilization.gpu not a number": {"rows": 2, "first_line": 4}}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_file_without_a_readable_row_is_refused(tmp_path, layout):
    header, _ = LAYOUTS[layout]
    source = tmp_path / "bad.csv"
    source.write_text(header + "nothing, at, all, here\n")
    with pytest.raises(InputError, match="no readable"):
        _count(read_file(source))


def test_a_repeated_lab_header_and_a_bad_number_are_skipped(tmp_path):
    header, row = LAYOUTS["rle"]
    source = tmp_path / "lab.csv"
    source.write_text(header + row(0) + header + row(1) + "2025-06-01T12:00:09Z,gpu,lots,40\n" + row(2))
    item = read_file(source)
    assert samples_of(item).height == 3
    assert item.skipped_rows == {"a repeated header line": {"rows": 1, "first_line": 3},
                                 "util_pct not a number": {"rows": 1, "first_line": 5}}


def test_a_time_before_the_row_above_it_is_skipped_and_counted(tmp_path):
    source = tmp_path / "back.csv"
    source.write_text("timestamp, utilization.gpu [%]\n2025/06/01 12:00:02.000, 5 %\n"
                      "2025/06/01 12:00:01.000, 6 %\n2025/06/01 12:00:03.000, 7 %\n")
    session, item = import_file(source, tmp_path / "s")
    assert item.count == 2 and item.skipped_rows == {"a time before the row above it": {"rows": 1, "first_line": 3}}
