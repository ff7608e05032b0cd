"""The NVIDIA GPU collector: per-GPU columns of the session schema, read through an `NvmlBackend`.

`open_gpu_collector` is the entry point: it picks the GPUs (``--gpus`` or
``CUDA_VISIBLE_DEVICES``) and returns ``(None, reason)`` instead of raising
when there is no NVML library, no driver or no GPU, so the caller records CPU
only.  A field a GPU does not support is null for the whole session and not
asked again; a lost GPU gives nulls from then on; each is reported once.

GPM (SM activity, tensor activity, DRAM bandwidth, ...; `NvmlBackend.gpm_sample`) is read on its
own period (`gpm_interval_s`, ``--gpm-interval``), not every tick: each reading is the mean over the
last GPM interval and is held in the rows until the next one.  A GPU without GPM has these columns
null for the session, told once; they are never derived from utilization.

Threads: each GPU is a `GpuDevice`, which holds all of that GPU's state
(fields found unsupported, lost or not, its sampling round in the backend).
`GpuCollector.read` reads them one after the other in the caller's thread.
`GpuCollector.threaded` reads them so in a background thread
(`collectors.background`); when one GPU's NVML call hangs, that thread stays
with it and a new one reads the other GPUs, so they keep sampling on time
while only the hung GPU's columns go stale, then null.  The only state the
GPUs share is which failing fields were told already (behind a lock).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from collectors.background import BackgroundGroup
from collectors.base import Collector, Reading
from collectors.clock import Clock
from collectors.energy import CounterWatch
from collectors.nvml import (
    FIELDS,
    GPM_FIELDS,
    DeviceInfo,
    FieldNotSupported,
    GpuLost,
    NvmlBackend,
    NvmlError,
    NvmlUnavailable,
    PynvmlBackend,
)
from collectors.schema import GPM_COLUMN_TEMPLATE, GPU_COLUMN_TEMPLATE, column, gpu_prefix

CPU_ONLY = "recording CPU only"
_DUE_SLACK_S = 1e-6  # a tick whose time rounds a hair below the GPM due time still takes its sample


class _ToldFields:
    """Fields whose unexpected failure was reported: once per field over all GPUs, from any thread."""

    def __init__(self) -> None:
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def first(self, field: str) -> bool:
        with self._lock:
            if field in self._told:
                return False
            self._told.add(field)
            return True


class GpuDevice(Collector):
    """The columns of one GPU; its NVML calls run in the thread that calls `read`."""

    name = "nvml"

    def __init__(self, backend: NvmlBackend, index: int, told: _ToldFields,
                 gpm_interval_s: float | None = None) -> None:
        super().__init__()
        self._backend = backend
        self._told = told
        self.index = index
        self.prefix = gpu_prefix(index)
        # (column, field) pairs; `_active` drops the fields found unsupported.
        self._columns = tuple((name.format(p=self.prefix), f) for name, f in zip(GPU_COLUMN_TEMPLATE, FIELDS))
        self._active = self._columns
        # GPM columns (none when GPM is off), their latest reading, and when the next one is due.
        self._gpm_columns = () if gpm_interval_s is None else tuple(
            (name.format(p=self.prefix), f) for name, f in zip(GPM_COLUMN_TEMPLATE, GPM_FIELDS))
        self.gpm_interval_s = gpm_interval_s
        self._gpm_due: float | None = None
        self._gpm_on = bool(self._gpm_columns)
        self._nulls: Reading = {column: None for column, _ in (*self._columns, *self._gpm_columns)}
        self._gpm_held: Reading = {column: None for column, _ in self._gpm_columns}
        self._energy_watch: CounterWatch | None = CounterWatch()  # None once it is known to advance or not
        self._energy_column = column(self.prefix, "energy_j")
        self._energy_last: float | None = None  # the latest energy counter reading
        self._energy_went_back = False
        self.lost = False

    def static_info(self) -> DeviceInfo:
        try:
            return self._backend.device_info(self.index)
        except (GpuLost, NvmlUnavailable) as exc:
            self._lose(exc)
        except FieldNotSupported as exc:  # no handle at all: a GPU outside this job's cgroup (NO_PERMISSION)
            self.lost = True
            self.notice(f"{self.prefix} not readable ({exc}): null for this session")
        except NvmlError as exc:
            self.notice(f"{self.prefix} static info unavailable: {exc}")
        return DeviceInfo(self.index, None, None, None, None, None)

    def read(self, elapsed_s: float) -> Reading:
        row = self._nulls.copy()
        if self.lost:
            return row
        index = self.index
        self._backend.begin_tick(index)
        read_field = self._backend.read_field
        for name, field in self._active:
            try:
                row[name] = read_field(index, field)
            except FieldNotSupported as exc:
                self._active = tuple(pair for pair in self._active if pair[1] != field)
                self.notice(f"{self.prefix} {field} not supported ({exc}): null for this session")
            except (GpuLost, NvmlUnavailable) as exc:
                self._lose(exc)
                return self._nulls.copy()
            except Exception as exc:  # noqa: BLE001  one bad reading must not stop the others
                if self._told.first(field):
                    self.notice(f"reading {field} failed ({type(exc).__name__}: {exc}): null for that tick")
        if self._energy_watch is not None:
            self._watch_energy(elapsed_s, row)
        self._check_energy_back(row[self._energy_column])
        if self._gpm_on:
            if self._gpm_due is None or elapsed_s >= self._gpm_due - _DUE_SLACK_S:
                self._read_gpm(elapsed_s)
            if self.lost:
                return self._nulls.copy()
            row.update(self._gpm_held)
        return row

    def _watch_energy(self, elapsed_s: float, row: Reading) -> None:
        """Tell once when the energy counter does not advance under load (the energy then comes from power)."""
        p = self.prefix
        advances = self._energy_watch.add(elapsed_s, row[column(p, "energy_j")], row[column(p, "power_w")])  # type: ignore[union-attr]
        if advances is not None:
            self._energy_watch = None
            if not advances:
                self.notice(f"{p} energy counter does not advance under load: energy from integrated power")

    def _check_energy_back(self, energy: Any) -> None:
        """Tell once when the energy counter goes back (a driver reload resets it): the session's energy then
        comes from integrated power (`collectors.energy`), and the user should know why."""
        if energy is None or self._energy_went_back:
            return
        if self._energy_last is not None and energy < self._energy_last:
            self._energy_went_back = True
            self.notice(f"{self.prefix} energy counter went back ({self._energy_last:.0f} J to {energy:.0f} J, a reset): "
                        "energy from integrated power")
        self._energy_last = energy

    def start_gpm(self) -> bool | None:
        """Take the first GPM sample now (it finds out whether the GPU has GPM); the next one is due
        one interval after elapsed time 0.  None: GPM is off, or the GPU was lost before it could tell."""
        if not self._gpm_columns:
            return None
        if not self.lost:
            self._gpm_due = 0.0
            self._read_gpm(0.0)
        return None if self.lost else self._gpm_on

    def _read_gpm(self, elapsed_s: float) -> None:
        """Take a GPM sample: the held GPM columns become the means since the previous one."""
        interval = self.gpm_interval_s or 0.0
        due = elapsed_s if self._gpm_due is None else self._gpm_due
        self._gpm_due = due + interval if due + interval > elapsed_s else elapsed_s + interval
        try:
            values = self._backend.gpm_sample(self.index)
        except FieldNotSupported as exc:
            self._gpm_on = False
            self._gpm_held = dict.fromkeys(self._gpm_held)
            self.notice(f"{self.prefix} GPM not supported ({exc}): SM, tensor and DRAM activity null for this session")
            return
        except (GpuLost, NvmlUnavailable) as exc:
            self._lose(exc)
            return
        except Exception as exc:  # noqa: BLE001  unknown for this interval; the next one may work
            self._gpm_held = dict.fromkeys(self._gpm_held)
            if self._told.first("gpm"):
                self.notice(f"reading GPM failed ({type(exc).__name__}: {exc}): null for that interval")
            return
        if values is not None:
            self._gpm_held = {column: values.get(field) for column, field in self._gpm_columns}

    def _lose(self, exc: Exception) -> None:
        """The GPU gives nulls from now on: it fell off the bus, or the driver went away under rigscope."""
        self.lost = True
        self.notice(f"{self.prefix} lost: {f'NVML unavailable ({exc})' if isinstance(exc, NvmlUnavailable) else exc}")


class GpuCollector(Collector):
    """Reads every per-GPU column for the selected GPUs, keyed by their NVML index."""

    name = "nvml"

    def __init__(self, backend: NvmlBackend, indices: Sequence[int], gpm_interval_s: float | None = None) -> None:
        """`gpm_interval_s`: seconds between GPM samples; None: no GPM columns."""
        super().__init__()
        self._backend = backend
        self.indices: tuple[int, ...] = tuple(indices)
        told = _ToldFields()
        self.devices = tuple(GpuDevice(backend, i, told, gpm_interval_s) for i in self.indices)
        self._closed = False
        try:
            self._driver_version = backend.driver_version()
        except NvmlError:
            self._driver_version = None
        self._infos = [d.static_info() for d in self.devices]
        self._gpm = [d.start_gpm() for d in self.devices]
        self._gpm_asked = gpm_interval_s is not None

    @property
    def backend(self) -> NvmlBackend:
        """The NVML backend it reads (the process tier lists processes through the same one)."""
        return self._backend

    def info(self) -> dict[str, Any]:
        driver = self._driver_version
        gpus = [{"index": i.index, "name": i.name, "uuid": i.uuid, "memory_total_bytes": i.memory_total_bytes,
                 "power_limit_w": i.power_limit_w, "temp_limit_c": i.temp_limit_c, "driver_version": driver,
                 **({"gpm": gpm} if self._gpm_asked else {})}  # GPM on: whether the GPU has it (null: lost first)
                for i, gpm in zip(self._infos, self._gpm)]
        return {"driver_version": driver, "gpus": gpus}

    def read(self, elapsed_s: float) -> Reading:
        row: Reading = {}
        for device in self.devices:
            row.update(device.read(elapsed_s))
        return row

    def drain_notices(self) -> list[str]:
        return [notice for device in self.devices for notice in device.drain_notices()]

    def threaded(self, hz: float, stale_after_s: float | None = None, clock: Clock | None = None,
                 takeover_after_s: float | None = None) -> BackgroundGroup:
        """This collector read in a background thread, GPU by GPU, a hung GPU left to its own thread;
        closing that closes this one."""
        return BackgroundGroup(self, {d.prefix: d for d in self.devices}, hz, stale_after_s, clock, takeover_after_s)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._backend.shutdown()
            except NvmlError:
                pass


def _count_text(count: int) -> str:
    if count == 0:
        return "no GPU"
    return "1 GPU: index 0" if count == 1 else f"{count} GPUs: indices 0-{count - 1}"


def _match_uuid(entry: str, uuids: Sequence[str]) -> list[int]:
    """Indices whose UUID starts with `entry` (CUDA accepts any unambiguous prefix)."""
    prefix = entry.lower()
    return [i for i, uuid in enumerate(uuids) if uuid and uuid.lower().startswith(prefix)]


def _from_flag(count: int, uuids: Sequence[str], flag: str) -> list[int]:
    if flag.strip().lower() in ("", "none"):
        return []
    chosen: set[int] = set()
    for raw in flag.split(","):
        entry = raw.strip()
        if entry.isdigit():
            index = int(entry)
            if index >= count:
                raise ValueError(f"--gpus {flag}: there is no GPU {index} (this machine has {_count_text(count)})")
        elif entry.upper().startswith("GPU-"):
            matches = _match_uuid(entry, uuids)
            if len(matches) != 1:
                what = "no GPU has" if not matches else "several GPUs have"
                raise ValueError(f"--gpus {flag}: {what} a UUID starting with {entry}")
            index = matches[0]
        else:
            raise ValueError(f"--gpus {flag}: {entry!r} is neither a GPU index nor a GPU-... UUID")
        chosen.add(index)
    return sorted(chosen)


def _from_cuda_env(count: int, uuids: Sequence[str], value: str) -> list[int]:
    """CUDA's reading: the list stops at the first invalid entry (``-1``, an unknown index or UUID,
    a mix of indices and UUIDs); a repeated device makes it select none."""
    chosen: list[int] = []
    kind = None
    for raw in value.split(","):
        entry = raw.strip()
        digits = entry[: len(entry) - len(entry.lstrip("0123456789"))]  # CUDA reads "1abc" as 1
        if digits:
            this_kind, index = "index", int(digits)
            if index >= count:
                break
        elif entry.upper().startswith("GPU-"):
            matches = _match_uuid(entry, uuids)
            if len(matches) != 1:
                break
            this_kind, index = "uuid", matches[0]
        else:
            break
        if kind not in (None, this_kind):
            break
        kind = this_kind
        if index in chosen:
            return []
        chosen.append(index)
    return sorted(chosen)


def select_gpu_indices(count: int, uuids: list[str], cuda_visible_devices: str | None,
                       gpus_flag: str | None) -> list[int]:
    """NVML indices to record, sorted.  ``--gpus`` (indices or UUIDs) wins over ``CUDA_VISIBLE_DEVICES``.

    CUDA_VISIBLE_DEVICES indices are taken as NVML (PCI bus) order, i.e. as with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; UUIDs select the same GPU either way.
    Raises ValueError, one line, for a ``--gpus`` entry that names no GPU.
    """
    if gpus_flag is not None:
        return _from_flag(count, uuids, gpus_flag)
    if cuda_visible_devices is None:
        return list(range(count))
    return _from_cuda_env(count, uuids, cuda_visible_devices)


def open_gpu_collector(backend: NvmlBackend | None = None, gpus_flag: str | None = None,
                       environ: Mapping[str, str] = os.environ,
                       gpm_interval_s: float | None = None) -> tuple[GpuCollector | None, str | None]:
    """(collector, None) when GPUs are there to read, else (None, reason to show); never raises for
    a missing library, driver or GPU.  A bad ``--gpus`` raises ValueError (a usage error)."""
    backend = PynvmlBackend() if backend is None else backend
    try:
        backend.init()
        count = backend.device_count()
        uuids = [_uuid(backend, i) for i in range(count)]
    except NvmlError as exc:  # NvmlUnavailable above all; any failure here means no usable NVML
        _shutdown(backend)
        return None, f"NVML not available ({exc}): {CPU_ONLY}"
    if count == 0:
        _shutdown(backend)
        return None, f"NVML not available (no NVIDIA GPU found): {CPU_ONLY}"
    cuda = environ.get("CUDA_VISIBLE_DEVICES")
    try:
        indices = select_gpu_indices(count, uuids, cuda, gpus_flag)
    except ValueError:
        _shutdown(backend)
        raise
    if not indices:
        _shutdown(backend)
        why = f"--gpus {gpus_flag}" if gpus_flag is not None else f"CUDA_VISIBLE_DEVICES={cuda!r}"
        return None, f"no GPU selected ({why}): {CPU_ONLY}"
    return GpuCollector(backend, indices, gpm_interval_s), None


NVML_ANSWER_S = 60.0  # an 8-GPU box without persistence mode can take tens of seconds to open
NVML_PATIENCE_S = 3.0  # then the user is told what is being waited for
_gave_up = threading.Event()  # NVML did not answer once in this process: later openings go on without it at once


def open_gpu_collector_within(waiting: Callable[[str], None], timeout_s: float | None = None,
                              **kwargs: Any) -> tuple[GpuCollector | None, str | None]:
    """`open_gpu_collector(**kwargs)` given up after `timeout_s` (default NVML_ANSWER_S): a wedged driver (an Xid
    error, a GPU off the bus) hangs every NVML call, and rigscope would never start.  After NVML_PATIENCE_S
    `waiting` is told what is awaited; at the end the GPUs are left out (CPU only), said why, and so they are at once
    for every later opening in this process (a new recording, a repeat).  A collector the driver gives after that is
    closed, never used."""
    if _gave_up.is_set():
        return None, f"NVML did not answer earlier in this process (a hung driver): {CPU_ONLY}"
    timeout_s = NVML_ANSWER_S if timeout_s is None else timeout_s
    outcome: list[tuple[GpuCollector | None, str | None]] = []
    failure: list[BaseException] = []
    abandoned = threading.Event()
    lock = threading.Lock()  # the opening's outcome and the caller's giving up, one before the other

    def open_it() -> None:
        try:
            opened = open_gpu_collector(**kwargs)
        except BaseException as error:  # noqa: BLE001 (a bad --gpus: raised again in the caller's thread)
            failure.append(error)
            return
        with lock:
            if not abandoned.is_set():
                outcome.append(opened)
                return
        if opened[0] is not None:
            opened[0].close()  # too late: the session went on without it

    thread = threading.Thread(target=open_it, name="rigscope-nvml-open", daemon=True)
    thread.start()
    thread.join(min(NVML_PATIENCE_S, timeout_s))
    if thread.is_alive():
        waiting(f"waiting for the NVIDIA driver to answer (NVML); CPU only after {timeout_s:.0f} s")
        thread.join(max(0.0, timeout_s - NVML_PATIENCE_S))
    with lock:
        if not outcome and not failure:
            abandoned.set()
            _gave_up.set()
            return None, (f"NVML did not answer in {timeout_s:.0f} s (a hung driver: nvidia-smi would hang too): "
                          f"{CPU_ONLY}")
    if failure:
        raise failure[0]
    return outcome[0]


def _uuid(backend: NvmlBackend, index: int) -> str:
    try:
        return backend.device_info(index).uuid or ""
    except NvmlUnavailable:
        raise
    except NvmlError:  # lost, or not ours to read: it cannot be picked by UUID, and says why when read
        return ""


def _shutdown(backend: NvmlBackend) -> None:
    try:
        backend.shutdown()
    except NvmlError:
        pass

