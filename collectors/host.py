"""Memory and swap use, and disk and network byte rates, from psutil."""

from __future__ import annotations

from typing import Any

import psutil

from collectors.base import Collector, Reading


class HostCollector(Collector):
    name = "host"

    def __init__(self) -> None:
        super().__init__()
        self._last_t: float | None = None
        self._last_counters: tuple[int, int, int, int] | None = None

    def info(self) -> dict[str, Any]:
        return {"memory_total_bytes": psutil.virtual_memory().total}

    def _counters(self) -> tuple[int, int, int, int] | None:
        try:
            disk = psutil.disk_io_counters()
            net = psutil.net_io_counters()
        except (OSError, RuntimeError) as error:
            self.notice(f"disk/network counters unreadable ({error}); rates are null")
            return None
        if disk is None or net is None:
            self.notice("no disk or network counters; rates are null")
            return None
        return disk.read_bytes, disk.write_bytes, net.bytes_recv, net.bytes_sent

    def read(self, elapsed_s: float) -> Reading:
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        counters = self._counters()
        rates: list[float | None] = [None, None, None, None]
        if counters and self._last_counters and self._last_t is not None and elapsed_s > self._last_t:
            dt = elapsed_s - self._last_t
            # Counters can go backwards (device removed, wrap); a negative rate is not a reading.
            rates = [(now - before) / dt if now >= before else None
                     for now, before in zip(counters, self._last_counters)]
        self._last_t, self._last_counters = elapsed_s, counters
        return {
            "mem_used_bytes": memory.total - memory.available,
            "mem_total_bytes": memory.total,
            "mem_util_pct": memory.percent,
            "swap_used_bytes": swap.used,
            "disk_read_bps": rates[0],
            "disk_write_bps": rates[1],
            "net_recv_bps": rates[2],
            "net_sent_bps": rates[3],
        }
