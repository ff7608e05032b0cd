"""Scenarios for the NVML mock: JSON-shaped dicts written out in the mock's line format.

The mock reads a line format rather than JSON so its C parser stays a few sscanf calls (a JSON
parser in C would be the largest, least tested part of the mock); the tests build dicts, and
`Scenario.write` turns them into lines.  `Scenario.expected` is the test oracle: the value
rigscope must read for each field, in its own units, from the same dict.

A GPU dict: ``name``, ``uuid``, ``pci``; ``series`` (key of `SERIES` -> a number or a list, one
value a tick, the last one held); ``processes`` (``kind``, ``pid``, ``mem`` (None: not available),
``gi``, ``ci``, ``from``, ``until``); ``samples`` (``pid``, ``ts`` µs, ``sm``, ``mem``); ``faults``
(``function`` (a C entry point, ``*`` for all), ``code``, ``from``, ``until``); ``hangs``
(``function``, ``from``, ``seconds``; the test releases it with `Scenario.release`).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

# The mock's series keys, in NVML's units, and the rigscope field each gives (NVML's value / divisor).
SERIES = {
    "util_gpu": ("util_pct", 1), "util_mem": ("mem_util_pct", 1), "mem_used": ("mem_used_bytes", 1),
    "mem_total": ("mem_total_bytes", 1), "temp": ("temp_c", 1), "temp_slowdown": ("temp_limit_c", 1),
    "power_mw": ("power_w", 1000.0), "power_limit_mw": ("power_limit_w", 1000.0), "energy_mj": ("energy_j", 1000.0),
    "clock_sm": ("clock_sm_mhz", 1), "clock_mem": ("clock_mem_mhz", 1), "fan": ("fan_pct", 1),
    "pstate": ("pstate", 1), "throttle": ("throttle_reasons", 1),
    "violation_power_ns": ("violation_power_s", 1e9), "violation_thermal_ns": ("violation_thermal_s", 1e9),
}
# GPM series: the activity during each tick, in NVML's units, and the rigscope GPM field (value * factor).
GPM_SERIES = {
    "gpm_sm": ("sm_active_pct", 1), "gpm_occupancy": ("sm_occupancy_pct", 1), "gpm_tensor": ("tensor_active_pct", 1),
    "gpm_dram": ("dram_bw_util_pct", 1), "gpm_fp16": ("fp16_active_pct", 1), "gpm_fp32": ("fp32_active_pct", 1),
    "gpm_fp64": ("fp64_active_pct", 1), "gpm_pcie_rx": ("pcie_rx_bps", 1 << 20), "gpm_pcie_tx": ("pcie_tx_bps", 1 << 20),
    "gpm_nvlink_rx": ("nvlink_rx_bps", 1 << 20), "gpm_nvlink_tx": ("nvlink_tx_bps", 1 << 20),
}
FALLBACK_SERIES = ("temp_v", "throttle_legacy")  # the other call's value, where a scenario tells them apart
INTEGER_FIELDS = {"mem_used_bytes", "mem_total_bytes", "pstate", "throttle_reasons"}
PSTATE_UNKNOWN = 32
GIB = 1024**3

# NVML return codes used by the scenarios (nvml.h).
NOT_SUPPORTED, NO_PERMISSION, INSUFFICIENT_SIZE, DRIVER_NOT_LOADED = 3, 4, 7, 9
GPU_IS_LOST, UNKNOWN = 15, 999


def h100(index: int) -> dict[str, Any]:
    """An 8-GPU H100 box's GPU `index`: every reading distinct per GPU, energy rising each tick, and GPM."""
    return {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": f"GPU-{index:08x}-5b1e-4c5d-9f10-6e2a3b4c5d6e",
        "pci": f"00000000:{0x18 + 0x10 * index:02X}:00.0",
        "series": {
            "util_gpu": [90 + index, 50, 0], "util_mem": 40 + index, "mem_used": (10 + index) * GIB,
            "mem_total": 80 * GIB, "temp": [60 + index, 61 + index], "temp_slowdown": 87,
            "power_mw": [300_000 + 1000 * index, 650_125], "power_limit_mw": 700_000,
            "energy_mj": [123_456_000 + k * 70_000 for k in range(8)], "clock_sm": 1980, "clock_mem": 2619,
            "fan": 30 + index, "pstate": 0, "throttle": [0, 0x4, (1 << 40) | 0x4],
            "violation_power_ns": [0, 100_000_000 * (index + 1)], "violation_thermal_ns": 0,
            **hopper_gpm(index),
        },
    }


def energy_counter(power_mw: list[int], period_ticks: int, tick_s: float = 0.1,
                   start_mj: int = 5_000_000) -> list[int]:
    """An energy counter (mJ) for a GPU drawing `power_mw[k]` during tick k, as a driver keeps it: the
    exact energy, published only every `period_ticks` ticks (held in between)."""
    exact, published = start_mj, start_mj
    out = []
    for k, power in enumerate(power_mw):
        if k % period_ticks == 0:
            published = exact
        out.append(round(published))
        exact += power * tick_s
    return out


def without_gpm(gpu: dict[str, Any]) -> dict[str, Any]:
    """The GPU without GPM (an A100, or a driver that does not give it to this GPU)."""
    return {**gpu, "series": {k: v for k, v in gpu["series"].items() if k not in GPM_SERIES}}


