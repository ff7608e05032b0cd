"""GPU identity in nvidia-smi logs: several GPUs that nothing tells apart are refused; bus ids are numbered
as nvidia-smi numbers them; name, bus id, memory and driver reach the session's device metadata."""

from __future__ import annotations

import json

import polars as pl

from recordings.importers import import_file
from tests.afterrun.conftest import one_clear_line

BUSES = ("00000000:81:00.0", "00000000:07:00.0", "00000000:41:00.0")  # in the order a script printed them


def test_several_gpus_without_a_key_are_refused_with_the_fix(tmp_path, rig):
    source = tmp_path / "a100s.csv"
    source.write_text("".join(f"2025/06/01 12:00:0{t}.000, NVIDIA A100-SXM4-40GB, {u} %, 40\n"
                              for t in range(3) for u in (10, 20, 30)))
    done = rig("import", str(source), "--fields", "timestamp,name,utilization.gpu [%],temperature.gpu",
               "--dir", str(tmp_path / "s"))
    assert one_clear_line(done) == (
        f"rigscope: error: {source}: several rows at one time and no column that tells the GPUs apart: add index "
        "(or pci.bus_id) to the --query-gpu fields, e.g. --query-gpu=timestamp,index,...")
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_bus_ids_are_numbered_in_bus_order_with_their_metadata(tmp_path):
    source = tmp_path / "bus.csv"
    rows = [f"2025/06/01 12:00:0{t}.000, {bus}, NVIDIA H100 {bus[9:11]}, 535.104.05, 81559 MiB, {n * 10 + t} %\n"
            for t in range(3) for n, bus in enumerate(BUSES)]
    source.write_text("timestamp, pci.bus_id, name, driver_version, memory.total [MiB], utilization.gpu [%]\n"
                      + "".join(rows))
    session, item = import_file(source, tmp_path / "s")
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples.height == 3
    # 07 < 41 < 81: gpu0 is bus 07 (printed second, utilization 10+t), gpu2 bus 81 (printed first, 0+t)
    assert samples["gpu0_util_pct"].to_list() == [10, 11, 12]
    assert samples["gpu1_util_pct"].to_list() == [20, 21, 22]
    assert samples["gpu2_util_pct"].to_list() == [0, 1, 2]
    gpus = json.loads((session / "meta.json").read_text())["gpus"]
    assert [g["pci_bus_id"] for g in gpus] == sorted(BUSES)
    assert gpus[0] == {"index": 0, "name": "NVIDIA H100 07", "pci_bus_id": "00000000:07:00.0",
                       "driver_version": "535.104.05", "memory_total_bytes": 81559 * 2**20}


def test_an_index_column_keeps_nvidia_smi_numbers_and_names_reach_the_metadata(realworld, tmp_path):
    session, _ = import_file(realworld / "akshayroyal__gpu_usage.csv", tmp_path / "s")
    (gpu,) = json.loads((session / "meta.json").read_text())["gpus"]
    assert gpu == {"index": 0, "name": "NVIDIA GeForce RTX 2070", "pci_bus_id": "00000000:01:00.0",
                   "memory_total_bytes": 8192 * 2**20}


def test_an_index_that_repeats_within_a_round_is_not_the_key(realworld, tmp_path):
    # A hand-made header names its GPU column `gpu`; its `index` column repeats within each time.
    session, _ = import_file(realworld / "gpu_glasses__nvidia_smi.csv", tmp_path / "s")
    samples = pl.read_parquet(session / "samples.parquet")
    assert [c for c in samples.columns if c.endswith("_temp_c") and c.startswith("gpu")] == [
        f"gpu{i}_temp_c" for i in range(8)]
    assert samples["gpu3_temp_c"][0] == 36 and samples["gpu7_power_w"][0] == 73.43
