"""Encodings (UTF-8 with or without BOM, UTF-16 with BOM as PowerShell writes, CRLF), bracketed placeholders
counted per column, `--fields` with units, and line numbers that are the file's own."""

from __future__ import annotations

import pytest

from recordings.importers import read_file
from tests.afterrun.conftest import samples_of
from tests.afterrun.test_import_tolerant import LAYOUTS

ENCODINGS = {"utf-8": ("utf-8", "\n"), "utf-8 BOM": ("utf-8-sig", "\n"), "utf-16 BOM": ("utf-16", "\r\n"),
             "utf-16-be BOM": ("utf-16", "\n"), "crlf": ("utf-8", "\r\n")}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_layout_reads_in_every_encoding(tmp_path, layout, encoding):
    header, row = LAYOUTS[layout]
    text = header + "".join(row(n) for n in range(5))
    codec, newline = ENCODINGS[encoding]
    source = tmp_path / "log.csv"
    data = text.replace("\n", newline).encode(codec)
    if encoding == "utf-16-be BOM":
        data = b"\xfe\xff" + text.replace("\n", newline).encode("utf-16-be")
    source.write_bytes(data)
    item = read_file(source)
    count = samples_of(item).height if item.has_samples else len(item.spans)
    assert count == 5 and not item.skipped_rows


def test_bracketed_placeholders_are_null_and_counted_per_column(tmp_path, rig):
    source = tmp_path / "gpu.csv"
    source.write_text("timestamp, index, utilization.gpu [%], power.draw [W], temperature.gpu\n"
                      "2025/06/01 12:00:00.000, 0, 5 %, [Insufficient Permissions], 40\n"
                      "2025/06/01 12:00:01.000, 0, [GPU is lost], [Insufficient Permissions], [GPU is lost]\n"
                      "2025/06/01 12:00:02.000, 0, [Unknown Error], 70.5 W, [N/A]\n")
    item = read_file(source)
    samples = samples_of(item)
    assert samples["gpu0_power_w"].to_list() == [None, None, 70.5]
    assert samples["gpu0_util_pct"].to_list() == [5, None, None]
    assert item.placeholders == {"power.draw": 2, "utilization.gpu": 2, "temperature.gpu": 2}
    done = rig("import", str(source), "--dir", str(tmp_path / "s"))
    assert "  power.draw: 2 placeholder cells ([N/A], [GPU is lost], ...) read as null" in done.stdout.splitlines()


def test_fields_with_units_and_line_numbers_of_the_file(tmp_path):
    source = tmp_path / "noheader.csv"
    source.write_text("2025/06/01 12:00:00.000, 0, 5 %, 40\n"
                      "2025/06/01 12:00:01.000, 0, 6 %\n"
                      "2025/06/01 12:00:02.000, 0, 7 %, 42\n")
    item = read_file(source, ["timestamp", "index", "utilization.gpu [%]", "temperature.gpu"])
    assert samples_of(item)["gpu0_util_pct"].to_list() == [5, 7]
    assert item.skipped_rows == {"not 4 fields (a torn or foreign line)": {"rows": 1, "first_line": 2}}
    headed = tmp_path / "headed.csv"  # with a header, the same row is line 3
    headed.write_text("timestamp, index, utilization.gpu [%], temperature.gpu\n" + source.read_text())
    item = read_file(headed)
    samples_of(item)
    assert item.skipped_rows == {"not 4 fields (a torn or foreign line)": {"rows": 1, "first_line": 3}}
