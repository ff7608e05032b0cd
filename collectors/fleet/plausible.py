"""The readings a GPU node can really give, per fleet field (base units): the rest is left out as impossible.

An exporter that serves a temperature of -10000 °C or 1e300 bytes in use is broken, not
hot or full: such a reading is unknown (None, never summed into a total), and the node's
row says how many were left out.  Counters (energy, throttle seconds, collapses) only
have to be at least 0.
"""

from __future__ import annotations

import math

TIB = 2.0**40
RATIO = (0.0, 1.0)
GPU_MEMORY = (0.0, 16 * TIB)  # per GPU; the largest today hold under 0.2 TiB
HOST_MEMORY = (0.0, 1024 * TIB)
TEMPERATURE = (-50.0, 150.0)  # °C
COUNT = (0.0, math.inf)
ANY = (-math.inf, math.inf)
RANGES: dict[str, tuple[float, float]] = {
    "util": RATIO, "sm_active": RATIO, "tensor_active": RATIO, "dram_active": RATIO, "cpu_util": RATIO,
    "mem_used": GPU_MEMORY, "mem_free": GPU_MEMORY, "mem_total": GPU_MEMORY,
    "temp": TEMPERATURE, "temp_limit": TEMPERATURE,
    "power": (0.0, 5000.0),  # W per GPU; the largest boards draw some 1.2 kW
    "energy": COUNT, "throttle": COUNT, "collapses": COUNT,
    "host_mem_used": HOST_MEMORY, "host_mem_available": HOST_MEMORY, "host_mem_total": HOST_MEMORY,
}


def possible(field: str, value: float) -> bool:
    """Whether a finite `value` of `field` can be real (a field without a range always can)."""
    low, high = RANGES.get(field, ANY)
    return low <= value <= high


def note(impossible: dict[str, int]) -> str | None:
    """The row's line for the readings left out, e.g. `2 impossible readings left out (power, temp)`."""
    count = sum(impossible.values())
    if not count:
        return None
    return f"{count} impossible reading{'s' if count > 1 else ''} left out ({', '.join(sorted(impossible))})"
