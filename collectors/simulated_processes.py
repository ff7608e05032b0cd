"""The simulated box's GPU processes, so `rigscope demo` has a process list; every row says ``simulated``.

Each GPU runs one training rank (users and containers chosen by the seed),
whose GPU memory, SM % and CPU % follow that GPU's simulated readings in the
frame.  GPU 0 also holds a small notebook of another user, and the last GPU a
process whose pid is not visible from here, as a container without the host
pid namespace sees it.  The pids are made up: none of them is a process of
this machine, so nothing may act on them.
"""

from __future__ import annotations

import random
from typing import Any

from collectors.process_rows import Row, empty_row
from collectors.schema import gpu_column

GIB = 1024**3
_USERS = ("alice", "bob", "carol")
_CONTAINERS = ("k8s:7d3c9a10-52be-4f0e-9b1a-3e1f6a2c8d40", "docker:5be1c0a94f27", "slurm:88231")


class SimulatedProcesses:
    def __init__(self, gpu_count: int, seed: int = 0) -> None:
        rng = random.Random(seed + 9)
        self.gpu_count = gpu_count
        owner = rng.randrange(len(_USERS))
        self._user, self._container = _USERS[owner], _CONTAINERS[owner]
        self._other = _USERS[(owner + 1) % len(_USERS)]
        self._base_pid = 20_000 + rng.randrange(10_000)

    def rows(self, ts_us: int, frame: dict[str, Any]) -> list[Row]:
        elapsed = float(frame.get("elapsed_s") or 0.0)
        rows = []
        for gpu in range(self.gpu_count):
            used, util = frame.get(gpu_column(gpu, "mem_used_bytes")), frame.get(gpu_column(gpu, "util_pct"))
            share = 0.97 if gpu == 0 else 0.99
            rank = self._row(ts_us, self._base_pid + gpu, gpu, used and int(used * share), util)
            rank.update(user=self._user, container=self._container, running_s=3_600.0 + elapsed,
                        command=f"python train.py --config llama-7b.yaml --local-rank {gpu}",
                        cpu_pct=None if util is None else 20.0 + 0.8 * util, rss_bytes=12 * GIB + gpu * 2**27)
            rows.append(rank)
        if self.gpu_count and frame.get("gpu0_mem_used_bytes") is not None:
            notebook = self._row(ts_us, self._base_pid + 500, 0, int(frame["gpu0_mem_used_bytes"] * 0.03), 1.0)
            notebook.update(user=self._other, running_s=86_400.0 + elapsed, cpu_pct=2.0, rss_bytes=3 * GIB,
                            command="python -m jupyter lab --no-browser")
            rows.append(notebook)
        hidden = self._row(ts_us, 4_000_000 + self._base_pid, self.gpu_count - 1, 512 * 2**20, None)
        hidden["visible"] = False
        rows.append(hidden)
        return rows

    def drain_notices(self) -> list[str]:
        return []  # a script has nothing to complain about

    @staticmethod
    def _row(ts_us: int, pid: int, gpu: int, used: int | None, sm: float | None) -> Row:
        row = empty_row(ts_us, pid, "compute", gpu)
        row.update(gpu_mem_bytes=used, sm_pct=sm, visible=True, simulated=True)
        return row
