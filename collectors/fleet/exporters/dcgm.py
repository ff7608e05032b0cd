"""NVIDIA dcgm-exporter (its default counters file and the profiling `DCGM_FI_PROF_*` fields).

Units as NVIDIA documents the DCGM fields: utilization in percent, framebuffer in MiB,
power in W, temperature in °C, total energy in mJ since the driver loaded, profiling
activities as ratios 0-1.  dcgm-exporter serves no temperature limit: it stays unknown.
"""

from __future__ import annotations

from collectors.fleet.table import Entry, Exporter

MIB = 1024.0 * 1024.0

EXPORTER = Exporter("dcgm", (
    Entry("model", "DCGM_FI_DEV_GPU_UTIL", kind="name", label="modelName"),
    Entry("util", "DCGM_FI_DEV_GPU_UTIL", 0.01),
    Entry("sm_active", "DCGM_FI_PROF_SM_ACTIVE"),
    Entry("tensor_active", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"),
    Entry("dram_active", "DCGM_FI_PROF_DRAM_ACTIVE"),
    Entry("mem_used", "DCGM_FI_DEV_FB_USED", MIB),
    Entry("mem_free", "DCGM_FI_DEV_FB_FREE", MIB),
    Entry("temp", "DCGM_FI_DEV_GPU_TEMP"),
    Entry("power", "DCGM_FI_DEV_POWER_USAGE"),
    Entry("energy", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 0.001, kind="counter"),
))
