"""Serve rigscope's real `PynvmlBackend` over stdin/stdout, one JSON line per call and per answer.

Run by `remote.RemoteBackend` in a child process whose ``LD_LIBRARY_PATH`` makes the unmodified
pynvml load the mock library.  Each call runs in its own thread, as the GPU collector's reader
threads call the backend, so a call hung in the mock does not hold up calls for other GPUs.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from typing import Any

from collectors.nvml import PynvmlBackend


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)  # type: ignore[arg-type]
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        # process_utilization: pid -> (sm, mem); gpm_sample: field -> value
        return [[key, *pair] if isinstance(pair, tuple) else [key, pair] for key, pair in value.items()]
    return value


def main() -> None:
    backend = PynvmlBackend()
    out = threading.Lock()

    def answer(request: dict[str, Any]) -> None:
        try:
            reply = {"id": request["id"], "value": encode(getattr(backend, request["method"])(*request["args"]))}
        except Exception as exc:  # noqa: BLE001  every failure goes back to the caller, named
            reply = {"id": request["id"], "error": type(exc).__name__, "message": str(exc)}
        with out:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()

    for line in sys.stdin:
        threading.Thread(target=answer, args=(json.loads(line),), daemon=True).start()


if __name__ == "__main__":
    main()
