"""Who uses the GPUs: one row per process per slow tick, from NVML (the GPU side) and psutil (the host side).

`ProcessCollector.rows(ts_us)` lists, for every selected GPU, the compute and
graphics processes NVML reports (pid, GPU memory, SM and memory utilization
where the driver has them), joined with what psutil knows about the pid here:
user, shortened command line, CPU %, RSS, running time, and the container or
job from its cgroup.  A pid NVML reports that does not exist in this pid
namespace (rigscope in a container) is kept, with ``visible`` false and its GPU
memory: never dropped.  With ``top > 0`` the busiest host processes by CPU are
added (``kind`` "host", no GPU).  Unknown values are None.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from collectors.base import Collector
from collectors.cgroups import read_container
from collectors.nvml import FieldNotSupported, GpuLost, NvmlBackend, NvmlError
from collectors.process_rows import Row, empty_row
from collectors.schema import gpu_prefix

COMMAND_MAX = 160
NOT_VISIBLE = "not visible from this namespace"


def short_command(cmdline: Sequence[str], name: str | None = None) -> str | None:
    """`/usr/bin/python3 train.py --lr 3` -> `python3 train.py --lr 3`, at most COMMAND_MAX characters."""
    if not cmdline:
        return name
    text = " ".join([os.path.basename(cmdline[0]), *cmdline[1:]])
    return text if len(text) <= COMMAND_MAX else text[: COMMAND_MAX - 1] + "…"


class HostSide:
    """psutil facts of pids, keeping one `psutil.Process` per pid so CPU % is measured between ticks.

    What does not change while a process lives (user, command line, container) is read once per pid;
    a tick then costs two small reads of /proc per process (CPU times and memory).
    """

    def __init__(self, proc_root: Path = Path("/proc")) -> None:
        self._known: dict[int, psutil.Process] = {}
        self._static: dict[int, tuple[str | None, str | None, str | None]] = {}  # user, command, container
        self.proc_root = proc_root

    def fill(self, row: Row) -> None:
        """Set the host columns of `row` (``visible`` False when the pid is not in this namespace)."""
        pid = row["pid"]
        process = self._known.get(pid)
        first = process is None
        try:
            if process is None:
                process = psutil.Process(pid)
            with process.oneshot():
                cpu = process.cpu_percent(None)  # since the last call; the first call has nothing to compare
                row["visible"] = True
                row["rss_bytes"] = process.memory_info().rss
                row["running_s"] = max(0.0, time.time() - process.create_time())
                row["cpu_pct"] = None if first else cpu
                static = self._static.get(pid)
                if static is None:
                    command = short_command(_or_none(process.cmdline) or [], _or_none(process.name))
                    static = (_or_none(process.username), command, read_container(pid, self.proc_root))
                    self._static[pid] = static
                row["user"], row["command"], row["container"] = static
        except psutil.NoSuchProcess:
            self._forget(pid)
            row["visible"] = False
            return
        except psutil.AccessDenied:
            row["visible"] = True  # it exists, but is not ours to read
        self._known[pid] = process

    def _forget(self, pid: int) -> None:
        self._known.pop(pid, None)
        self._static.pop(pid, None)

    def forget_except(self, pids: set[int]) -> None:
        for pid in [p for p in self._known if p not in pids]:
            self._forget(pid)


def _or_none(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None


class ProcessCollector(Collector):
    """The slow tier's reading: GPU processes of `indices` through `backend`, and optionally the top CPU users."""

    name = "processes"

    def __init__(self, backend: NvmlBackend | None, indices: Sequence[int], top: int = 0,
                 host: HostSide | None = None) -> None:
        super().__init__()
        self._backend = backend
        self.indices = tuple(indices) if backend is not None else ()
        self.top = top
        self._host = host or HostSide()
        self._no_util: set[int] = set()
        self._lost: set[int] = set()
        self._last_cpu: tuple[float | None, dict[int, int]] = (None, {})  # for the top CPU users

    def rows(self, ts_us: int, frame: dict[str, Any] | None = None) -> list[Row]:
        """This tick's rows, stamped `ts_us` (`frame` is the tick's sample; the real machine needs none)."""
        rows = self._gpu_rows(ts_us)
        for row in rows:
            self._host.fill(row)
        if self.top > 0:
            rows += self._top_cpu(ts_us, {row["pid"] for row in rows})
        self._host.forget_except({row["pid"] for row in rows})
        return rows

    def _gpu_rows(self, ts_us: int) -> list[Row]:
        rows: list[Row] = []
        assert self._backend is not None or not self.indices
        for index in self.indices:
            if index in self._lost:
                continue
            try:
                listed = self._backend.processes(index)  # type: ignore[union-attr]
                util = self._utilization(index)
            except GpuLost as exc:
                self._lost.add(index)
                self.notice(f"{gpu_prefix(index)} lost ({exc}): its processes are no longer listed")
                continue
            except FieldNotSupported as exc:  # the driver gives neither list (too old, no permission): for good
                self._lost.add(index)
                self.notice(f"{gpu_prefix(index)} processes not listed ({exc}): not for this session")
                continue
            except NvmlError as exc:
                self.notice(f"{gpu_prefix(index)} process list failed ({exc}); tried again next tick")
                continue
            for proc in listed:
                row = empty_row(ts_us, proc.pid, proc.kind, index)
                row["gpu_mem_bytes"] = proc.used_memory_bytes
                row["sm_pct"], row["mem_pct"] = util.get(proc.pid, (None, None)) if util is not None else (None, None)
                rows.append(row)
        return rows

    def _utilization(self, index: int) -> dict[int, tuple[float | None, float | None]] | None:
        if index in self._no_util:
            return None
        try:
            return self._backend.process_utilization(index)  # type: ignore[union-attr]
        except FieldNotSupported as exc:
            self._no_util.add(index)
            self.notice(f"{gpu_prefix(index)} per-process utilization not supported ({exc}): SM % is null")
            return None

    def _top_cpu(self, ts_us: int, listed: set[int]) -> list[Row]:
        """The `top` busiest other host processes by CPU % (100 = one core) since the last tick."""
        now, times = time.monotonic(), cpu_ticks(self._host.proc_root)
        last_at, last = self._last_cpu
        self._last_cpu = (now, times)
        if last_at is None:
            return []  # the first pass only sets the baselines
        scale = 100.0 / (CLOCK_TICKS * max(now - last_at, 1e-6))
        busy = sorted(((used - last[pid]) * scale, pid) for pid, used in times.items()
                      if pid in last and pid not in listed)
        rows = []
        for cpu, pid in reversed(busy[-self.top:]):
            row = empty_row(ts_us, pid, "host")
            self._host.fill(row)
            if row["visible"]:
                row["cpu_pct"] = cpu
                rows.append(row)
        return rows


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ticks(proc_root: Path) -> dict[int, int]:
    """pid -> user + system CPU time in clock ticks, for every process in /proc (read straight: with
    hundreds of processes, psutil's per-process objects cost several times more)."""
    found: dict[int, int] = {}
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return found
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc_root}/{name}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
            found[int(name)] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            continue
    return found


