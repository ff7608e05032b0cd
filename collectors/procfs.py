"""Direct reads of the few Linux /proc fields the host collectors use, from descriptors kept open.

psutil opens, reads and parses a whole /proc file on every call, and parses more
than rigscope uses (`swap_memory` also reads /proc/vmstat for swap-in/out counts,
`disk_io_counters` every field of every disk).  At 100 Hz that is most of a
sampler's cost.  Here each file is opened once and re-read with `os.pread` at
offset 0 (the kernel regenerates a /proc file's text on each read from its
start), and only the fields used are parsed.  The numbers are psutil's own
(same files, same arithmetic); `open_procfs` returns None where a file cannot be
opened (not Linux, a container without it) and the collectors then use psutil.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

CHUNK = 65536
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size
_MEMINFO = re.compile(rb"^(MemTotal|MemAvailable|SwapTotal|SwapFree):\s+(\d+)", re.M)
# psutil's test of a `cpu MHz` line of /proc/cpuinfo (lower-cased, it starts so), and what follows its colon.
_CPU_MHZ = re.compile(rb"^cpu mhz[^:\n]*:([^\n]*)", re.M | re.I)
# Where psutil looks for cpufreq (at its import, and then on each call).
CPUFREQ_DIRS = ("/sys/devices/system/cpu/cpufreq/policy[0-9]*", "/sys/devices/system/cpu/cpu[0-9]*/cpufreq")

T = TypeVar("T")


class ProcFile:
    """One /proc file, opened once and read whole from its start at each `read`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def read(self) -> bytes:
        data = os.pread(self._fd, CHUNK, 0)
        while len(data) % CHUNK == 0 and data:  # a long file (many CPUs or disks): the rest of it
            more = os.pread(self._fd, CHUNK, len(data))
            if not more:
                break
            data += more
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def open_procfs(path: str, parse: Callable[[bytes], T]) -> ProcFile | None:
    """`path` opened and parsed once (it has the fields `parse` needs), or None: the caller uses psutil."""
    try:
        file = ProcFile(path)
    except OSError:
        return None
    try:
        parse(file.read())
    except (OSError, ValueError, IndexError, KeyError):
        file.close()
        return None
    return file


def cpu_times(data: bytes) -> list[tuple[int, int]]:
    """/proc/stat: (busy, total) clock ticks of each CPU, as psutil counts them (guest time is in user's)."""
    times = []
    for line in data.split(b"\n")[1:]:  # a line per CPU: 100 times a second on a box of hundreds
        if not line.startswith(b"cpu"):
            break
        fields = list(map(int, line.split()[1:]))
        total = sum(fields) - sum(fields[8:10])  # less guest time
        times.append((total - fields[3] - (fields[4] if len(fields) > 4 else 0), total))
    if not times:
        raise ValueError("no per-CPU lines in /proc/stat")
    return times


def busy_percent(before: list[tuple[int, int]], now: list[tuple[int, int]]) -> list[float]:
    """Each CPU's busy % between two `cpu_times` (psutil's rounding: one decimal, within 0-100)."""
    out = []
    for (busy0, total0), (busy1, total1) in zip(before, now):
        spent = total1 - total0
        share = 100.0 * (busy1 - busy0) / spent if spent > 0 else 0.0
        out.append(round(0.0 if share <= 0.0 else 100.0 if share >= 100.0 else share, 1))
    return out


def cpu_mhz(data: bytes) -> list[float]:
    """/proc/cpuinfo: each CPU's `cpu MHz`, as psutil reads it."""
    found = [float(value) for value in _CPU_MHZ.findall(data)]
    if not found:
        raise ValueError("no cpu MHz lines in /proc/cpuinfo")
    return found


def mean_mhz(per_cpu: list[float]) -> float:
    """psutil.cpu_freq().current of these per-CPU figures: their sum, added in order, over their count."""
    total = 0.0
    for mhz in per_cpu:
        total += mhz
    return total / float(len(per_cpu))


def meminfo(data: bytes) -> tuple[int, int, int, int]:
    """/proc/meminfo: (total, available, swap total, swap free) in bytes."""
    found = {key: int(value) * 1024 for key, value in _MEMINFO.findall(data)}
    return found[b"MemTotal"], found[b"MemAvailable"], found[b"SwapTotal"], found[b"SwapFree"]


class DiskFilter:
    """Which /proc/diskstats names are whole devices (as psutil sums them: /sys/block/NAME exists), cached."""

    def __init__(self) -> None:
        self._whole: dict[bytes, bool] = {}

    def __call__(self, name: bytes) -> bool:
        whole = self._whole.get(name)
        if whole is None:
            whole = self._whole[name] = os.path.exists(b"/sys/block/" + name.replace(b"/", b"!"))
        return whole


def diskstats(data: bytes, whole: Callable[[bytes], bool]) -> tuple[int, int]:
    """/proc/diskstats: (read, written) bytes summed over whole devices."""
    read = written = 0
    for line in data.splitlines():
        fields = line.split()
        if len(fields) >= 14 and whole(fields[2]):
            read += int(fields[5])
            written += int(fields[9])
    return read * SECTOR_BYTES, written * SECTOR_BYTES


def net_dev(data: bytes) -> tuple[int, int]:
    """/proc/net/dev: (received, sent) bytes summed over every interface."""
    received = sent = 0
    for line in data.splitlines()[2:]:
        fields = line[line.rfind(b":") + 1:].split()
        received += int(fields[0])
        sent += int(fields[8])
    return received, sent


def task_stat(data: bytes) -> tuple[int, int, int]:
    """/proc/<pid>/stat or /proc/self/task/<tid>/stat: (user ticks, system ticks, resident pages).
    The name in parentheses may hold spaces and parentheses: fields are counted after the last one."""
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[11]), int(fields[12]), int(fields[21])
