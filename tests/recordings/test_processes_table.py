"""processes.parquet: recorded on the slow tier with the samples' ts, kept by a crash, compacted by repair."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from collectors.process_rows import PROCESS_COLUMNS, empty_row
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessJournal, read_processes
from recordings.repair import repair_session
from rigscope.monitor import Monitor, MonitorConfig


def record_sim(directory: Path, seconds: float = 30.0, gpus: int = 2, **config: object) -> Path:
    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=gpus, hz=5.0, speed=None, duration_s=seconds,
                                    directory=str(directory), receive_events=False, **config))
    monitor.start()
    monitor.wait()
    monitor.stop()
    assert monitor.session is not None
    return monitor.session


def test_simulated_session_records_processes_every_interval(tmp_path: Path) -> None:
    session = record_sim(tmp_path, proc_interval_s=3.0)
    assert not (session / PROCESSES_DIR).exists()
    table = pl.read_parquet(session / PROCESSES_PARQUET)
    assert list(table.columns) == list(PROCESS_COLUMNS)
    samples = pl.read_parquet(session / "samples.parquet")
    ticks = table.get_column("ts").unique().sort()
    assert len(ticks) == 10  # 30 s of sample time, one tick every 3 s
    assert set(ticks.to_list()) <= set(samples.get_column("ts").to_list())  # stamped with the samples' ts
    assert table.get_column("simulated").all()
    per_tick = table.filter(pl.col("ts") == ticks[0])
    assert sorted(per_tick.get_column("gpu").to_list()) == [0, 0, 1, 1]  # two ranks, a notebook, a hidden pid
    hidden = per_tick.filter(~pl.col("visible"))
    assert hidden.height == 1 and hidden.item(0, "gpu_mem_bytes") == 512 << 20 and hidden.item(0, "user") is None


def row(ts: int, pid: int) -> dict:
    r = empty_row(ts, pid, "compute", 0)
    r.update(visible=True, user="alice", gpu_mem_bytes=1 << 30, sm_pct=50.0, command="python train.py")
    return r


def test_a_crash_keeps_the_flushed_rows_and_repair_compacts_them(tmp_path: Path) -> None:
    journal = ProcessJournal(tmp_path, segment_interval_s=4.0)
    for second in range(0, 10, 2):
        journal.append([row(second * 1_000_000, 100), row(second * 1_000_000, 200)])
    # no close: killed; the open journal's last line was being written
    open_part = sorted((tmp_path / PROCESSES_DIR).glob("*.journal"))[-1]
    with open(open_part, "a", encoding="utf-8") as handle:
        handle.write('{"ts": 9, "gpu"')
    assert sorted(p.suffix for p in (tmp_path / PROCESSES_DIR).iterdir()) == [".journal", ".parquet", ".parquet"]
    table = read_processes(tmp_path)
    assert table.height == 10 and table.get_column("pid").to_list()[:2] == [100, 200]
    (tmp_path / "meta.json").write_text('{"status": "recording", "columns": {"ts": "datetime", "elapsed_s": "f64"}}')
    repair_session(tmp_path)
    assert not (tmp_path / PROCESSES_DIR).exists()
    assert pl.read_parquet(tmp_path / PROCESSES_PARQUET).equals(table)
