"""The RLE lab's long CSV layout (one row per device per tick) and how it maps to the wide session schema.

Written by `rigscope export --to long-csv` and read by `rigscope import`. The lab's
newest ("enhanced", 42-column) header comes first, in its order, so the lab's
analysis scripts read rigscope sessions; rigscope's raw columns that the lab did not
have follow, under their session names without the device prefix, so that an
export imports back to the same raw values.  Gigabytes are GiB (2**30 bytes), as the lab wrote them.
"""

from __future__ import annotations

from pathlib import Path

from collectors.schema import GPM_COLUMN_TEMPLATE, gpu_prefix

LAB_COLUMNS = (
    "timestamp", "device", "rle_smoothed", "rle_raw", "E_th", "E_pw", "temp_c", "power_w", "util_pct",
    "a_load", "t_sustain_s", "rolling_peak", "collapse", "alerts", "cpu_freq_mhz", "cpu_cores_active",
    "cpu_temp_max", "gpu_memory_used_gb", "gpu_memory_total_gb", "gpu_fan_pct", "gpu_clock_mhz",
    "memory_used_gb", "memory_total_gb", "memory_util_pct", "disk_used_gb", "disk_total_gb", "disk_util_pct",
    "network_sent_mb", "network_recv_mb", "cpu_temp_hwinfo", "cpu_fan_rpm", "cpu_voltage", "motherboard_temp",
    "psu_voltage_12v", "psu_voltage_5v", "psu_voltage_3v", "gpu_temp_hwinfo", "gpu_memory_temp", "gpu_fan_rpm",
    "gpu_voltage", "case_fan_rpm", "workload_state",
)
GIB = float(2**30)

# Long column -> (wide column template, scale from long to wide). `{p}` is the row's device prefix.
DERIVED = {"rle_smoothed": "{p}_rle_smoothed", "rle_raw": "{p}_rle_raw", "E_th": "{p}_e_th", "E_pw": "{p}_e_pw",
           "a_load": "{p}_a_load", "t_sustain_s": "{p}_t_sustain_s", "rolling_peak": "{p}_rolling_peak",
           "collapse": "{p}_collapse", "alerts": "{p}_alerts"}
ANY_DEVICE: dict[str, tuple[str, float]] = {
    "temp_c": ("{p}_temp_c", 1.0), "power_w": ("{p}_power_w", 1.0), "util_pct": ("{p}_util_pct", 1.0),
    "power_limit_w": ("{p}_power_limit_w", 1.0), "temp_limit_c": ("{p}_temp_limit_c", 1.0),
}
GPU_ONLY: dict[str, tuple[str, float]] = {
    "gpu_memory_used_gb": ("{p}_mem_used_bytes", GIB), "gpu_memory_total_gb": ("{p}_mem_total_bytes", GIB),
    "gpu_fan_pct": ("{p}_fan_pct", 1.0), "gpu_clock_mhz": ("{p}_clock_sm_mhz", 1.0),
    "gpu_mem_util_pct": ("{p}_mem_util_pct", 1.0), "clock_mem_mhz": ("{p}_clock_mem_mhz", 1.0),
    "energy_j": ("{p}_energy_j", 1.0), "pstate": ("{p}_pstate", 1.0),
    "throttle_reasons": ("{p}_throttle_reasons", 1.0), "violation_power_s": ("{p}_violation_power_s", 1.0),
    "violation_thermal_s": ("{p}_violation_thermal_s", 1.0),
    # NVML GPM, under the wide column's own name: sm_active_pct, ..., nvlink_tx_bps
    **{name.removeprefix("{p}_"): (name, 1.0) for name in GPM_COLUMN_TEMPLATE},
}
# Host-level values travel on the cpu row.
CPU_ONLY: dict[str, tuple[str, float]] = {
    "cpu_freq_mhz": ("cpu_freq_mhz", 1.0), "memory_used_gb": ("mem_used_bytes", GIB),
    "memory_total_gb": ("mem_total_bytes", GIB), "memory_util_pct": ("mem_util_pct", 1.0),
    "swap_used_bytes": ("swap_used_bytes", 1.0), "disk_read_bps": ("disk_read_bps", 1.0),
    "disk_write_bps": ("disk_write_bps", 1.0), "net_recv_bps": ("net_recv_bps", 1.0),
    "net_sent_bps": ("net_sent_bps", 1.0), "host_elapsed_s": ("host_elapsed_s", 1.0),
    "self_cpu_pct": ("self_cpu_pct", 1.0), "self_rss_bytes": ("self_rss_bytes", 1.0),
    "self_threads": ("self_threads", 1.0),
}
TEXT = frozenset({"self_threads"})  # long columns that travel as text, not numbers
# Older lab layouts: the v1 GPU fan and the laptop layout's CPU clock in GHz.
LEGACY_ALIASES: dict[str, tuple[str, str, float]] = {
    "fan_pct": ("gpu", "{p}_fan_pct", 1.0), "cpu_freq_ghz": ("cpu", "cpu_freq_mhz", 1000.0),
}
TICK = ("elapsed_s", "sample_lag_ms")  # the same on every row of a tick
CORE_PREFIX = "cpu_core"  # cpu_core0_util_pct ... on the cpu row, as in samples.csv
EXTRA_COLUMNS = (*TICK, "power_limit_w", "temp_limit_c",
                 *(name for name in GPU_ONLY if name not in LAB_COLUMNS),
                 *(name for name in CPU_ONLY if name not in LAB_COLUMNS))
REQUIRED = ("timestamp", "device", "util_pct")


def device_name(prefix: str, gpu_indices: list[int]) -> str:
    """The lab called its one GPU `gpu`; with other or more GPUs the rows say `gpu0`, `gpu1`, ..."""
    return "gpu" if prefix == "gpu0" and gpu_indices == [0] else prefix


def prefix_of(device: str) -> str | None:
    """`cpu`, `gpu` (the lab's one GPU: gpu0) or `gpuN`; None for anything else."""
    if device in ("cpu", "gpu"):
        return "gpu0" if device == "gpu" else "cpu"
    if device.startswith("gpu") and device[3:].isdigit():
        return gpu_prefix(int(device[3:]))
    return None


def fields_for(prefix: str) -> dict[str, tuple[str, float]]:
    """The raw (not derived) long columns a row of this device carries, with their wide names."""
    own = CPU_ONLY if prefix == "cpu" else GPU_ONLY
    return {long: (wide.format(p=prefix), scale) for long, (wide, scale) in {**ANY_DEVICE, **own}.items()}


def sidecar(csv: Path, extension: str = ".long.csv") -> Path:
    """`<name>.meta.json` beside a long CSV `<name>.long.csv` (or `<name>.<ext>`): the session's meta.json,
    written by export and read by import, so a round trip keeps host, GPUs and notes."""
    name = csv.name[:-len(extension)] if csv.name.endswith(extension) and csv.name != extension else csv.stem
    return csv.with_name(f"{name}.meta.json")
