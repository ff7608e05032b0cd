"""End to end: `rigscope record` on a box of mocked H100s (LD_LIBRARY_PATH=<mock> rigscope record).

The mock's GPUs count their sampling rounds (one utilization call a round), so each recorded row
of a GPU must be the scenario at some round, rounds never going back, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from collectors.nvml import FIELDS
from tests.conftest import run_cli
from tests.folded import gpus_named
from tests.nvml_mock.build import build
from tests.nvml_mock.fixtures import nvml_mock_library  # noqa: F401  (fixture)
from tests.nvml_mock.scenario import GPU_IS_LOST, Scenario, h100

pytestmark = pytest.mark.nvml_abi
ROUNDS = "nvmlDeviceGetUtilizationRates"


def record(tmp_path: Path, scenario: Scenario, library: Path, *args: str) -> tuple[Path, dict]:
    sessions = tmp_path / "sessions"
    result = run_cli("record", "--hz", "10", "--dir", str(sessions), "--proc-interval", "0.2", *args,
                     env=scenario.env(library))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (session,) = sessions.iterdir()
    return session, json.loads((session / "meta.json").read_text())


def rounds_of(scenario: Scenario, index: int, table: pl.DataFrame) -> list[int | None]:
    """For each row, the round of the scenario GPU `index`'s columns (None: every column null)."""
    found: list[int | None] = []
    for row in table.select([f"gpu{index}_{f}" for f in FIELDS]).iter_rows(named=True):
        values = {name.removeprefix(f"gpu{index}_"): value for name, value in row.items()}
        if all(v is None for v in values.values()):
            found.append(None)
            continue
        matches = [t for t in range(64) if {**dict.fromkeys(FIELDS), **scenario.expected(index, t)} == values]
        assert matches, f"gpu{index} row {values} is no round of the scenario"
        found.append(matches[0])
    return found


def test_record_eight_mocked_h100s_gives_the_scenarios_columns_values_and_signals(tmp_path, nvml_mock_library):
    gpus = [h100(i) for i in range(8)]
    gpus[0]["processes"] = [{"kind": "compute", "pid": os.getpid(), "mem": 3 * 1024**3}]
    gpus[0]["samples"] = [{"pid": os.getpid(), "ts": 10, "sm": 77, "mem": 12}]
    scenario = Scenario(tmp_path, gpus, rounds_of=ROUNDS)
    session, meta = record(tmp_path, scenario, nvml_mock_library, "--duration", "1s", "--gpm-interval", "0.2")
    assert meta["monitoring"]["gpm_interval_s"] == 0.2
    assert [(g["index"], g["name"], g["uuid"], g["memory_total_bytes"], g["power_limit_w"], g["temp_limit_c"],
             g["driver_version"]) for g in meta["gpus"]] == [
        (i, g["name"], g["uuid"], 80 * 1024**3, 700.0, 87.0, "550.54.15") for i, g in enumerate(gpus)]
    assert meta["host"]["hardware_tier"] == "nvidia_h100"
    assert not [w for w in meta["warnings"] if w.startswith(("nvml", "processes"))]
    table = pl.read_parquet(session / "samples.parquet")
    assert 8 <= table.height <= 10
    assert {f"gpu{i}_{f}" for i in range(8) for f in FIELDS} <= set(table.columns)
    for index in range(8):
        rounds = rounds_of(scenario, index, table)
        # the GPUs' reader starts with the monitor, the samples with the session: a loaded machine may sample the
        # GPUs' second or third round first
        assert rounds[0] <= 3 and None not in rounds and rounds == sorted(rounds), (index, rounds)
        # a derived signal: the power-cap bit (0x4) is set from round 1 on, and so is the alert
        alerts = table[f"gpu{index}_alerts"].to_list()
        assert [("THROTTLE_POWER" in (a or "")) for a in alerts] == [r >= 1 for r in rounds], (index, alerts)
        # GPM: null until its second sample, then the mean of the scripted activity between two of its samples
        sm = table[f"gpu{index}_sm_active_pct"].to_list()
        assert (sm[0] is None or rounds[0] > 0) and sm[-1] is not None, (index, sm)
        for value, r in zip(sm, rounds):
            assert value is None or any(value == scenario.expected_gpm(index, a, b)["sm_active_pct"]
                                        for b in range(1, r + 1) for a in range(b)), (index, value, r)
    processes = pl.read_parquet(session / "processes.parquet").filter(pl.col("pid") == os.getpid())
    assert processes.height >= 1 and set(processes["gpu"]) == {0} and set(processes["kind"]) == {"compute"}
    assert set(processes["gpu_mem_bytes"]) == {3 * 1024**3} and processes["visible"].all()
    assert processes["sm_pct"][0] == 77.0  # later listings: no newer sample, so null


def test_record_a_gpu_lost_mid_run_an_unsupported_fan_and_no_per_process_utilization(tmp_path, nvml_mock_library):
    """The README's promises: a lost GPU is null from then on and said once, the others go on; a reading
    the driver lacks is null for the session; a driver without per-process utilization leaves SM % null."""
    gpus = [h100(i) for i in range(4)]
    for gpu in gpus:
        del gpu["series"]["fan"]  # the mock answers NOT_SUPPORTED for a series it lacks
        gpu["processes"] = [{"kind": "compute", "pid": os.getpid(), "mem": 1024**3}]
        gpu["samples"] = [{"pid": os.getpid(), "ts": 10, "sm": 77, "mem": 12}]
    gpus[3]["faults"] = [{"function": "*", "code": GPU_IS_LOST, "from": 4}]
    scenario = Scenario(tmp_path, gpus, rounds_of=ROUNDS)
    library = build(omit=("nvmlDeviceGetProcessUtilization",))
    session, meta = record(tmp_path, scenario, library, "--duration", "2s")
    table = pl.read_parquet(session / "samples.parquet")
    for index in range(3):
        rounds = rounds_of(scenario, index, table)
        assert None not in rounds and rounds == sorted(rounds)
        assert table[f"gpu{index}_fan_pct"].null_count() == table.height
    lost = rounds_of(scenario, 3, table)
    first_null = lost.index(None)
    before = lost[:first_null]  # its rounds in order until it was lost (see above for the first), then null
    assert before and before[0] <= 3 and before == sorted(before) and set(lost[first_null:]) == {None}
    warnings = meta["warnings"]
    assert [w for w in warnings if "lost" in w] == [
        "nvml: gpu3 lost: GPU is lost", "processes: gpu3 lost (GPU is lost): its processes are no longer listed"]
    lines, named = gpus_named(warnings, " fan_pct not supported (Not Supported): null for this session")
    assert lines <= 2 and named == {0, 1, 2, 3}  # said for the GPUs together
    lines, named = gpus_named(warnings, " per-process utilization not supported (Function Not Found): SM % is null")
    assert lines <= 2 and named == {0, 1, 2, 3}
    processes = pl.read_parquet(session / "processes.parquet").filter(pl.col("pid") == os.getpid())
    assert processes.height >= 3 and processes["sm_pct"].null_count() == processes.height
