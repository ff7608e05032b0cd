"""rigscope's own `/metrics` (rigscope/serve/prometheus.py): names already in base units."""

from __future__ import annotations

from collectors.fleet.table import Entry, Exporter

PREFIX = "rigscope_"  # as rigscope/serve/prometheus.py names its families (tests/fleet/test_adapters.py checks)

EXPORTER = Exporter("rigscope", (
    Entry("model", PREFIX + "gpu_info", kind="name", label="name"),
    Entry("util", PREFIX + "gpu_utilization_ratio"),
    Entry("sm_active", PREFIX + "gpu_sm_active_ratio"),  # served where GPM metrics are (newer rigscope)
    Entry("tensor_active", PREFIX + "gpu_tensor_active_ratio"),
    Entry("dram_active", PREFIX + "gpu_dram_bandwidth_ratio"),
    Entry("mem_used", PREFIX + "gpu_memory_used_bytes"),
    Entry("mem_total", PREFIX + "gpu_memory_total_bytes"),
    Entry("temp", PREFIX + "gpu_temperature_celsius"),
    Entry("temp_limit", PREFIX + "gpu_temperature_limit_celsius"),
    Entry("power", PREFIX + "gpu_power_watts"),
    Entry("energy", PREFIX + "gpu_energy_joules_total", kind="counter"),
    Entry("throttle", PREFIX + "gpu_throttle_seconds_total", kind="counter"),
    Entry("cpu_util", PREFIX + "cpu_utilization_ratio"),
    Entry("host_mem_used", PREFIX + "memory_used_bytes"),
    Entry("host_mem_total", PREFIX + "memory_total_bytes"),
    Entry("collapses", PREFIX + "collapse_events_total", kind="counter"),
    Entry("workload", PREFIX + "workload_state", kind="state", label="state"),
))
