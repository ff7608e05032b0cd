"""Simulated source: readings of a made-up 8-core host with 1..16 H100 GPUs.

Used for demos, tests and benchmarks.  It plays the loop of
`collectors.scenario` (idle, data prep, checkpoint I/O, training with a
thermal ramp, thermal throttling, power cap, recovery, idle).

Every value is a pure function of `(seed, elapsed_s)`: curves come from the
scenario's grid, noise is a sum of two sines with seeded frequencies and
phases, and counters are closed-form integrals: violation seconds of the
throttle phases, energy of the noise-free power curve (the noise averages out).
So runs at 1 Hz and 10 Hz see the same signal, whatever was read before.

Each GPU runs slightly ahead of the host by a seeded offset (0-3 s) and has
seeded levels (utilization scale, temperature offset, idle power), so GPUs are
distinguishable yet all go through every phase.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

from collectors import scenario as sc
from collectors.base import Collector, Reading
from collectors.schema import HOST_TIME_COLUMN, gpu_column

MAX_GPUS = 16
CPU_CORES = 8
HOST_MEMORY_BYTES = 64 * sc.GIB
GPU_MEMORY_BYTES = 81_559 * (1 << 20)
GPU_POWER_LIMIT_W = 700.0
GPU_TEMP_LIMIT_C = 83.0
CPU_POWER_LIMIT_W = 125.0
CPU_TEMP_LIMIT_C = 100.0
SWAP_USED_BYTES = 128 * (1 << 20)

# Noise per channel: amplitude = absolute + relative * value.
_HOST_NOISE = dict(cpu_freq=(25.0, 0.0), cpu_temp=(0.3, 0.0), cpu_power=(1.0, 0.02),
                   mem_used=(0.0, 0.004), disk_read=(0.0, 0.15), disk_write=(0.0, 0.12),
                   net_recv=(0.0, 0.2), net_sent=(0.0, 0.2))
_GPU_NOISE = dict(util=(1.2, 0.0), mem_util=(0.8, 0.0), mem_used=(0.0, 0.002), temp=(0.25, 0.0),
                  power=(2.0, 0.008), clock_sm=(12.0, 0.0), clock_mem=(0.0, 0.0), fan=(0.5, 0.0))

# Noise of a channel: two sines with seeded frequencies (periods ~1.4-10 s) and phases, |sum| <= 1,
# scaled by an absolute amplitude plus a relative one (times the value): w1, p1, w2, p2, absolute, relative.
Jitter = tuple[float, float, float, float, float, float]


_POWER = sc.GPU_CHANNELS.index("power")
_GPM_PERCENT = sc.GPM_CHANNELS.index("pcie_rx")  # GPM channels before it are percentages
_sin = math.sin
_GPU_FIELDS = ("util_pct", "mem_util_pct", "mem_used_bytes", "mem_total_bytes", "temp_c", "temp_limit_c", "power_w",
               "power_limit_w", "energy_j", "clock_sm_mhz", "clock_mem_mhz", "fan_pct", "pstate", "throttle_reasons",
               "violation_power_s", "violation_thermal_s")
_GPM_FIELDS = ("sm_active_pct", "sm_occupancy_pct", "tensor_active_pct", "dram_bw_util_pct", "fp16_active_pct",
               "fp32_active_pct", "fp64_active_pct", "pcie_rx_bps", "pcie_tx_bps", "nvlink_rx_bps", "nvlink_tx_bps")
# Per grid cell, what a GPU reads there: its pstate and throttle bits (those of the cell's phase).
_CELL_PSTATE = [sc.PSTATE.get(sc.TIMELINE[phase][0], 0) for phase in sc.CELL_PHASE]
_CELL_THROTTLE = [sc.THROTTLE_BITS.get(sc.TIMELINE[phase][0], 0) for phase in sc.CELL_PHASE]
# The host grid split into the channels read every tick (cpu ...) and those of the host tier (memory ...).
_HOST_FAST = sc.HOST_CHANNELS.index("mem_used")
_CPU_GRID = [row[:_HOST_FAST] for row in sc.HOST_GRID]
_HOST_TIER_GRID = [row[_HOST_FAST:] for row in sc.HOST_GRID]


def _jitter(rng: random.Random, absolute: float, relative: float) -> Jitter:
    return (rng.uniform(0.6, 1.6), rng.uniform(0, math.tau),
            rng.uniform(2.0, 4.5), rng.uniform(0, math.tau), absolute, relative)


def _cell(x: float) -> tuple[int, float, int, float]:
    """Whole loops before loop time `x` (any x >= 0), the seconds into the loop it is in, its grid cell and
    the weight of the cell's end point."""
    loops = math.floor(x / sc.LOOP_S)
    pos = x - loops * sc.LOOP_S
    f = pos / sc.GRID_DT
    k = min(int(f), sc.GRID_CELLS - 1)
    return loops, pos, k, f - k