def hopper_gpm(index: int) -> dict[str, Any]:
    """GPM series of a Hopper GPU: every metric distinct per GPU and changing each tick
    (compute, then an NCCL wait: the SMs go quiet while utilization would stay high)."""
    return {
        "gpm_sm": [0, 80 + index, 85, 10, 5, 7, 90], "gpm_occupancy": [0, 40, 42, 3, 2, 2, 45],
        "gpm_tensor": [0, 60 + index, 65, 0, 0, 1, 70], "gpm_dram": [0, 30, 35, 8, 6, 5, 33],
        "gpm_fp16": [0, 4, 5, 0, 0, 0, 6], "gpm_fp32": [0, 12, 11, 1, 1, 1, 13], "gpm_fp64": [0, 0, 1, 0, 0, 0, 0],
        "gpm_pcie_rx": [0, 1200, 900, 50, 40, 30, 1500], "gpm_pcie_tx": [0, 600, 400, 20, 10, 10, 700],
        "gpm_nvlink_rx": [0, 90_000, 80_000, 200_000, 210_000, 205_000, 95_000],
        "gpm_nvlink_tx": [0, 90_000, 80_000, 200_000, 210_000, 205_000, 95_000],
    }


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def at_tick(value: Any, tick: int) -> Any:
    values = _values(value)
    return values[min(tick, len(values) - 1)]


class Scenario:
    """A scenario file, its tick file (the mock's time axis), and the environment that loads the mock."""

    def __init__(self, directory: Path, gpus: list[dict[str, Any]], driver: str = "550.54.15",
                 init_error: int | None = None, hz: float | None = None, rounds_of: str | None = None) -> None:
        """`hz`: ticks follow the monotonic clock; `rounds_of`: a GPU's tick counts its calls of that
        entry point (its sampling rounds); neither: the tick file `advance` writes."""
        self.directory, self.driver, self.init_error, self.hz, self.rounds_of = directory, driver, init_error, hz, rounds_of
        self.gpus = copy.deepcopy(gpus)
        self.path, self.tick_path = directory / "scenario.nvml", directory / "tick"
        self.advance(0)

    def lines(self) -> list[str]:
        lines = [f"driver {self.driver}", f"count {len(self.gpus)}"]
        lines.append(f"clock monotonic {self.hz}" if self.hz else f"clock calls {self.rounds_of}" if self.rounds_of
                     else f"clock file {self.tick_path}")
        if self.init_error is not None:
            lines.append(f"init_error {self.init_error}")
        for i, gpu in enumerate(self.gpus):
            lines += [f"gpu {i} {key} {gpu[key]}" for key in ("name", "uuid", "pci") if gpu.get(key)]
            lines += [f"gpu {i} set {key} " + " ".join(str(int(v)) for v in _values(value))
                      for key, value in gpu.get("series", {}).items()]
            lines += [f"gpu {i} proc {p['kind']} {p['pid']} {-1 if p.get('mem') is None else p['mem']} "
                      f"{p.get('gi', 0xFFFFFFFF)} {p.get('ci', 0xFFFFFFFF)} {p.get('from', 0)} {p.get('until', 2**31 - 1)}"
                      for p in gpu.get("processes", [])]
            lines += [f"gpu {i} sample {s['pid']} {s['ts']} {s['sm']} {s['mem']} {s.get('enc', 0)} {s.get('dec', 0)}"
                      for s in gpu.get("samples", [])]
            lines += [f"gpu {i} fault {f['function']} {f['code']} {f.get('from', 0)} {f.get('until', 2**31 - 1)}"
                      for f in gpu.get("faults", [])]
            lines += [f"gpu {i} hang {h['function']} {h.get('from', 0)} {h.get('seconds', 60)} {self._release(i)}"
                      for h in gpu.get("hangs", [])]
        return lines

    def write(self) -> Path:
        self.path.write_text("\n".join(self.lines()) + "\n")
        return self.path

    def env(self, library: Path) -> dict[str, str]:
        """The variables that make the unmodified pynvml load the mock and read this scenario."""
        self.write()
        ld = os.pathsep.join(p for p in (str(library), os.environ.get("LD_LIBRARY_PATH", "")) if p)
        return {"LD_LIBRARY_PATH": ld, "NVML_MOCK_SCENARIO": str(self.path)}

    def advance(self, tick: int) -> None:
        """Move the mock's clock to `tick` (written in place: the mock keeps the file open)."""
        mode = "r+b" if self.tick_path.exists() else "wb"
        with open(self.tick_path, mode) as f:
            f.write(f"{tick:<20d}\n".encode())

    def _release(self, index: int) -> Path:
        return self.directory / f"release-gpu{index}"

    def hang_started(self, index: int) -> bool:
        return self._release(index).with_name(f"release-gpu{index}.started").exists()

    def release(self, index: int) -> None:
        self._release(index).touch()

    def expected(self, index: int, tick: int) -> dict[str, float | int | None]:
        """rigscope's reading of every field of GPU `index` at `tick`, from the scenario alone."""
        out: dict[str, float | int | None] = {}
        for key, value in self.gpus[index].get("series", {}).items():
            if key in FALLBACK_SERIES or key in GPM_SERIES:
                continue
            field, divisor = SERIES[key]
            raw = at_tick(value, tick)
            out[field] = int(raw) if field in INTEGER_FIELDS else raw / divisor
        if out.get("pstate") == PSTATE_UNKNOWN:
            out["pstate"] = None
        return out

    def expected_gpm(self, index: int, since: int, tick: int) -> dict[str, float | None]:
        """rigscope's GPM reading of GPU `index` from a sample at `since` to one at `tick`: the mean of
        each series over ticks since+1..tick (None for a metric the scenario does not give)."""
        series = self.gpus[index].get("series", {})
        out: dict[str, float | None] = dict.fromkeys(field for field, _ in GPM_SERIES.values())
        for key, (field, factor) in GPM_SERIES.items():
            if key in series:
                out[field] = sum(at_tick(series[key], t) for t in range(since + 1, tick + 1)) / (tick - since) * factor
        return out
