"""Memory and swap use, and disk and network byte rates: the host tier, read at its own slower rate.

These change slowly next to GPU and CPU utilization, so they are read `hz` times a
second (``--host-hz``, default 2), not every tick.  The collector decides at each
tick whether this one reads or carries the last reading forward; every row carries
`host_elapsed_s`, the `elapsed_s` of the tick whose read its host values are, so a
carried value never looks fresher than it is.  A read that fails makes the tier
null (values and time) until one succeeds: a stalled tier is null, never stale.
Rates are over the interval between two host reads.

On Linux the values come from /proc through kept-open descriptors
(`collectors.procfs`); elsewhere, or where those files cannot be read, from psutil.
"""

from __future__ import annotations

import math
from typing import Any

import psutil

from collectors import procfs
from collectors.base import Collector, Reading
from collectors.schema import HOST_TIER_COLUMNS, HOST_TIME_COLUMN

DEFAULT_HOST_HZ = 2.0
_DUE_SLACK_S = 1e-6  # a tick whose time rounds a hair below the due time still reads

Memory = tuple[int, int, float, int]  # total, used, used %, swap used (bytes)
Counters = tuple[int, int, int, int]  # disk read, disk written, net received, net sent (bytes)


class PsutilHost:
    """The portable reads (any OS psutil supports)."""

    def memory(self) -> Memory:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return memory.total, memory.total - memory.available, memory.percent, swap.used

    def counters(self) -> Counters | None:
        disk, net = psutil.disk_io_counters(), psutil.net_io_counters()
        if disk is None or net is None:
            return None
        return disk.read_bytes, disk.write_bytes, net.bytes_recv, net.bytes_sent

    def close(self) -> None:
        pass


class ProcfsHost:
    """The same numbers from /proc/meminfo, /proc/diskstats and /proc/net/dev, parsed for these fields only."""

    def __init__(self, meminfo: procfs.ProcFile, diskstats: procfs.ProcFile, net_dev: procfs.ProcFile) -> None:
        self._meminfo, self._diskstats, self._net_dev = meminfo, diskstats, net_dev
        self._whole_disk = procfs.DiskFilter()

    @classmethod
    def open(cls) -> ProcfsHost | None:
        """None where any of the files cannot be opened and parsed (not Linux, a bare container)."""
        whole = procfs.DiskFilter()
        files = (procfs.open_procfs("/proc/meminfo", procfs.meminfo),
                 procfs.open_procfs("/proc/diskstats", lambda data: procfs.diskstats(data, whole)),
                 procfs.open_procfs("/proc/net/dev", procfs.net_dev))
        if None in files:
            for file in files:
                if file is not None:
                    file.close()
            return None
        return cls(*files)  # type: ignore[arg-type]

    def memory(self) -> Memory:
        total, available, swap_total, swap_free = procfs.meminfo(self._meminfo.read())
        used = total - available
        return total, used, round(100.0 * used / total, 1) if total else 0.0, swap_total - swap_free

    def counters(self) -> Counters | None:
        read, written = procfs.diskstats(self._diskstats.read(), self._whole_disk)
        received, sent = procfs.net_dev(self._net_dev.read())
        return read, written, received, sent

    def close(self) -> None:
        for file in (self._meminfo, self._diskstats, self._net_dev):
            file.close()


class HostCollector(Collector):
    name = "host"

    def __init__(self, hz: float = DEFAULT_HOST_HZ, reads: PsutilHost | ProcfsHost | None = None) -> None:
        """`hz`: host reads a second; `reads`: where they come from (default: /proc where it can, else psutil)."""
        super().__init__()
        self.reads = reads or ProcfsHost.open() or PsutilHost()
        self._period = 1.0 / hz
        self._due: float | None = None  # elapsed time of the next read
        self._last_t: float | None = None
        self._last_counters: Counters | None = None
        self._nulls: Reading = dict.fromkeys(HOST_TIER_COLUMNS)
        self._held: Reading = self._nulls

    def info(self) -> dict[str, Any]:
        return {"memory_total_bytes": psutil.virtual_memory().total}

    def read(self, elapsed_s: float) -> Reading:
        if self._due is None or elapsed_s >= self._due - _DUE_SLACK_S:
            # Due times stay on the grid k / hz, so the tier does not drift against the sampler's ticks.
            self._due = (math.floor(elapsed_s / self._period + _DUE_SLACK_S) + 1) * self._period
            try:
                self._held = self._read_now(elapsed_s)
            except (OSError, ValueError, IndexError, KeyError) as error:
                self._held, self._last_counters = self._nulls, None
                self.notice(f"a host read failed ({error}); memory, swap, disk and network are null while it fails")
        return self._held

    def _read_now(self, elapsed_s: float) -> Reading:
        total, used, percent, swap_used = self.reads.memory()
        counters = self._counters()
        rates: list[float | None] = [None, None, None, None]
        if counters and self._last_counters and self._last_t is not None and elapsed_s > self._last_t:
            dt = elapsed_s - self._last_t
            # Counters can go backwards (device removed, wrap); a negative rate is not a reading.
            rates = [(now - before) / dt if now >= before else None
                     for now, before in zip(counters, self._last_counters)]
        self._last_t, self._last_counters = elapsed_s, counters
        return {
            "mem_used_bytes": used,
            "mem_total_bytes": total,
            "mem_util_pct": percent,
            "swap_used_bytes": swap_used,
            "disk_read_bps": rates[0],
            "disk_write_bps": rates[1],
            "net_recv_bps": rates[2],
            "net_sent_bps": rates[3],
            HOST_TIME_COLUMN: elapsed_s,
        }

    def _counters(self) -> Counters | None:
        try:
            counters = self.reads.counters()
        except (OSError, RuntimeError) as error:
            self.notice(f"disk/network counters unreadable ({error}); rates are null")
            return None
        if counters is None:
            self.notice("no disk or network counters; rates are null")
        return counters

    def close(self) -> None:
        self.reads.close()
