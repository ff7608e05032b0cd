"""NVML access: the backend interface the GPU collector reads, and the real backend.

This is the only module of rigscope that imports ``pynvml``, and it does so
lazily (in `PynvmlBackend.init`), so importing ``collectors`` stays cheap and
works on machines without an NVIDIA driver.  Everything NVML raises is turned
into the small exception types below; nothing above this module sees pynvml.

Fields are named after the per-GPU columns of `collectors.schema` (``util_pct``,
``power_w``, ...) and read in the schema's units: percent, bytes, °C, W, J, MHz,
seconds.  ``mem_util_pct`` is NVML's memory utilization (the share of time the
memory controller was busy); memory occupancy is ``mem_used_bytes / mem_total_bytes``.

Threads: the GPU collector reads the GPUs in a background thread, and when one
GPU's call hangs a second thread reads the others (`GpuCollector.threaded`), so
a backend may be called by several threads at once, never by two for one GPU.
What a backend keeps per GPU (handles, the per-tick cache, the temperature
threshold) is keyed by index and touched only by the thread reading that GPU;
NVML itself is thread-safe.  `init` and `shutdown` take a lock; `shutdown` is
called only once every reader thread has stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from collectors.schema import GPM_COLUMN_TEMPLATE, GPU_COLUMN_TEMPLATE

# Field names of one GPU, in schema order: "util_pct", "mem_util_pct", ...
FIELDS: tuple[str, ...] = tuple(name.removeprefix("{p}_") for name in GPU_COLUMN_TEMPLATE)
# GPM field names, in schema order: "sm_active_pct", ... (read by `gpm_sample`, not `read_field`).
GPM_FIELDS: tuple[str, ...] = tuple(name.removeprefix("{p}_") for name in GPM_COLUMN_TEMPLATE)

MIB = 1 << 20
# GPM field -> (pynvml's NVML_GPM_METRIC_* name, factor to schema units): percent as is, MiB/s to bytes/s.
GPM_METRICS: dict[str, tuple[str, float]] = {
    "sm_active_pct": ("NVML_GPM_METRIC_SM_UTIL", 1.0),
    "sm_occupancy_pct": ("NVML_GPM_METRIC_SM_OCCUPANCY", 1.0),
    "tensor_active_pct": ("NVML_GPM_METRIC_ANY_TENSOR_UTIL", 1.0),
    "dram_bw_util_pct": ("NVML_GPM_METRIC_DRAM_BW_UTIL", 1.0),
    "fp16_active_pct": ("NVML_GPM_METRIC_FP16_UTIL", 1.0),
    "fp32_active_pct": ("NVML_GPM_METRIC_FP32_UTIL", 1.0),
    "fp64_active_pct": ("NVML_GPM_METRIC_FP64_UTIL", 1.0),
    "pcie_rx_bps": ("NVML_GPM_METRIC_PCIE_RX_PER_SEC", float(MIB)),
    "pcie_tx_bps": ("NVML_GPM_METRIC_PCIE_TX_PER_SEC", float(MIB)),
    "nvlink_rx_bps": ("NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC", float(MIB)),
    "nvlink_tx_bps": ("NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC", float(MIB)),
}

Value = float | int | None


class NvmlError(Exception):
    """An NVML call failed for a reason not covered by the subclasses."""


class NvmlUnavailable(NvmlError):
    """No NVML library, no driver, or a driver/library mismatch."""


class FieldNotSupported(NvmlError):
    """This device (or driver) cannot give this reading; asking again will not help."""


class GpuLost(NvmlError):
    """The device fell off the bus, needs a reset, or is no longer known to NVML."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Static facts about one GPU; ``None`` where NVML could not tell."""

    index: int
    name: str | None
    uuid: str | None
    memory_total_bytes: int | None
    power_limit_w: float | None
    temp_limit_c: float | None


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """One process NVML lists on a GPU; ``used_memory_bytes`` is None where the driver cannot tell."""

    pid: int
    kind: str  # "compute" or "graphics"
    used_memory_bytes: int | None


