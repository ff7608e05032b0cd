"""`rigscope export`: csv, parquet, JSON lines and the RLE lab's long CSV; the round trip through import."""

from __future__ import annotations

import json

import polars as pl
import pytest

from collectors.schema import raw_columns
from recordings.importers import import_file
from recordings.longcsv import LAB_COLUMNS
from tests.afterrun.conftest import LAB, snapshot


def test_parquet_to_long_csv_to_import_gives_the_same_raw_values(sim_session, tmp_path, rig):
    before = snapshot(sim_session)
    for kind, name in (("parquet", "s.parquet"), ("long-csv", "s.long.csv")):
        done = rig("export", str(sim_session), "--to", kind, "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    assert snapshot(sim_session) == before
    exported = pl.read_parquet(tmp_path / "s.parquet")
    session, item = import_file(tmp_path / "s.long.csv", tmp_path / "sessions")
    assert item.layout == "rigscope long-csv" and not item.dropped  # rigscope's values are not the lab's
    back = pl.read_parquet(session / "samples.parquet")
    assert back.height == exported.height == 240
    for name in raw_columns([0, 1]):
        assert back[name].equals(exported[name].cast(back[name].dtype)), name
    assert exported["cpu_power_w"].null_count() < exported.height  # values that could be lost were there
    for name in ("gpu0_rle_smoothed", "gpu1_collapse", "workload_state"):  # recomputed alike
        assert back[name].equals(exported[name]), name


def test_long_csv_is_the_lab_layout_one_row_per_device_per_tick(sim_session, tmp_path, rig):
    target = tmp_path / "long.csv"
    assert rig("export", str(sim_session), "--to", "long-csv", "--out", str(target)).returncode == 0
    table = pl.read_csv(target, infer_schema_length=0)
    assert tuple(table.columns[:len(LAB_COLUMNS)]) == LAB_COLUMNS
    assert table.height == 240 * 3 and table["device"][:3].to_list() == ["cpu", "gpu0", "gpu1"]
    samples = pl.read_parquet(sim_session / "samples.parquet")
    gpu1 = table.filter(pl.col("device") == "gpu1")
    assert gpu1["util_pct"].cast(pl.Float64).to_list() == samples["gpu1_util_pct"].to_list()
    assert gpu1["gpu_memory_used_gb"].cast(pl.Float64)[5] == samples["gpu1_mem_used_bytes"][5] / 2**30
    assert gpu1["rle_smoothed"].cast(pl.Float64).to_list() == samples["gpu1_rle_smoothed"].to_list()
    assert table["timestamp"][0].endswith("Z")


def test_a_one_gpu_session_says_gpu_as_the_lab_did(lab, tmp_path, rig):
    session, _ = import_file(lab / LAB[0], tmp_path / "sessions")
    target = tmp_path / "pc.csv"
    assert rig("export", str(session), "--to", "long-csv", "--out", str(target)).returncode == 0
    import pandas as pd  # the lab's scripts read it with pandas

    frame = pd.read_csv(target)
    gpu = frame[frame["device"] == "gpu"]
    assert len(gpu) == 50 and gpu["temp_c"].max() == 64.0 and "fan_pct" not in frame.columns
    assert gpu["gpu_fan_pct"].max() == 88 and frame["cpu_temp_max"].isna().all()  # the v1 fan_pct, renamed
    assert gpu["collapse"].isin([0, 1]).all() and set(frame["device"]) == {"gpu"}  # the file held no CPU


@pytest.mark.parametrize("kind", ["csv", "json", "parquet"])
def test_other_formats_and_the_default_name(sim_session, tmp_path, rig, kind):
    done = rig("export", str(sim_session), "--to", kind, cwd=tmp_path)
    assert done.returncode == 0 and "240 rows" in done.stdout
    target = tmp_path / f"{sim_session.name}{ {'csv': '.csv', 'json': '.jsonl', 'parquet': '.parquet'}[kind]}"
    samples = pl.read_parquet(sim_session / "samples.parquet")
    if kind == "csv":
        table = pl.read_csv(target)
        assert "cpu_core0_util_pct" in table.columns and table["ts"][0].endswith("Z")
    elif kind == "json":
        lines = target.read_text().splitlines()
        assert len(lines) == 240 and json.loads(lines[0])["gpu0_util_pct"] == samples["gpu0_util_pct"][0]
    else:
        assert pl.read_parquet(target).equals(samples)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_long_csv_round_trip_keeps_the_metadata_and_no_legacy_flags(sim_session, tmp_path, rig):
    target = tmp_path / "run.long.csv"
    assert rig("export", str(sim_session), "--to", "long-csv", "--out", str(target)).returncode == 0
    original = json.loads((sim_session / "meta.json").read_text())
    assert json.loads((tmp_path / "run.meta.json").read_text()) == original  # the sidecar
    session, item = import_file(target, tmp_path / "sessions")
    meta = json.loads((session / "meta.json").read_text())
    assert meta["host"] == original["host"] and meta["gpus"] == original["gpus"]
    assert meta["host"]["hardware_tier"] != "unknown" and meta["host"]["cpu_model"]
    assert meta["monitoring"]["sample_hz"] == original["monitoring"]["sample_hz"]
    assert "legacy_summary" not in meta and meta["summary"]["samples"] == 240
    back = pl.read_parquet(session / "samples.parquet")
    assert not [c for c in back.columns if c.startswith("legacy_")]
    import pandas as pd  # the lab's scripts still read the CSV itself

    assert len(pd.read_csv(target)) == 240 * 3


def test_export_onto_a_pipe_writes_into_it_and_leaves_it_a_pipe(sim_session, tmp_path):
    """`--out /dev/stdout`, `/dev/null` or a FIFO: written into, never a file renamed over it (as root a renamed
    /dev/null is the whole machine's)."""
    import os
    import stat
    import threading

    from recordings.export import export_session

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    _, rows = export_session(sim_session, "csv", fifo)
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and got[0].count(b"\n") == rows + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temp file beside it


def test_two_writers_of_one_report_each_write_a_whole_file(tmp_path, monkeypatch):
    """Two `report --out x.md` at once: each has a temp file of its own (a shared temp name was truncated by the
    second writer and then renamed away, or removed, under the first)."""
    import os

    from recordings import out_paths

    target = tmp_path / "x.md"
    real_replace = os.replace
    inner: list[str] = []

    def replace_after_the_other(src, dst):
        if not inner:  # the first writer, before its rename: the second writes all of its file
            inner.append("second")
            out_paths.write_output(target, "second\n")
        real_replace(src, dst)

    monkeypatch.setattr(out_paths.os, "replace", replace_after_the_other)
    out_paths.write_output(target, "first\n")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.md"]
