"""Prometheus metric families built at scrape time from the exporter's snapshot.

`SnapshotCollector` is a `prometheus_client` custom collector: each scrape reads
one `ExportSnapshot` (an immutable reference swap, no lock) and turns it into
metric families named by Prometheus conventions (base units, `_ratio` for 0-1,
`_total` for counters).  Every series carries `host` and `session`; GPU series
also `gpu` (the index) and `uuid`.  A value that was not measured is left out,
never exported as NaN.  It lives in its own `CollectorRegistry`, so nothing
else (no default process or GC collectors) ends up on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from collectors.schema import column, gpu_prefix
from collectors.values import finite
from rigscope.serve.feed import IO_RATES, THROTTLE_CAUSES, ExportSnapshot

PREFIX = "rigscope_"
MHZ = 1e6

# Per GPU gauges: (metric name, column suffix, scale, help).
GPU_GAUGES: tuple[tuple[str, str, float, str], ...] = (
    ("gpu_utilization_ratio", "util_pct", 0.01, "GPU utilization, 0 to 1"),
    ("gpu_memory_utilization_ratio", "mem_util_pct", 0.01, "GPU memory controller utilization, 0 to 1"),
    ("gpu_memory_used_bytes", "mem_used_bytes", 1.0, "GPU memory in use"),
    ("gpu_memory_total_bytes", "mem_total_bytes", 1.0, "GPU memory size"),
    ("gpu_temperature_celsius", "temp_c", 1.0, "GPU temperature"),
    ("gpu_temperature_limit_celsius", "temp_limit_c", 1.0, "GPU temperature limit (slowdown threshold)"),
    ("gpu_power_watts", "power_w", 1.0, "GPU power draw"),
    ("gpu_power_limit_watts", "power_limit_w", 1.0, "GPU power limit"),
    ("gpu_clock_sm_hertz", "clock_sm_mhz", MHZ, "GPU SM clock"),
    ("gpu_clock_memory_hertz", "clock_mem_mhz", MHZ, "GPU memory clock"),
    ("gpu_fan_speed_ratio", "fan_pct", 0.01, "GPU fan speed, a share of its maximum (NVML: it may pass 1)"),
    ("gpu_performance_state", "pstate", 1.0, "GPU performance state (0 is P0, the fastest)"),
    # NVML GPM (Hopper and newer): means over the last GPM interval.
    ("gpu_sm_active_ratio", "sm_active_pct", 0.01, "share of SMs busy (GPM), 0 to 1"),
    ("gpu_sm_occupancy_ratio", "sm_occupancy_pct", 0.01, "share of warps resident vs the maximum (GPM), 0 to 1"),
    ("gpu_tensor_active_ratio", "tensor_active_pct", 0.01, "share of time on tensor cores (GPM), 0 to 1"),
    ("gpu_dram_bandwidth_ratio", "dram_bw_util_pct", 0.01, "share of DRAM bandwidth used (GPM), 0 to 1"),
    ("gpu_fp16_active_ratio", "fp16_active_pct", 0.01, "share of time on non-tensor FP16 math (GPM), 0 to 1"),
    ("gpu_fp32_active_ratio", "fp32_active_pct", 0.01, "share of time on non-tensor FP32 math (GPM), 0 to 1"),
    ("gpu_fp64_active_ratio", "fp64_active_pct", 0.01, "share of time on non-tensor FP64 math (GPM), 0 to 1"),
    ("gpu_pcie_receive_bytes_per_second", "pcie_rx_bps", 1.0, "PCIe traffic to the GPU (GPM)"),
    ("gpu_pcie_transmit_bytes_per_second", "pcie_tx_bps", 1.0, "PCIe traffic from the GPU (GPM)"),
    ("gpu_nvlink_receive_bytes_per_second", "nvlink_rx_bps", 1.0, "NVLink traffic to the GPU, all links (GPM)"),
    ("gpu_nvlink_transmit_bytes_per_second", "nvlink_tx_bps", 1.0, "NVLink traffic from the GPU, all links (GPM)"),
)
# Host gauges: (metric name, column, scale, help).
HOST_GAUGES: tuple[tuple[str, str, float, str], ...] = (
    ("cpu_utilization_ratio", "cpu_util_pct", 0.01, "CPU utilization over all cores, 0 to 1"),
    ("cpu_frequency_hertz", "cpu_freq_mhz", MHZ, "CPU clock frequency"),
    ("cpu_temperature_celsius", "cpu_temp_c", 1.0, "CPU package temperature"),
    ("cpu_temperature_limit_celsius", "cpu_temp_limit_c", 1.0, "CPU temperature limit"),
    ("cpu_power_watts", "cpu_power_w", 1.0, "CPU package power (RAPL)"),
    ("cpu_power_limit_watts", "cpu_power_limit_w", 1.0, "CPU power limit"),
    ("memory_used_bytes", "mem_used_bytes", 1.0, "host memory in use"),
    ("memory_total_bytes", "mem_total_bytes", 1.0, "host memory size"),
    ("memory_utilization_ratio", "mem_util_pct", 0.01, "host memory in use, 0 to 1"),
    ("swap_used_bytes", "swap_used_bytes", 1.0, "swap in use"),
    ("disk_read_bytes_per_second", "disk_read_bps", 1.0, "disk read rate over the last tick"),
    ("disk_written_bytes_per_second", "disk_write_bps", 1.0, "disk write rate over the last tick"),
    ("network_receive_bytes_per_second", "net_recv_bps", 1.0, "network receive rate over the last tick"),
    ("network_transmit_bytes_per_second", "net_sent_bps", 1.0, "network send rate over the last tick"),
    ("self_cpu_cores", "self_cpu_pct", 0.01, "CPU used by rigscope itself, in cores (1 is one busy core)"),
    ("self_resident_memory_bytes", "self_rss_bytes", 1.0, "resident memory of rigscope itself"),
)
IO_HELP = {
    "disk_read": "bytes read from disk since the session started (rate times tick)",
    "disk_written": "bytes written to disk since the session started (rate times tick)",
    "network_receive": "bytes received since the session started (rate times tick)",
    "network_transmit": "bytes sent since the session started (rate times tick)",
}


@dataclass(frozen=True)
class GpuLabel:
    index: int
    uuid: str
    name: str = ""
    driver: str = ""


@dataclass(frozen=True)
class ExportLabels:
    """What identifies the series of one monitor: fixed for a session."""

    host: str
    session: str
    gpus: tuple[GpuLabel, ...] = ()
    devices: tuple[str, ...] = ("cpu",)
    info: dict[str, str] = field(default_factory=dict)  # rigscope_info labels: version, hardware_tier, ...
    sample_hz: float | None = None


def _value(frame: Any, column: str, scale: float) -> float | None:
    value = finite(frame.get(column))
    if value is None:
        return None
    return value * scale if scale != 1.0 else value


class SnapshotCollector:
    """Builds every rigscope metric family from `snapshot()` when Prometheus scrapes."""

    def __init__(self, snapshot: Callable[[], ExportSnapshot], labels: ExportLabels) -> None:
        self._snapshot = snapshot
        self.labels = labels

    def describe(self) -> list[Metric]:
        return []  # no collect() at registration; names are unique by construction

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        frame, ids = snap.frame, self.labels
        base_names, base = ["host", "session"], [ids.host, ids.session]
        gpu_names = ["gpu", "uuid", *base_names]
        gpu_rows = [(gpu_prefix(g.index), [str(g.index), g.uuid, *base]) for g in ids.gpus]

        info = GaugeMetricFamily(PREFIX + "info", "rigscope and the session it records (always 1)",
                                 labels=[*base_names, *ids.info])
        info.add_metric([*base, *ids.info.values()], 1.0)
        yield info
        gpu_info = GaugeMetricFamily(PREFIX + "gpu_info", "GPU name and driver (always 1)",
                                     labels=[*gpu_names, "name", "driver_version"])
        for g, (_, values) in zip(ids.gpus, gpu_rows):
            gpu_info.add_metric([*values, g.name, g.driver], 1.0)
        yield gpu_info

        for name, suffix, scale, text in GPU_GAUGES:
            family = GaugeMetricFamily(PREFIX + name, text, labels=gpu_names)
            for prefix, values in gpu_rows:
                value = _value(frame, column(prefix, suffix), scale)
                if value is not None:
                    family.add_metric(values, value)
            yield family
        energy = CounterMetricFamily(PREFIX + "gpu_energy_joules",
                                     "GPU energy used (NVML's total energy counter where supported)", labels=gpu_names)
        throttle = CounterMetricFamily(PREFIX + "gpu_throttle_seconds",
                                       "seconds the GPU clocks were held down, per cause (NVML clocks-event reasons)",
                                       labels=[*gpu_names, "cause"])
        for prefix, values in gpu_rows:
            value = _value(frame, column(prefix, "energy_j"), 1.0)
            if value is not None and prefix not in snap.energy_stuck:
                energy.add_metric(values, value)
            for cause, seconds in zip(THROTTLE_CAUSES, snap.throttle_s.get(prefix, ())):  # none: never read
                throttle.add_metric([*values, cause], seconds)
        yield energy
        yield throttle

        yield from self._host(snap, base_names, base)
        yield from self._derived(snap, base_names, base)
        yield from self._spans(snap, base_names, base)

        lag = GaugeMetricFamily(PREFIX + "sample_lag_seconds", "how late the latest tick ran against its schedule",
                                labels=base_names)
        value = _value(frame, "sample_lag_ms", 0.001)
        if value is not None:
            lag.add_metric(base, value)
        yield lag
        stamp = GaugeMetricFamily(PREFIX + "last_sample_timestamp_seconds",
                                  "ts of the latest sample (Unix seconds; session time on a sped-up simulation)",
                                  labels=base_names)
        ts = frame.get("ts")
        if isinstance(ts, int):
            stamp.add_metric(base, ts / 1e6)
        yield stamp
        samples = CounterMetricFamily(PREFIX + "samples", "samples the exporter has seen", labels=base_names)
        samples.add_metric(base, float(snap.samples))
        yield samples
        dropped = CounterMetricFamily(PREFIX + "exporter_dropped_batches",
                                      "batches the exporter's queue dropped (it fell behind)", labels=base_names)
        dropped.add_metric(base, float(snap.dropped))
        yield dropped
        if ids.sample_hz is not None:
            rate = GaugeMetricFamily(PREFIX + "sample_rate_hertz", "configured samples per second", labels=base_names)
            rate.add_metric(base, ids.sample_hz)
            yield rate

    def _host(self, snap: ExportSnapshot, names: list[str], base: list[str]) -> Iterator[Metric]:
        frame = snap.frame
        for name, key, scale, text in HOST_GAUGES:
            family = GaugeMetricFamily(PREFIX + name, text, labels=names)
            value = _value(frame, key, scale)
            if value is not None:
                family.add_metric(base, value)
            yield family
        cores = GaugeMetricFamily(PREFIX + "cpu_core_utilization_ratio", "utilization of each logical CPU, 0 to 1",
                                  labels=["core", *names])
        per_core = frame.get("cpu_core_util_pct")
        if isinstance(per_core, (list, tuple)):
            for core, value in enumerate(per_core):
                if isinstance(value, (int, float)) and value == value:
                    cores.add_metric([str(core), *base], float(value) / 100.0)
        yield cores
        for key, _ in IO_RATES:
            counter = CounterMetricFamily(PREFIX + f"{key}_bytes", IO_HELP[key], labels=names)
            if key in snap.io_bytes:  # not before the rate was first read
                counter.add_metric(base, snap.io_bytes[key])
            yield counter

    def _derived(self, snap: ExportSnapshot, names: list[str], base: list[str]) -> Iterator[Metric]:
        frame, devices = snap.frame, self.labels.devices
        device_names = ["device", *names]
        rle = GaugeMetricFamily(PREFIX + "rle_smoothed", "RLE efficiency, smoothed (SIGNALS.md)", labels=device_names)
        events = CounterMetricFamily(PREFIX + "collapse_events", "collapse events started", labels=device_names)
        active = GaugeMetricFamily(PREFIX + "collapse_active", "1 while a collapse event is active",
                                   labels=device_names)
        for device in devices:
            values = [device, *base]
            value = _value(frame, column(device, "rle_smoothed"), 1.0)
            if value is not None:
                rle.add_metric(values, value)
            events.add_metric(values, float(snap.collapse_events.get(device, 0)))
            flag = _value(frame, column(device, "collapse"), 1.0)
            if flag is not None:
                active.add_metric(values, 1.0 if flag else 0.0)
        yield rle
        yield events
        yield active
        state = frame.get("workload_state")
        workload = GaugeMetricFamily(PREFIX + "workload_state", "1 for the current workload state, 0 for the others",
                                     labels=["state", *names])
        if isinstance(state, str) and state:  # null or empty: not known yet
            # Past MAX_STATES tag names the feed keeps no more; the current state is served all the same.
            states = snap.states if state in snap.states else (*snap.states, state)
            for name in states:
                workload.add_metric([name, *base], 1.0 if name == state else 0.0)
        yield workload

    def _spans(self, snap: ExportSnapshot, names: list[str], base: list[str]) -> Iterator[Metric]:
        histogram = HistogramMetricFamily(PREFIX + "span_duration_seconds", "duration of finished spans, by name",
                                          labels=["name", *names])
        totals = CounterMetricFamily(PREFIX + "spans", "finished spans, by name and outcome",
                                     labels=["name", "success", *names])
        for stats in snap.spans:
            buckets = [(_bound(bound), float(count)) for bound, count in stats.cumulative_buckets()]
            histogram.add_metric([stats.name, *base], buckets, stats.duration_sum)
            totals.add_metric([stats.name, "true", *base], float(stats.successful))
            totals.add_metric([stats.name, "false", *base], float(stats.failed))
        yield histogram
        yield totals
        active = GaugeMetricFamily(PREFIX + "spans_active", "spans started and not yet ended", labels=names)
        active.add_metric(base, float(snap.open_spans))
        yield active


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def make_registry(snapshot: Callable[[], ExportSnapshot], labels: ExportLabels) -> CollectorRegistry:
    """A registry of its own that holds only rigscope's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, labels))
    return registry


def metric_names() -> Sequence[str]:
    """Every family name this collector can produce (docs and tests)."""
    names = ["info", "gpu_info", *(n for n, *_ in GPU_GAUGES), "gpu_energy_joules_total", "gpu_throttle_seconds_total",
             *(n for n, *_ in HOST_GAUGES), "cpu_core_utilization_ratio", *(f"{k}_bytes_total" for k, _ in IO_RATES),
             "rle_smoothed", "collapse_events_total", "collapse_active", "workload_state",
             "span_duration_seconds", "spans_total", "spans_active", "sample_lag_seconds",
             "last_sample_timestamp_seconds", "samples_total", "exporter_dropped_batches_total", "sample_rate_hertz"]
    return [PREFIX + n for n in names]
