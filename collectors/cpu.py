"""CPU utilization (total and per core), frequency and package temperature.

Utilization is read every tick: on Linux from /proc/stat through a kept-open
descriptor (`collectors.procfs`, psutil's arithmetic), elsewhere from psutil;
frequency likewise from /proc/cpuinfo where psutil itself takes it from there
(it also lists /sys on every call); temperature from psutil.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import psutil

from collectors import procfs
from collectors.base import Collector, Reading

# Sensor chips that report the CPU package, best first, with the labels to prefer.
_CPU_SENSORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("coretemp", ("Package id 0", "Physical id 0")),
    ("k10temp", ("Tctl", "Tdie")),
    ("zenpower", ("Tdie", "Tctl")),
    ("cpu_thermal", ()),
    ("cpu-thermal", ()),
    ("soc_thermal", ()),
    ("acpitz", ()),
)


def find_cpu_sensor(temps: dict[str, list[Any]]) -> tuple[str, str] | None:
    """The (chip, label) that best stands for the CPU package, or None."""
    for chip, labels in _CPU_SENSORS:
        entries = temps.get(chip)
        if not entries:
            continue
        for wanted in labels:
            if any(entry.label == wanted for entry in entries):
                return chip, wanted
        return chip, entries[0].label
    return None


class CpuFreq:
    """psutil.cpu_freq().current, from /proc/cpuinfo kept open where psutil reads it there: without cpufreq in
    /sys, or with as many cpufreq policies as CPUs in /proc/cpuinfo (each then truncated to kHz); else psutil."""

    def __init__(self, cpuinfo: str = "/proc/cpuinfo") -> None:
        self._cpuinfo = procfs.open_procfs(cpuinfo, procfs.cpu_mhz)
        # psutil's choice, made at its import: /sys when cpu 0 has cpufreq (its policies counted once here)
        sysfs = os.path.exists("/sys/devices/system/cpu/cpufreq/policy0") or os.path.exists(
            "/sys/devices/system/cpu/cpu0/cpufreq")
        self._policies = len(glob.glob(procfs.CPUFREQ_DIRS[0]) or glob.glob(procfs.CPUFREQ_DIRS[1])) if sysfs else None

    def current(self) -> float | None:
        if self._cpuinfo is not None:
            per_cpu = procfs.cpu_mhz(self._cpuinfo.read())
            if self._policies is None:
                return procfs.mean_mhz(per_cpu)
            if self._policies == len(per_cpu):
                return procfs.mean_mhz([int(mhz * 1000) / 1000 for mhz in per_cpu])
        freq = psutil.cpu_freq()
        return freq.current if freq else None

    def close(self) -> None:
        if self._cpuinfo is not None:
            self._cpuinfo.close()


class CpuCollector(Collector):
    name = "cpu"

    def __init__(self) -> None:
        super().__init__()
        self._stat = procfs.open_procfs("/proc/stat", procfs.cpu_times)
        # Primes the counters: the first tick reads a real interval.
        self._times: list[tuple[int, int]] = procfs.cpu_times(self._stat.read()) if self._stat else []
        if self._stat is None:
            psutil.cpu_percent(percpu=True)
        temps = _sensors_temperatures()
        self._sensor = find_cpu_sensor(temps)
        self._sensor_high: float | None = None
        if self._sensor is None:
            self.notice("no CPU temperature sensor found; cpu_temp_c is null")
        else:
            self._sensor_high = _entry(temps, self._sensor).high or None
        self._freq = CpuFreq() if psutil.cpu_freq() is not None else None
        if self._freq is None:
            self.notice("CPU frequency not readable; cpu_freq_mhz is null")

    def info(self) -> dict[str, Any]:
        return {
            "cpu_count_logical": psutil.cpu_count(logical=True),
            "cpu_count_physical": psutil.cpu_count(logical=False),
            "temp_sensor": "/".join(self._sensor) if self._sensor else None,
            "temp_limit_c": self._sensor_high,
        }

    def read(self, elapsed_s: float) -> Reading:
        cores = self._cores()
        temp = None
        if self._sensor is not None:
            entry = _entry(_sensors_temperatures(), self._sensor)
            temp = entry.current if entry is not None else None
        return {
            "cpu_util_pct": sum(cores) / len(cores) if cores else None,
            "cpu_core_util_pct": cores,
            "cpu_freq_mhz": self._freq.current() if self._freq is not None else None,
            "cpu_temp_c": temp,
            "cpu_temp_limit_c": self._sensor_high,
        }

    def _cores(self) -> list[float]:
        if self._stat is None:
            return psutil.cpu_percent(percpu=True)
        times = procfs.cpu_times(self._stat.read())
        cores, self._times = procfs.busy_percent(self._times, times), times
        return cores

    def close(self) -> None:
        if self._stat is not None:
            self._stat.close()
        if self._freq is not None:
            self._freq.close()


def _sensors_temperatures() -> dict[str, list[Any]]:
    reader = getattr(psutil, "sensors_temperatures", None)  # absent on some platforms
    try:
        return reader() if reader else {}
    except OSError:
        return {}


def _entry(temps: dict[str, list[Any]], sensor: tuple[str, str]) -> Any:
    chip, label = sensor
    return next((e for e in temps.get(chip, ()) if e.label == label), None)
