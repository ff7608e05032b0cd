"""`RemoteBackend`: an `NvmlBackend` whose calls run rigscope's real `PynvmlBackend` over the mock.

pynvml loads ``libnvidia-ml.so.1`` once per process, found through ``LD_LIBRARY_PATH``, so the
real backend runs in a child process (`serve`) started with the scenario's environment; the
collector, its reader threads and the sampler run in the test, as with the fake backend.
Errors come back as the same `collectors.nvml` exception types; any other exception the backend
let through is raised as `UnexpectedError` naming its type.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from collectors import nvml
from collectors.nvml import DeviceInfo, GpuProcess, Value

REPO = Path(__file__).resolve().parents[2]


class UnexpectedError(Exception):
    """An exception other than collectors.nvml's escaped the real backend."""


class RemoteBackend:
    """The NVML backend of a child process that loaded the mock library."""

    def __init__(self, env: dict[str, str]) -> None:
        self._child = subprocess.Popen([sys.executable, "-m", "tests.nvml_mock.serve"], cwd=REPO, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, **env})
        self._ids = itertools.count()
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._child.stdout is not None
        for line in self._child.stdout:
            reply = json.loads(line)
            with self._lock:
                future = self._pending.pop(reply["id"])
            future.set_result(reply)
        with self._lock:
            for future in self._pending.values():
                future.set_exception(UnexpectedError("the backend's process ended"))
            self._pending.clear()

    def _call(self, method: str, *args: Any) -> Any:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            request_id = next(self._ids)
            self._pending[request_id] = future
            assert self._child.stdin is not None
            self._child.stdin.write(json.dumps({"id": request_id, "method": method, "args": args}) + "\n")
            self._child.stdin.flush()
        reply = future.result()
        if "error" in reply:
            kind = getattr(nvml, reply["error"], None)
            if isinstance(kind, type) and issubclass(kind, nvml.NvmlError):
                raise kind(reply["message"])
            raise UnexpectedError(f"{reply['error']}: {reply['message']}")
        return reply["value"]

    def init(self) -> None:
        self._call("init")

    def shutdown(self) -> None:
        self._call("shutdown")

    def driver_version(self) -> str | None:
        return self._call("driver_version")

    def device_count(self) -> int:
        return self._call("device_count")

    def device_info(self, index: int) -> DeviceInfo:
        return DeviceInfo(**self._call("device_info", index))

    def begin_tick(self, index: int) -> None:
        self._call("begin_tick", index)

    def read_field(self, index: int, field: str) -> Value:
        return self._call("read_field", index, field)

    def processes(self, index: int) -> list[GpuProcess]:
        return [GpuProcess(**p) for p in self._call("processes", index)]

    def process_utilization(self, index: int) -> dict[int, tuple[float | None, float | None]]:
        return {pid: (sm, mem) for pid, sm, mem in self._call("process_utilization", index)}

    def gpm_sample(self, index: int) -> dict[str, float | None] | None:
        pairs = self._call("gpm_sample", index)
        return None if pairs is None else {field: value for field, value in pairs}

    def close(self) -> None:
        """End the child (a call still hung in the mock ends with it)."""
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        if self._child.stdin:
            self._child.stdin.close()
        self._reader.join(5)
