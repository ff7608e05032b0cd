"""nvidia-smi logs that were restarted, appended to or written across a clock change: a header with other
fields part way reads the rows below it by its own columns, a one-GPU log with a repeated time is still one
GPU, naive times across the autumn clock change keep their order, and a GPU first logged late gets the
same derived values whatever the pieces the log is read in."""

from __future__ import annotations

import json

import polars as pl

from recordings.importers import import_file
from recordings.importers.times import TimeOptions

FIRST = "timestamp, index, utilization.gpu [%], temperature.gpu\n"


def _import(tmp_path, text: str, name: str = "gpu.csv", tz: str = "UTC") -> tuple[pl.DataFrame, dict]:
    source = tmp_path / name
    source.write_text(text)
    session, _ = import_file(source, tmp_path / f"s-{name}", times=TimeOptions(tz=tz))
    return pl.read_parquet(session / "samples.parquet"), json.loads((session / "meta.json").read_text())


def test_a_header_with_its_fields_in_another_order_reads_the_rows_below_it_by_its_columns(tmp_path):
    """nvidia-smi run again with the same fields in another order appends its own header: its rows are
    read by it, never by the first header (which swapped utilization and temperature: a 99 °C GPU)."""
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n2024/01/02 03:04:06.000, 0, 20 %, 51\n"
            "timestamp, index, temperature.gpu, utilization.gpu [%]\n"
            "2024/01/02 03:05:00.000, 0, 70, 99 %\n2024/01/02 03:05:01.000, 0, 71, 98 %\n")
    samples, meta = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [10.0, 20.0, 99.0, 98.0]
    assert samples["gpu0_temp_c"].to_list() == [50.0, 51.0, 70.0, 71.0]
    assert meta["imported"]["skipped_rows"] == {}


def test_a_header_with_other_fields_leaves_the_missing_ones_null_and_names_the_new_ones(tmp_path):
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n"
            "timestamp, index, power.draw [W], utilization.gpu [%]\n"
            "2024/01/02 03:05:00.000, 0, 250.00 W, 99 %\n")
    samples, meta = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [10.0, 99.0]
    assert samples["gpu0_temp_c"].to_list() == [50.0, None]  # not measured under the second header
    assert samples["gpu0_power_w"].to_list() == [None, None]  # not a column of the session's first header
    assert any("power.draw" in warning and "line 3" in warning for warning in meta["warnings"])


def test_rows_under_a_header_without_the_gpu_key_are_skipped_and_counted(tmp_path):
    two = "".join(f"2024/01/02 03:04:0{t}.000, {g}, {g + t} %, 50\n" for t in range(2) for g in range(2))
    text = (FIRST + two + "timestamp, utilization.gpu [%], temperature.gpu\n"
            "2024/01/02 03:05:00.000, 99 %, 70\n2024/01/02 03:05:00.000, 98 %, 71\n")
    samples, meta = _import(tmp_path, text)
    assert samples.height == 2 and samples["gpu1_util_pct"].to_list() == [1.0, 2.0]
    assert meta["imported"]["skipped_rows"] == {
        "no index to tell its GPU (under a header without it)": {"rows": 2, "first_line": 7}}


def test_one_gpu_logged_twice_in_one_second_is_one_gpu(tmp_path):
    """A log of one GPU (its index always 3) with a repeated time (a loop faster than its whole-second
    stamps, or a restart in the same second) is that GPU's, not several GPUs that cannot be told apart."""
    text = FIRST + "".join(f"2024/01/02 03:04:0{t // 2}, 3, {t} %, {50 + t}\n" for t in range(6))
    samples, meta = _import(tmp_path, text)
    assert samples["gpu3_util_pct"].to_list() == [float(t) for t in range(6)]
    assert samples["elapsed_s"].to_list() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    assert [gpu["index"] for gpu in meta["gpus"]] == [3]