class NvmlBackend(Protocol):
    """What the GPU collector needs from NVML (real: `PynvmlBackend`; tests: `FakeNvml`).

    Every method may raise `NvmlUnavailable`; device methods may raise `GpuLost`;
    `read_field` may raise `FieldNotSupported` or `NvmlError`.
    """

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def driver_version(self) -> str | None: ...
    def device_count(self) -> int: ...
    def device_info(self, index: int) -> DeviceInfo: ...

    def begin_tick(self, index: int) -> None:
        """Start one sampling round of GPU `index`: its readings that share an NVML call may share
        it until its next round (other GPUs' rounds are their own)."""

    def read_field(self, index: int, field: str) -> Value:
        """One reading of `field` (a name of `FIELDS`) of the GPU with NVML index `index`."""

    def processes(self, index: int) -> list[GpuProcess]:
        """The compute and graphics processes on the GPU (a pid in both is listed once, as compute); raises
        FieldNotSupported where the driver gives neither list (too old, or no permission)."""

    def process_utilization(self, index: int) -> dict[int, tuple[float | None, float | None]]:
        """pid -> (SM %, memory %) over the samples since the last call; raises FieldNotSupported
        where the driver has no per-process utilization."""

    def gpm_sample(self, index: int) -> dict[str, float | None] | None:
        """Take a GPM sample of GPU `index`: `GPM_FIELDS` -> its mean since the previous call (None
        for a metric the GPU lacks), or None on the first call.  Raises FieldNotSupported where the
        GPU or driver has no GPM (pre-Hopper, MIG, an older driver)."""


# NVML return codes (nvml.h; part of its ABI, the same in every release).
_UNSUPPORTED = frozenset({3, 4, 13, 26})  # NOT_SUPPORTED, NO_PERMISSION, FUNCTION_NOT_FOUND, DEPRECATED
_NO_FUNCTION = frozenset({13, 25, 26})  # FUNCTION_NOT_FOUND, ARGUMENT_VERSION_MISMATCH, DEPRECATED
_LOST = frozenset({15, 16, 28})  # GPU_IS_LOST, RESET_REQUIRED, GPU_NOT_FOUND
_NO_DEVICE = _LOST | {2, 6}  # and, from a handle lookup, INVALID_ARGUMENT, NOT_FOUND
_UNAVAILABLE = frozenset({1, 9, 12, 18})  # UNINITIALIZED, DRIVER_NOT_LOADED, LIBRARY_NOT_FOUND, LIB_RM_VERSION_MISMATCH
_PSTATE_UNKNOWN = 32
_NOT_FOUND = 6  # nvmlDeviceGetProcessUtilization: no sample since the time asked for


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    try:
        return _text(exc) or type(exc).__name__
    except Exception:  # noqa: BLE001 (str() of an NVMLError may itself call into NVML)
        return f"NVML error {getattr(exc, 'value', '?')}"


def _translate(exc: BaseException) -> NvmlError:
    """One of this module's exception types for a pynvml error."""
    value, text = getattr(exc, "value", None), _describe(exc)
    if value in _UNSUPPORTED:
        return FieldNotSupported(text)
    if value in _LOST:
        return GpuLost(text)
    if value in _UNAVAILABLE:
        return NvmlUnavailable(text)
    return NvmlError(text)


Reader = Callable[[Any, dict[str, Any]], Value]


def _first_available(nv: Any, *calls: Callable[..., Any] | None) -> Callable[..., Any]:
    """Call the first of `calls` the driver has; drop one for good when it says it lacks it."""
    chain = [c for c in calls if c is not None]

    def call(*args: Any) -> Any:
        while chain:
            first = chain[0]
            try:
                return first(*args)
            except nv.NVMLError as exc:
                if len(chain) > 1 and getattr(exc, "value", None) in _NO_FUNCTION:
                    if chain and chain[0] is first:  # another thread may have dropped it already
                        del chain[0]
                    continue
                raise
        raise FieldNotSupported("this pynvml has no function for it")

    return call


