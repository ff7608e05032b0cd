"""rigscope's own cost, refreshed once a second of real time: CPU % of one core, resident memory, and
the CPU % of each of its threads by role (`self_threads`), so that a regression has an owner.

A role is a thread's name without the `rigscope-` prefix and a reader generation
(`rigscope-sampler` -> `sampler`, `rigscope-nvml-2` -> `nvml`; the main thread,
Textual's event loop in the dashboard, is `main`); unnamed threads add up as
`other`.  On Linux everything comes from /proc/self/stat and
/proc/self/task/<tid>/stat through kept-open descriptors (`collectors.procfs`);
elsewhere the process's figures come from psutil and the threads' are null.
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


class ThreadTimes:
    """CPU seconds of each live thread of this process by role, from kept-open /proc/self/task/<tid>/stat."""

    def __init__(self) -> None:
        self._files: dict[int, tuple[procfs.ProcFile, str]] = {}
        self._last: dict[int, float] = {}

    def sample(self) -> dict[int, tuple[str, float]]:
        """tid -> (role, CPU seconds so far); a thread that ended between listing and reading is left out."""
        live = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
        for tid in [tid for tid in self._files if tid not in live]:
            self._files.pop(tid)[0].close()
        out: dict[int, tuple[str, float]] = {}
        for tid, name in live.items():
            try:
                entry = self._files.get(tid)
                if entry is None or entry[1] != name:
                    if entry is not None:
                        entry[0].close()
                    entry = self._files[tid] = (procfs.ProcFile(f"/proc/self/task/{tid}/stat"), name)
                user, system, _ = procfs.task_stat(entry[0].read())
            except (OSError, ValueError, IndexError):
                continue
            out[tid] = (role(name), (user + system) / _TICKS)
        return out

    def shares(self, seconds: float) -> dict[str, float]:
        """% of one core per role since the previous call, over `seconds` of wall time."""
        now = self.sample()
        shares: dict[str, float] = {}
        for tid, (name, cpu) in now.items():
            spent = cpu - self._last.get(tid, cpu)  # a thread first seen counts from now
            shares[name] = shares.get(name, 0.0) + 100.0 * max(0.0, spent) / seconds
        self._last = {tid: cpu for tid, (_, cpu) in now.items()}
        return shares

    def close(self) -> None:
        for file, _ in self._files.values():
            file.close()
        self._files.clear()


class SelfUsageCollector(Collector):
    name = "self"

    def __init__(self, use_procfs: bool = True) -> None:
        super().__init__()
        self._stat = procfs.open_procfs("/proc/self/stat", procfs.task_stat) if use_procfs else None
        self._threads = ThreadTimes() if self._stat is not None else None
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
