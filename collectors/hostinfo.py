"""Static facts about this machine for meta.json: host name, OS, CPU model and counts, memory."""

from __future__ import annotations

import platform
import socket
from pathlib import Path
from typing import Any

import psutil

from collectors.wire import encodable


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def host_info() -> dict[str, Any]:
    return {
        "hostname": encodable(socket.gethostname()),  # Linux takes any bytes: recorded as text any reader takes
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count_logical": psutil.cpu_count(logical=True),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_total_bytes": psutil.virtual_memory().total,
    }