def _build_readers(nv: Any) -> dict[str, Reader]:
    """One reader per field: (handle, per-tick cache of this device) -> value in schema units."""

    sensor, slowdown = nv.NVML_TEMPERATURE_GPU, nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
    clock_sm, clock_mem = nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM
    policy_power, policy_thermal = nv.NVML_PERF_POLICY_POWER, nv.NVML_PERF_POLICY_THERMAL
    get_violation, get_clock = nv.nvmlDeviceGetViolationStatus, nv.nvmlDeviceGetClockInfo
    # Older pynvml releases lack the newer calls (getattr gives None), newer drivers may drop
    # the deprecated ones: the plain temperature call works on every current driver.
    old_temp, new_temp = getattr(nv, "nvmlDeviceGetTemperature", None), getattr(nv, "nvmlDeviceGetTemperatureV", None)
    temperature = _first_available(
        nv, old_temp and (lambda h: old_temp(h, sensor)), new_temp and (lambda h: new_temp(h, sensor)))
    throttle = _first_available(nv, getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None),
                                getattr(nv, "nvmlDeviceGetCurrentClocksThrottleReasons", None))

    def util(h: Any, cache: dict[str, Any]) -> Any:
        if "util" not in cache:
            cache["util"] = nv.nvmlDeviceGetUtilizationRates(h)
        return cache["util"]

    def memory(h: Any, cache: dict[str, Any]) -> Any:
        if "mem" not in cache:
            cache["mem"] = nv.nvmlDeviceGetMemoryInfo(h)
        return cache["mem"]

    def temp_limit(h: Any, cache: dict[str, Any]) -> float:
        return float(nv.nvmlDeviceGetTemperatureThreshold(h, slowdown))

    def pstate(h: Any, cache: dict[str, Any]) -> int | None:
        state = int(nv.nvmlDeviceGetPerformanceState(h))
        return None if state == _PSTATE_UNKNOWN else state

    return {
        "util_pct": lambda h, c: float(util(h, c).gpu),
        "mem_util_pct": lambda h, c: float(util(h, c).memory),
        "mem_used_bytes": lambda h, c: int(memory(h, c).used),
        "mem_total_bytes": lambda h, c: int(memory(h, c).total),
        "temp_c": lambda h, c: float(temperature(h)),
        "temp_limit_c": temp_limit,
        "power_w": lambda h, c: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "power_limit_w": lambda h, c: nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0,
        "energy_j": lambda h, c: nv.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0,
        "clock_sm_mhz": lambda h, c: float(get_clock(h, clock_sm)),
        "clock_mem_mhz": lambda h, c: float(get_clock(h, clock_mem)),
        "fan_pct": lambda h, c: float(nv.nvmlDeviceGetFanSpeed(h)),
        "pstate": pstate,
        "throttle_reasons": lambda h, c: int(throttle(h)),
        "violation_power_s": lambda h, c: get_violation(h, policy_power).violationTime / 1e9,
        "violation_thermal_s": lambda h, c: get_violation(h, policy_thermal).violationTime / 1e9,
    }


_GPM_CALLS = ("nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleGet", "nvmlGpmMetricsGet",
              "nvmlGpmSampleFree", "c_nvmlGpmMetricsGet_t")  # an older pynvml lacks them


