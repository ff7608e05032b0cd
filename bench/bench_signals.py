"""Benchmark of the derived signals: live cost per device per tick, and offline analyze throughput.

Run: python bench/bench_signals.py [--rows N]
Prints a table and writes bench/results/signals.json.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
from common import write_result  # noqa: E402  (bench/ is on sys.path when run as a script)

from collectors.signals import DeviceSignals, SignalPipeline  # noqa: E402
from recordings.analyze import analyze, analyze_frame, read_samples_file  # noqa: E402

T0_US = 1_773_480_413_000_000
HZ = 10


def noise(k: pl.Expr, seed: int) -> pl.Expr:
    """Deterministic pseudo-random values in [0, 1) from the row number (no numpy)."""
    return ((k * 2_654_435_761 + seed * 40_503) % 1_000_003).cast(pl.Float64) / 1_000_003


def synthetic_trace(rows: int, gpus: int = 1) -> pl.DataFrame:
    """A 10 Hz session: training phases with data loading, eval and I/O pauses, heat-soak and throttling."""
    k = pl.int_range(0, rows, dtype=pl.Int64)
    t = k.cast(pl.Float64) / HZ
    phase = (t / 600.0).floor().cast(pl.Int64) % 6  # 10-minute phases
    cycle = (t % 90.0) / 90.0  # heat-soak cycles within a phase
    columns: list[pl.Expr] = [
        (pl.lit(T0_US) + k * (1_000_000 // HZ)).cast(pl.Datetime("us", "UTC")).alias("ts"),
        t.alias("elapsed_s"),
        (pl.lit(0.2) + noise(k, 1) * 3).cast(pl.Float32).alias("sample_lag_ms"),
        pl.when(phase == 0).then(15.0).otherwise(55.0).add(noise(k, 2) * 30).alias("cpu_util_pct"),
        (55.0 + cycle * 15 + noise(k, 3)).alias("cpu_temp_c"),
        (20.0 + noise(k, 4) * 40).alias("cpu_power_w"),
        pl.lit(65.0).alias("cpu_power_limit_w"),
        pl.lit(None, pl.Float64).alias("cpu_temp_limit_c"),
        (40.0 + noise(k, 5) * 10).alias("mem_util_pct"),
        pl.when(phase == 5).then(8e7).otherwise(1e6).mul(noise(k, 6)).alias("disk_write_bps"),
    ]
    for i in range(gpus):
        p = f"gpu{i}"
        loaded = phase.is_in([1, 2, 3, 4])
        util = pl.when(loaded).then(85.0 + noise(k, 10 + i) * 15).otherwise(noise(k, 20 + i) * 5)
        hot = loaded & (cycle > 0.6)
        columns += [
            util.alias(f"{p}_util_pct"),
            (45.0 + pl.when(loaded).then(cycle * 42).otherwise(0.0) + noise(k, 30 + i)).alias(f"{p}_temp_c"),
            pl.when(hot).then(240.0).when(loaded).then(150.0).otherwise(30.0).add(noise(k, 40 + i) * 20)
            .alias(f"{p}_power_w"),
            pl.lit(250.0).alias(f"{p}_power_limit_w"),
            pl.lit(83.0).alias(f"{p}_temp_limit_c"),
            pl.when(hot & (cycle > 0.8)).then(0x20).when(hot).then(0x4).otherwise(0).cast(pl.UInt64)
            .alias(f"{p}_throttle_reasons"),
        ]
    return pl.select(columns)


def bench_live(gpus: int, ticks: int) -> dict[str, Any]:
    frames = synthetic_trace(ticks, gpus).with_columns(pl.col("ts").dt.epoch("us")).to_dicts()
    pipeline = SignalPipeline(list(range(gpus)))
    gc.collect()
    start = time.perf_counter()
    for frame in frames:
        pipeline.process(frame)
    seconds = time.perf_counter() - start
    devices = gpus + 1
    return {
        "gpus": gpus,
        "ticks": ticks,
        "us_per_tick": seconds / ticks * 1e6,
        "us_per_device_per_tick": seconds / ticks / devices * 1e6,
    }


def bench_device_update(ticks: int) -> float:
    table = synthetic_trace(ticks, 1)
    args = list(zip(*(table[c].to_list() for c in (
        "elapsed_s", "gpu0_util_pct", "gpu0_temp_c", "gpu0_power_w", "gpu0_power_limit_w", "gpu0_temp_limit_c",
        "gpu0_throttle_reasons",
    ))))  # fmt: skip
    device = DeviceSignals("gpu0")
    update = device.update
    start = time.perf_counter()
    for row in args:
        update(*row)
    return (time.perf_counter() - start) / ticks * 1e6


def bench_analyze(rows: int) -> dict[str, Any]:
    trace = synthetic_trace(rows, 1)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "samples.parquet"
        trace.write_parquet(source)
        start = time.perf_counter()
        frame = read_samples_file(source)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        _, summary, _ = analyze_frame(frame, [])
        compute_s = time.perf_counter() - start
        start = time.perf_counter()
        analyze(source, Path(tmp) / "out.parquet")
        total_parquet_s = time.perf_counter() - start
        trace.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(Path(tmp) / "samples.csv")
        start = time.perf_counter()
        analyze(Path(tmp) / "samples.csv", Path(tmp) / "out.csv")
        total_csv_s = time.perf_counter() - start
    return {
        "rows": rows,
        "read_parquet_s": read_s,
        "analyze_frame_s": compute_s,
        "analyze_parquet_to_parquet_s": total_parquet_s,
        "analyze_csv_to_csv_s": total_csv_s,
        "rows_per_s": rows / total_parquet_s,
        "collapse_events": summary["gpu_collapses"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=864_000, help="rows of the analyze trace (default 864000)")
    parser.add_argument("--ticks", type=int, default=100_000, help="ticks for the live benchmark")
    options = parser.parse_args()

    live = [bench_live(gpus, options.ticks) for gpus in (1, 4)]
    update_us = bench_device_update(options.ticks)
    offline = bench_analyze(options.rows)

    print(f"{'measure':<44}{'value':>14}")
    print("-" * 58)
    print(f"{'DeviceSignals.update, µs per call':<44}{update_us:>14.2f}")
    for entry in live:
        label = f"live process(), {entry['gpus']} GPU"
        print(f"{label + ', µs per tick':<44}{entry['us_per_tick']:>14.2f}")
        print(f"{label + ', µs per device per tick':<44}{entry['us_per_device_per_tick']:>14.2f}")
    print(f"{'analyze rows':<44}{offline['rows']:>14,}")
    print(f"{'  read Parquet, s':<44}{offline['read_parquet_s']:>14.2f}")
    print(f"{'  analyze_frame, s':<44}{offline['analyze_frame_s']:>14.2f}")
    print(f"{'  analyze Parquet -> Parquet, s':<44}{offline['analyze_parquet_to_parquet_s']:>14.2f}")
    print(f"{'  analyze CSV -> CSV, s':<44}{offline['analyze_csv_to_csv_s']:>14.2f}")
    print(f"{'  rows per second (Parquet -> Parquet)':<44}{offline['rows_per_s']:>14,.0f}")

    write_result("signals", {"device_update_us": update_us, "live": live, "analyze": offline})


if __name__ == "__main__":
    main()