def _interpolate(grid: list[tuple[float, ...]], k: int, w: float) -> list[float]:
    """The channel values of `grid` at weight `w` into cell `k`."""
    return [a + (b - a) * w for a, b in zip(grid[k], grid[k + 1])]


def _jittered(t: float, values: Iterable[float], jitters: Iterable[Jitter]) -> list[float]:
    """Each value with its channel's noise at time `t` (one call per reading: this runs 100 times a second)."""
    return [v + (a + r * v) * (0.6 * _sin(w1 * t + p1) + 0.4 * _sin(w2 * t + p2))
            for v, (w1, p1, w2, p2, a, r) in zip(values, jitters)]


class _Gpu:
    """Seeded per-GPU levels and precomputed column names."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.keys = tuple(gpu_column(index, c) for c in _GPU_FIELDS + _GPM_FIELDS)  # in the order `read` gives
        self.offset_s = rng.uniform(0.0, 3.0)
        self.util_scale = rng.uniform(0.97, 1.0)
        self.temp_offset_c = rng.uniform(-0.6, 0.6)
        # Scales the headroom below the power limit: idle power varies, a pinned cap stays pinned.
        self.headroom = rng.uniform(0.98, 1.02)
        self.jitter = [_jitter(rng, *_GPU_NOISE[c]) for c in sc.GPU_CHANNELS]
        self.uuid = f"GPU-sim-{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-{index:04x}"
        self.energy_at_0 = self.energy_integral(self.offset_s)
        self.thermal_at_0 = sc.time_in_span(self.offset_s, sc.THERMAL_SPAN)
        self.power_at_0 = sc.time_in_span(self.offset_s, sc.POWER_CAP_SPAN)

    def energy_integral(self, x: float) -> float:
        """Joules of this GPU's noise-free power from loop time 0 to `x` (any x >= 0)."""
        loops, pos, k, _ = _cell(x)
        return self._energy(x, loops, pos, k)

    def _energy(self, x: float, loops: int, pos: float, k: int) -> float:
        """`energy_integral(x)`, with `x` already split by `_cell`."""
        dx = pos - k * sc.GRID_DT
        p0, p1 = sc.GPU_GRID[k][_POWER], sc.GPU_GRID[k + 1][_POWER]
        base = (loops * sc.POWER_INTEGRAL[-1] + sc.POWER_INTEGRAL[k]
                + dx * (p0 + 0.5 * (p1 - p0) * dx / sc.GRID_DT))
        return GPU_POWER_LIMIT_W * x - self.headroom * (GPU_POWER_LIMIT_W * x - base)

    def read(self, t: float) -> list[Any]:
        """This GPU's readings at host time `t`, in the order of `keys`: NVML's fields, then GPM's.

        GPM's have no seeded noise (the seeded draws of the other channels stay as they were) but a slight
        per-GPU ripple, percentages within 0-100."""
        x = t + self.offset_s
        loops, pos, k, w = _cell(x)
        values = _interpolate(sc.GPU_GRID, k, w)
        util, mem_util, mem_used, temp, power, clock_sm, clock_mem, fan = _jittered(t, values, self.jitter)
        base_power = values[_POWER]
        limit = GPU_POWER_LIMIT_W
        power = limit - self.headroom * (limit - base_power) + (power - base_power)
        util *= self.util_scale
        ripple = 1.0 + 0.02 * _sin(0.9 * t + self.index)
        gpm = [(a + (b - a) * w) * ripple for a, b in zip(sc.GPM_GRID[k], sc.GPM_GRID[k + 1])]
        return [
            0.0 if util < 0.0 else 100.0 if util > 100.0 else util,
            0.0 if mem_util < 0.0 else 100.0 if mem_util > 100.0 else mem_util,
            int(mem_used),
            GPU_MEMORY_BYTES,
            temp + self.temp_offset_c,
            GPU_TEMP_LIMIT_C,
            limit if power > limit else power,
            limit,
            self._energy(x, loops, pos, k) - self.energy_at_0,
            clock_sm,
            clock_mem,
            100.0 if fan > 100.0 else fan,
            _CELL_PSTATE[k],
            _CELL_THROTTLE[k],
            sc.span_seconds(loops, pos, sc.POWER_CAP_SPAN) - self.power_at_0,
            sc.span_seconds(loops, pos, sc.THERMAL_SPAN) - self.thermal_at_0,
            *[100.0 if v > 100.0 else v for v in gpm[:_GPM_PERCENT]],
            *gpm[_GPM_PERCENT:],
        ]