class _Gpm:
    """One GPU's two GPM sample buffers and its metrics request, allocated once and reused: each
    sample goes into the older buffer, and the metrics are taken from the other one to it."""

    def __init__(self, nv: Any) -> None:
        self.samples: list[Any] = []
        try:
            for _ in range(2):
                self.samples.append(nv.nvmlGpmSampleAlloc())
        except nv.NVMLError:
            self.free(nv)  # the first buffer, when the second could not be had
            raise
        self.taken = 0
        request = nv.c_nvmlGpmMetricsGet_t()
        request.version = nv.NVML_GPM_METRICS_GET_VERSION
        request.numMetrics = len(GPM_METRICS)
        for i, (name, _) in enumerate(GPM_METRICS.values()):
            request.metrics[i].metricId = getattr(nv, name)
        self.request = request

    def sample(self, nv: Any, handle: Any) -> dict[str, float | None] | None:
        newer, older = self.samples[self.taken % 2], self.samples[(self.taken + 1) % 2]
        nv.nvmlGpmSampleGet(handle, newer)
        self.taken += 1
        if self.taken < 2:
            return None
        request = self.request
        request.sample1, request.sample2 = older, newer
        nv.nvmlGpmMetricsGet(request)
        return {field: request.metrics[i].value * factor if request.metrics[i].nvmlReturn == 0 else None
                for i, (field, (_, factor)) in enumerate(GPM_METRICS.items())}

    def free(self, nv: Any) -> None:
        for sample in self.samples:
            try:
                nv.nvmlGpmSampleFree(sample)
            except nv.NVMLError:
                pass
        self.samples.clear()


