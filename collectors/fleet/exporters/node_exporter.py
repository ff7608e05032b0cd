"""Prometheus node_exporter: host CPU (from the per-CPU idle seconds) and memory."""

from __future__ import annotations

from collectors.fleet.table import Entry, Exporter

EXPORTER = Exporter("node_exporter", (
    Entry("cpu_util", "node_cpu_seconds_total", kind="idle", match={"mode": "idle"}),
    Entry("host_mem_total", "node_memory_MemTotal_bytes"),
    Entry("host_mem_available", "node_memory_MemAvailable_bytes"),
))
