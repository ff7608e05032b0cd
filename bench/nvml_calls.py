"""The cost of each NVML call rigscope makes, through pynvml: µs of CPU and wall time per call.

Shared by bench_nvml_mock.py (over the mock library) and device_check.py (over a real driver).
A call the device refuses (fan speed on a passively cooled GPU, no process-utilization sample
yet) is timed all the same, failing as it does, and named with its error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def rigscope_calls(nv: Any, handle: Any) -> dict[str, Callable[[], Any]]:
    """The pynvml calls of collectors/nvml.py for one GPU, by name."""
    return {
        "nvmlDeviceGetUtilizationRates": lambda: nv.nvmlDeviceGetUtilizationRates(handle),
        "nvmlDeviceGetMemoryInfo": lambda: nv.nvmlDeviceGetMemoryInfo(handle),
        "nvmlDeviceGetTemperature": lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU),
        "nvmlDeviceGetTemperatureThreshold": lambda: nv.nvmlDeviceGetTemperatureThreshold(
            handle, nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN),
        "nvmlDeviceGetPowerUsage": lambda: nv.nvmlDeviceGetPowerUsage(handle),
        "nvmlDeviceGetEnforcedPowerLimit": lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle),
        "nvmlDeviceGetTotalEnergyConsumption": lambda: nv.nvmlDeviceGetTotalEnergyConsumption(handle),
        "nvmlDeviceGetClockInfo(SM)": lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM),
        "nvmlDeviceGetClockInfo(MEM)": lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_MEM),
        "nvmlDeviceGetFanSpeed": lambda: nv.nvmlDeviceGetFanSpeed(handle),
        "nvmlDeviceGetPerformanceState": lambda: nv.nvmlDeviceGetPerformanceState(handle),
        "nvmlDeviceGetCurrentClocksEventReasons": lambda: nv.nvmlDeviceGetCurrentClocksEventReasons(handle),
        "nvmlDeviceGetViolationStatus(POWER)": lambda: nv.nvmlDeviceGetViolationStatus(
            handle, nv.NVML_PERF_POLICY_POWER),
        "nvmlDeviceGetViolationStatus(THERMAL)": lambda: nv.nvmlDeviceGetViolationStatus(
            handle, nv.NVML_PERF_POLICY_THERMAL),
        "nvmlDeviceGetComputeRunningProcesses": lambda: nv.nvmlDeviceGetComputeRunningProcesses(handle),
        "nvmlDeviceGetGraphicsRunningProcesses": lambda: nv.nvmlDeviceGetGraphicsRunningProcesses(handle),
        "nvmlDeviceGetProcessUtilization": lambda: nv.nvmlDeviceGetProcessUtilization(handle, 0),
    }


def time_call(call: Callable[[], Any], min_seconds: float) -> dict[str, Any]:
    """µs per call (thread CPU and wall) over at least `min_seconds` and 20 calls; the error, if it fails."""
    error = None
    count, cpu0, wall0 = 0, time.thread_time(), time.perf_counter()
    while count < 20 or time.perf_counter() - wall0 < min_seconds:
        try:
            call()
        except Exception as exc:  # noqa: BLE001  a refused call is timed too, and named
            error = f"{type(exc).__name__}: {exc}"
        count += 1
    return {"cpu_us": (time.thread_time() - cpu0) / count * 1e6,
            "wall_us": (time.perf_counter() - wall0) / count * 1e6, "calls": count, "error": error}


def call_costs(nv: Any, handle: Any, min_seconds: float) -> dict[str, dict[str, Any]]:
    return {name: time_call(call, min_seconds) for name, call in rigscope_calls(nv, handle).items()}
