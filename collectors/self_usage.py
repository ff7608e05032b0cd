"""rigscope's own cost, refreshed once a second of real time: CPU % of one core, resident memory, and
the CPU % of each of its threads by role (`self_threads`), so that a regression has an owner.

A role is a thread's name without the `rigscope-` prefix and a reader generation
(`rigscope-sampler` -> `sampler`, `rigscope-nvml-2` -> `nvml`; the main thread,
Textual's event loop in the dashboard, is `main`); unnamed threads add up as
`other`.  On Linux the process's figures come from /proc/self/stat and the
threads' from /proc/self/task/<tid>, each through a descriptor kept open while
its thread lives (`collectors.procfs`); elsewhere the process's come from psutil
and the threads' are null.
"""

from __future__ import annotations

import os
import re
import threading
import time

import psutil

from collectors import procfs
from collectors.base import Collector, Reading

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_GENERATION = re.compile(r"-\d+$")


def role(name: str) -> str:
    """The budget line a thread's CPU time counts in."""
    if name == "MainThread":
        return "main"
    if not name.startswith("rigscope-"):
        return "other"
    return _GENERATION.sub("", name[len("rigscope-"):])


def budget_text(shares: dict[str, float]) -> str:
    """`main=1.9 sampler=0.8 ...`: % of one core per role, busiest first."""
    return " ".join(f"{name}={pct:.1f}" for name, pct in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))


def thread_cpu_s(tid: int) -> float:
    """CPU seconds of this process's thread `tid`: /proc/self/task/<tid>/schedstat counts nanoseconds (its
    stat counts 10 ms ticks, too coarse for a thread that costs 0.3 % of a core); stat where it is absent."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat", "rb") as file:
            return int(file.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/self/task/{tid}/stat", "rb") as file:
            user, system, _ = procfs.task_stat(file.read())
        return (user + system) / _TICKS


class ThreadTimes:
    """CPU seconds of each live thread of this process by role (Linux)."""

    def __init__(self) -> None:
        self._last: dict[int, float] = {}
        # thread id -> the thread and its schedstat, open while it lives (a file of an ended thread still
        # reads, its last figures: a thread that takes over its id gets a file of its own)
        self._schedstat: dict[int, tuple[threading.Thread, procfs.ProcFile]] = {}

    def sample(self) -> dict[int, tuple[str, float]]:
        """thread id -> (role, CPU seconds so far); a thread that ended meanwhile is left out."""
        out: dict[int, tuple[str, float]] = {}
        for thread in threading.enumerate():
            if thread.native_id is None:
                continue
            try:
                out[thread.native_id] = (role(thread.name), self._cpu_s(thread, thread.native_id))
            except (OSError, ValueError, IndexError):
                continue
        for tid in self._schedstat.keys() - out.keys():  # ended
            self._schedstat.pop(tid)[1].close()
        return out

    def _cpu_s(self, thread: threading.Thread, tid: int) -> float:
        """`thread_cpu_s(tid)`, from the thread's schedstat kept open (opening it costs most of a read)."""
        kept = self._schedstat.get(tid)
        if kept is None or kept[0] is not thread:
            if kept is not None:
                kept[1].close()
                del self._schedstat[tid]
            try:
                kept = self._schedstat[tid] = (thread, procfs.ProcFile(f"/proc/self/task/{tid}/schedstat"))
            except OSError:
                return thread_cpu_s(tid)
        return int(kept[1].read().split()[0]) / 1e9

    def close(self) -> None:
        for _, file in self._schedstat.values():
            file.close()
        self._schedstat.clear()

    def shares(self, seconds: float) -> dict[str, float]:
        """% of one core per role since the previous call, over `seconds` of wall time."""
        now = self.sample()
        shares: dict[str, float] = {}
        for ident, (name, cpu) in now.items():
            spent = cpu - self._last.get(ident, cpu)  # a thread first seen counts from now
            shares[name] = shares.get(name, 0.0) + 100.0 * max(0.0, spent) / seconds
        self._last = {ident: cpu for ident, (_, cpu) in now.items()}
        return shares


class SelfUsageCollector(Collector):
    name = "self"

    def __init__(self) -> None:
        super().__init__()
        self._stat = procfs.open_procfs("/proc/self/stat", procfs.task_stat)
        self._threads = ThreadTimes() if os.path.isdir("/proc/self/task") else None
        self._process = psutil.Process()
        self._last_t = time.monotonic()  # real time: a simulated session may run faster than the clock on the wall
        self._last_cpu = self._sample()[0]
        if self._threads is not None:
            self._threads.shares(1.0)  # primes every thread's counter
        self._next_t: float | None = None
        self._reading: Reading = {"self_cpu_pct": None, "self_rss_bytes": None, "self_threads": None}

    def _sample(self) -> tuple[float, int]:
        """CPU seconds so far and resident bytes of this process."""
        if self._stat is not None:
            user, system, pages = procfs.task_stat(self._stat.read())
            return (user + system) / _TICKS, pages * _PAGE
        with self._process.oneshot():
            times = self._process.cpu_times()
            return times.user + times.system, self._process.memory_info().rss

    def read(self, elapsed_s: float) -> Reading:
        now = time.monotonic()
        if self._next_t is None or now >= self._next_t:
            self._next_t = now + 1.0
            seconds = now - self._last_t
            cpu, rss = self._sample()
            if seconds > 0:
                self._reading = {
                    "self_cpu_pct": 100.0 * (cpu - self._last_cpu) / seconds,
                    "self_rss_bytes": rss,
                    "self_threads": budget_text(self._threads.shares(seconds)) if self._threads else None,
                }
            self._last_t, self._last_cpu = now, cpu
        return self._reading

    def close(self) -> None:
        if self._stat is not None:
            self._stat.close()
        if self._threads is not None:
            self._threads.close()
