"""Column names and types of a session's samples (spec: SESSION_FORMAT and SIGNALS).

Types are given as small portable names so that this module needs no data
library; `recordings` maps them to Parquet/polars types.  The same function
describes live frames, recordings and offline analysis, so the three agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Portable type names: "datetime" (UTC, microseconds; int µs since the epoch in
# frames), "f64", "f32", "i64", "u64", "i8", "str", "list_f32".
ColumnTypes = dict[str, str]

TIME_COLUMNS: ColumnTypes = {"ts": "datetime", "elapsed_s": "f64", "sample_lag_ms": "f32"}

CPU_COLUMNS: ColumnTypes = {
    "cpu_util_pct": "f64",
    "cpu_freq_mhz": "f64",
    "cpu_temp_c": "f64",
    "cpu_power_w": "f64",
    "cpu_power_limit_w": "f64",
    "cpu_temp_limit_c": "f64",
    "cpu_core_util_pct": "list_f32",
}

HOST_COLUMNS: ColumnTypes = {
    "mem_used_bytes": "i64",
    "mem_total_bytes": "i64",
    "mem_util_pct": "f64",
    "swap_used_bytes": "i64",
    "disk_read_bps": "f64",
    "disk_write_bps": "f64",
    "net_recv_bps": "f64",
    "net_sent_bps": "f64",
    # The host tier (memory to network above) is read at its own rate (--host-hz): the elapsed_s of the
    # tick whose read a row's host values are; null with them when that tier stalls.
    "host_elapsed_s": "f64",
    # rigscope's own process: CPU % of one core and resident memory; CPU % of one core per thread role,
    # `main=1.9 sampler=0.8 ...` (collectors.self_usage).
    "self_cpu_pct": "f64",
    "self_rss_bytes": "i64",
    "self_threads": "str",
}

HOST_TIME_COLUMN = "host_elapsed_s"
HOST_TIER_COLUMNS: tuple[str, ...] = tuple(HOST_COLUMNS)[:list(HOST_COLUMNS).index(HOST_TIME_COLUMN) + 1]

# Per GPU; `{p}` is replaced by the device prefix `gpu{i}`.
GPU_COLUMN_TEMPLATE: ColumnTypes = {
    "{p}_util_pct": "f64",
    "{p}_mem_util_pct": "f64",
    "{p}_mem_used_bytes": "i64",
    "{p}_mem_total_bytes": "i64",
    "{p}_temp_c": "f64",
    "{p}_temp_limit_c": "f64",
    "{p}_power_w": "f64",
    "{p}_power_limit_w": "f64",
    "{p}_energy_j": "f64",
    "{p}_clock_sm_mhz": "f64",
    "{p}_clock_mem_mhz": "f64",
    "{p}_fan_pct": "f64",
    "{p}_pstate": "i64",
    "{p}_throttle_reasons": "u64",
    # NVML violation counters (cumulative seconds throttled by policy), where supported.
    "{p}_violation_power_s": "f64",
    "{p}_violation_thermal_s": "f64",
}

# Per GPU, from NVML's GPM counters (Hopper and newer), read every --gpm-interval and held until the
# next reading: each is the mean over the last GPM interval; null where the GPU has no GPM.
GPM_COLUMN_TEMPLATE: ColumnTypes = {
    "{p}_sm_active_pct": "f64",
    "{p}_sm_occupancy_pct": "f64",
    "{p}_tensor_active_pct": "f64",
    "{p}_dram_bw_util_pct": "f64",
    "{p}_fp16_active_pct": "f64",
    "{p}_fp32_active_pct": "f64",
    "{p}_fp64_active_pct": "f64",
    "{p}_pcie_rx_bps": "f64",
    "{p}_pcie_tx_bps": "f64",
    "{p}_nvlink_rx_bps": "f64",
    "{p}_nvlink_tx_bps": "f64",
}

# Derived per device (SIGNALS §2-4); `{p}` is `cpu` or `gpu{i}`.
DERIVED_COLUMN_TEMPLATE: ColumnTypes = {
    "{p}_a_load": "f64",
    "{p}_t_sustain_s": "f64",
    "{p}_rle_raw": "f64",
    "{p}_rle_smoothed": "f64",
    "{p}_e_th": "f64",
    "{p}_e_pw": "f64",
    "{p}_rolling_peak": "f64",
    "{p}_collapse": "i8",
    "{p}_alerts": "str",
}

WORKLOAD_COLUMNS: ColumnTypes = {"workload_state": "str", "workload_source": "str"}


def gpu_prefix(index: int) -> str:
    """The device prefix of GPU `index`: `gpu0`."""
    return f"gpu{index}"


def column(prefix: str, field: str) -> str:
    """One device's column: `column("gpu0", "temp_c")` is `gpu0_temp_c` (`field` as in the templates)."""
    return f"{prefix}_{field}"


def gpu_column(index: int, field: str) -> str:
    """GPU `index`'s column: `gpu_column(0, "temp_c")` is `gpu0_temp_c`."""
    return f"gpu{index}_{field}"


_GPU_UTIL = re.compile(r"^gpu(\d+)_util_pct$")


def gpu_indices_of(columns: Iterable[str]) -> list[int]:
    """GPU indices present in a table, from its `gpuN_util_pct` columns."""
    return sorted(int(match.group(1)) for name in columns if (match := _GPU_UTIL.match(name)))


def device_prefixes(gpu_indices: Iterable[int]) -> list[str]:
    """Device prefixes of a session: ``cpu`` first, then each GPU."""
    return ["cpu", *(gpu_prefix(i) for i in gpu_indices)]


def _expand(template: ColumnTypes, prefix: str) -> ColumnTypes:
    return {name.format(p=prefix): kind for name, kind in template.items()}


def raw_columns(gpu_indices: Iterable[int]) -> ColumnTypes:
    """Columns that collectors produce, in schema order."""
    columns: ColumnTypes = {**TIME_COLUMNS, **CPU_COLUMNS, **HOST_COLUMNS}
    for index in gpu_indices:
        columns.update(_expand(GPU_COLUMN_TEMPLATE, gpu_prefix(index)))
        columns.update(_expand(GPM_COLUMN_TEMPLATE, gpu_prefix(index)))
    return columns


def derived_columns(gpu_indices: Iterable[int]) -> ColumnTypes:
    """Columns the signal pipeline adds, in schema order."""
    columns: ColumnTypes = {}
    for prefix in device_prefixes(gpu_indices):
        columns.update(_expand(DERIVED_COLUMN_TEMPLATE, prefix))
    columns.update(WORKLOAD_COLUMNS)
    return columns


def session_columns(gpu_indices: Iterable[int]) -> ColumnTypes:
    """Every column of a recorded session: raw, then derived."""
    indices = list(gpu_indices)
    return {**raw_columns(indices), **derived_columns(indices)}