class PynvmlBackend:
    """`NvmlBackend` over the real ``pynvml`` (nvidia-ml-py).  Initialises lazily, once, under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nv: Any = None
        self._readers: dict[str, Reader] = {}
        self._handles: dict[int, Any] = {}
        self._caches: dict[int, dict[str, Any]] = {}
        self._temp_limits: dict[int, float] = {}
        self._util_seen: dict[int, int] = {}  # per device: the newest process-utilization sample, µs
        self._gpm: dict[int, _Gpm] = {}

    def init(self) -> None:
        with self._lock:
            if self._nv is not None:
                return
            try:
                import pynvml as nv
            except ImportError as exc:
                raise NvmlUnavailable(f"pynvml not installed: {exc}") from None
            try:
                nv.nvmlInit()
            except nv.NVMLError as exc:
                raise NvmlUnavailable(_describe(exc)) from None
            except OSError as exc:
                raise NvmlUnavailable(str(exc)) from None
            self._readers = _build_readers(nv)
            self._nv = nv

    def shutdown(self) -> None:
        with self._lock:
            nv, self._nv = self._nv, None
            self._handles.clear()
            self._caches.clear()
            gpms, self._gpm = list(self._gpm.values()), {}
            if nv is not None:
                for gpm in gpms:
                    gpm.free(nv)
                try:
                    nv.nvmlShutdown()
                except nv.NVMLError:
                    pass

    def _module(self) -> Any:
        if self._nv is None:
            self.init()
        return self._nv

    def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        nv = self._module()
        try:
            return func(nv, *args)
        except nv.NVMLError as exc:
            raise _translate(exc) from None
        except getattr(nv, "NVMLLibraryMismatchError", ()):  # not an NVMLError: the library lacks this call
            raise FieldNotSupported("the NVML library lacks this call (older driver)") from None

    def driver_version(self) -> str | None:
        try:
            return _text(self._call(lambda nv: nv.nvmlSystemGetDriverVersion()))
        except NvmlUnavailable:
            raise
        except NvmlError:
            return None

    def device_count(self) -> int:
        return int(self._call(lambda nv: nv.nvmlDeviceGetCount()))

    def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            nv = self._module()
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
            except nv.NVMLError as exc:
                if getattr(exc, "value", None) in _NO_DEVICE:
                    raise GpuLost(f"no device {index}: {_describe(exc)}") from None
                raise _translate(exc) from None
            self._caches[index] = {}  # before the handle: a handle always has its cache
            self._handles[index] = handle
        return handle

    def device_info(self, index: int) -> DeviceInfo:
        handle = self._handle(index)

        def get(func: Callable[..., Any]) -> Any:
            try:
                return self._call(func, handle)
            except (GpuLost, NvmlUnavailable):
                raise
            except NvmlError:
                return None
            except UnicodeDecodeError as exc:  # pynvml decodes strictly: a name that is not UTF-8
                return exc.object

        name, uuid = get(lambda nv, h: nv.nvmlDeviceGetName(h)), get(lambda nv, h: nv.nvmlDeviceGetUUID(h))
        memory = get(lambda nv, h: nv.nvmlDeviceGetMemoryInfo(h))
        power = get(lambda nv, h: nv.nvmlDeviceGetEnforcedPowerLimit(h))
        temp = get(lambda nv, h: nv.nvmlDeviceGetTemperatureThreshold(h, nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN))
        return DeviceInfo(
            index=index,
            name=None if name is None else _text(name),
            uuid=None if uuid is None else _text(uuid),
            memory_total_bytes=None if memory is None else int(memory.total),
            power_limit_w=None if power is None else power / 1000.0,
            temp_limit_c=None if temp is None else float(temp),
        )

    def begin_tick(self, index: int) -> None:
        cache = self._caches.get(index)
        if cache is not None:
            cache.clear()

    def read_field(self, index: int, field: str) -> Value:
        if field == "temp_limit_c" and index in self._temp_limits:
            return self._temp_limits[index]  # a fixed threshold: one NVML call per session
        nv = self._nv or self._module()
        handle = self._handles.get(index) or self._handle(index)
        reader = self._readers.get(field)
        if reader is None:
            raise FieldNotSupported(f"unknown field {field!r}")
        try:
            value = reader(handle, self._caches[index])
        except nv.NVMLError as exc:
            raise _translate(exc) from None
        if field == "temp_limit_c":
            self._temp_limits[index] = value  # type: ignore[assignment]
        return value

    def processes(self, index: int) -> list[GpuProcess]:
        handle = self._handles.get(index) or self._handle(index)
        found: dict[int, GpuProcess] = {}
        unsupported: list[FieldNotSupported] = []
        for kind, name in (("compute", "nvmlDeviceGetComputeRunningProcesses"),
                           ("graphics", "nvmlDeviceGetGraphicsRunningProcesses")):
            try:
                listed = self._call(lambda nv, h, name=name: getattr(nv, name)(h), handle)
            except FieldNotSupported as exc:
                unsupported.append(exc)
                continue
            for proc in listed:
                pid, used = int(proc.pid), getattr(proc, "usedGpuMemory", None)
                if pid not in found:
                    found[pid] = GpuProcess(pid, kind, None if used is None else int(used))
        if len(unsupported) == 2:  # neither list: an empty one would say no process uses the GPU
            raise unsupported[0]
        return list(found.values())

    def process_utilization(self, index: int) -> dict[int, tuple[float | None, float | None]]:
        nv = self._module()
        handle = self._handles.get(index) or self._handle(index)
        since = self._util_seen.get(index, 0)
        try:
            samples = nv.nvmlDeviceGetProcessUtilization(handle, since)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) == _NOT_FOUND:
                return {}  # no process ran on it since the last call
            raise _translate(exc) from None
        except AttributeError:
            raise FieldNotSupported("this pynvml has no nvmlDeviceGetProcessUtilization") from None
        latest: dict[int, Any] = {}
        for sample in samples:
            if sample.pid not in latest or sample.timeStamp >= latest[sample.pid].timeStamp:
                latest[int(sample.pid)] = sample
            self._util_seen[index] = max(self._util_seen.get(index, 0), int(sample.timeStamp))
        return {pid: (float(s.smUtil), float(s.memUtil)) for pid, s in latest.items()}

    def gpm_sample(self, index: int) -> dict[str, float | None] | None:
        handle = self._handles.get(index) or self._handle(index)
        gpm = self._gpm.get(index)
        if gpm is None:
            if not all(hasattr(self._module(), name) for name in _GPM_CALLS):
                raise FieldNotSupported("this pynvml has no GPM calls")
            if not self._call(lambda nv: nv.nvmlGpmQueryDeviceSupport(handle)).isSupportedDevice:
                raise FieldNotSupported("this GPU has no GPM")
            gpm = self._gpm[index] = self._call(_Gpm)
        return self._call(gpm.sample, handle)