class ProcessControl:
    """The capability the live dashboard's kill key gets: acting on this machine's processes."""

    @staticmethod
    def terminate(pid: int, user: str | None, listed_at: float | None = None) -> str:
        return terminate(pid, user, listed_at)


KTHREADD = 2  # Linux's kernel thread parent: it and its children ignore signals
# A process's start time is known to about a second (the kernel's boot time is in whole seconds): one that
# started later than this after the list was read took the pid since.
LISTED_SLACK_S = 1.0


def terminate(pid: int, user: str | None, listed_at: float | None = None) -> str:
    """SIGTERM to `pid`, if it is still the process of `user` that was listed (at `listed_at`, epoch seconds,
    when known: a process that started after that took the pid since), and ours to end (or we are root).

    Returns what happened, in words; raises nothing.
    """
    try:
        process = psutil.Process(pid)
        owner = process.username()
        if user is not None and owner != user:
            return f"pid {pid} now belongs to {owner}, not {user}: a new process took the pid; not sent"
        if listed_at is not None and process.create_time() > listed_at + LISTED_SLACK_S:
            return f"pid {pid} is a newer process than the one listed (the pid was reused); not sent"
        if pid == KTHREADD or process.ppid() == KTHREADD:
            return f"pid {pid} is a kernel thread: a signal does not end it; not sent"
        if process.status() == psutil.STATUS_ZOMBIE:
            return f"pid {pid} has already ended (its parent has not collected its exit yet); not sent"
        if os.geteuid() != 0 and process.uids().real != os.getuid():
            return f"pid {pid} belongs to {owner}: only your own processes can be ended (or run as root)"
        process.terminate()
    except psutil.NoSuchProcess:
        return f"pid {pid} has already ended"
    except psutil.AccessDenied:
        return f"pid {pid}: permission denied"
    return f"SIGTERM sent to pid {pid} ({owner})"