class SimulatedCollector(Collector):
    """Deterministic scenario readings for `gpu_count` simulated GPUs."""

    name = "simulated"

    def __init__(self, gpu_count: int = 1, seed: int = 0, host_hz: float | None = None) -> None:
        """`host_hz`: the host tier's rate (memory to network held between its reads, as `HostCollector`
        does); None: read every tick."""
        super().__init__()
        self.host_hz = host_hz
        valid = isinstance(gpu_count, int) and not isinstance(gpu_count, bool)
        if not valid or not 1 <= gpu_count <= MAX_GPUS:
            raise ValueError(f"gpu_count must be an integer from 1 to {MAX_GPUS}, "
                             f"got {gpu_count!r}")
        self.gpu_count = gpu_count
        self.seed = seed
        rng = random.Random(seed)
        weights = [rng.uniform(0.6, 1.4) for _ in range(CPU_CORES)]
        mean = sum(weights) / CPU_CORES
        self._core_weights = [w / mean for w in weights]
        self._core_jitter = [_jitter(rng, 1.5, 0.05) for _ in range(CPU_CORES)]
        # In the order of HOST_GRID's channels after cpu (which _HOST_NOISE follows).
        host_jitter = [_jitter(rng, *_HOST_NOISE[c]) for c in _HOST_NOISE]
        self._cpu_jitter, self._tier_jitter = host_jitter[:3], host_jitter[3:]
        self._gpus = [_Gpu(i, rng) for i in range(gpu_count)]
        self._tier_t: float | None = None  # the time of the host tier's reading kept in _tier
        self._tier: Reading = {}

    def info(self) -> dict[str, Any]:
        return {
            "host": {"hostname": "sim-rig", "os": "simulated", "cpu_model": "Simulated 8-core CPU",
                     "cpu_count_logical": CPU_CORES, "cpu_count_physical": CPU_CORES,
                     "memory_total_bytes": HOST_MEMORY_BYTES, "device_type": "cuda"},
            "gpus": [{"index": g.index, "name": "NVIDIA H100 80GB HBM3 (simulated)", "uuid": g.uuid,
                      "memory_total_bytes": GPU_MEMORY_BYTES, "power_limit_w": GPU_POWER_LIMIT_W,
                      "temp_limit_c": GPU_TEMP_LIMIT_C, "driver_version": "simulated", "gpm": True}
                     for g in self._gpus],
            "source": "simulated",
        }

    def phase_at(self, elapsed_s: float, gpu: int | None = None) -> str:
        """Scenario phase at `elapsed_s` for the host, or for GPU `gpu` (which runs a bit ahead)."""
        offset = 0.0 if gpu is None else self._gpus[gpu].offset_s
        return sc.phase_at(float(elapsed_s) + offset)

    def read(self, elapsed_s: float) -> Reading:
        t = float(elapsed_s)
        if not t >= 0.0:
            raise ValueError(f"elapsed_s must be >= 0, got {elapsed_s!r}")
        cpu, freq, ctemp, cpower = _interpolate(_CPU_GRID, *_cell(t)[2:])
        cores = [0.0 if v < 0.0 else 100.0 if v > 100.0 else v
                 for v in _jittered(t, [cpu * w for w in self._core_weights], self._core_jitter)]
        freq, ctemp, cpower = _jittered(t, (freq, ctemp, cpower), self._cpu_jitter)
        out: Reading = {
            "cpu_util_pct": sum(cores) / CPU_CORES,
            "cpu_freq_mhz": freq,
            "cpu_temp_c": ctemp,
            "cpu_power_w": cpower,
            "cpu_power_limit_w": CPU_POWER_LIMIT_W,
            "cpu_temp_limit_c": CPU_TEMP_LIMIT_C,
            "cpu_core_util_pct": cores,
        }
        out.update(self._host_tier(t))
        for gpu in self._gpus:
            out.update(zip(gpu.keys, gpu.read(t)))
        return out

    def _host_tier(self, t: float) -> Reading:
        """Memory to network: the values of the host tier's last read, on the grid k / host_hz (a function of
        that time alone, so kept until the next)."""
        th = t if self.host_hz is None else math.floor(t * self.host_hz + 1e-6) / self.host_hz
        if th != self._tier_t:
            mem, d_r, d_w, n_r, n_s = _jittered(th, _interpolate(_HOST_TIER_GRID, *_cell(th)[2:]), self._tier_jitter)
            mem_used = int(mem)
            self._tier_t, self._tier = th, {
                "mem_used_bytes": mem_used,
                "mem_total_bytes": HOST_MEMORY_BYTES,
                "mem_util_pct": 100.0 * mem_used / HOST_MEMORY_BYTES,
                "swap_used_bytes": SWAP_USED_BYTES,
                "disk_read_bps": d_r,
                "disk_write_bps": d_w,
                "net_recv_bps": n_r,
                "net_sent_bps": n_s,
                HOST_TIME_COLUMN: th,
            }
        return self._tier
