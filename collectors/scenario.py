"""The simulated source's scenario: a 9-minute loop of ML workload phases.

Each phase gives every channel a target; the channel follows its target with a
first-order lag (a time constant per channel, overridable per phase), which
makes transitions look like real hardware.  The loop is computed once, at
import, on a 0.5 s grid; `collectors.simulated` reads it by linear
interpolation, so a reading depends only on its time.  The grid is periodic
(its last point equals its first), so loops join without a jump.

The loop is built so that `SIGNALS.md` sees, in order: idle, data_prep, io and
compute workload states, and on every GPU a collapse event during
`thermal_throttle` (temperature at or above the 83 °C limit makes
`t_sustain_s = 1`, halving RLE while utilization and power stay high).
"""

from __future__ import annotations

import math
from collections.abc import Callable

LOOP_S = 540.0
GRID_DT = 0.5
GRID_CELLS = int(LOOP_S / GRID_DT)
GIB = 1 << 30

# (phase, start_s, end_s) in loop time; boundaries are multiples of GRID_DT.
TIMELINE: tuple[tuple[str, float, float], ...] = (
    ("idle", 0.0, 45.0),
    ("data_prep", 45.0, 120.0),
    ("checkpoint_io", 120.0, 165.0),
    ("training", 165.0, 315.0),
    ("thermal_throttle", 315.0, 375.0),
    ("power_cap", 375.0, 435.0),
    ("recovery", 435.0, 480.0),
    ("idle", 480.0, 540.0),
)
PHASES: tuple[str, ...] = tuple(dict.fromkeys(name for name, _, _ in TIMELINE))

# NVML clocks-event bits: GPU idle 0x1, SW power cap 0x4, SW/HW thermal slowdown 0x20/0x40.
THROTTLE_BITS: dict[str, int] = {"idle": 0x1, "thermal_throttle": 0x20 | 0x40, "power_cap": 0x4}
PSTATE: dict[str, int] = {"idle": 8}  # P0 elsewhere

HOST_CHANNELS = ("cpu_util", "cpu_freq", "cpu_temp", "cpu_power", "mem_used",
                 "disk_read", "disk_write", "net_recv", "net_sent")
GPU_CHANNELS = ("util", "mem_util", "mem_used", "temp", "power", "clock_sm", "clock_mem", "fan")

# A target is a constant or a function of seconds since the phase started.
Target = float | Callable[[float], float]

HOST_TARGETS: dict[str, dict[str, Target]] = {
    "idle": dict(cpu_util=3, cpu_freq=1200, cpu_temp=38, cpu_power=14, mem_used=5 * GIB,
                 disk_read=0.3e6, disk_write=0.6e6, net_recv=0.05e6, net_sent=0.03e6),
    "data_prep": dict(cpu_util=60, cpu_freq=3600, cpu_temp=68, cpu_power=82, mem_used=34 * GIB,
                      disk_read=180e6, disk_write=4e6, net_recv=40e6, net_sent=1e6),
    "checkpoint_io": dict(cpu_util=22, cpu_freq=3000, cpu_temp=52, cpu_power=40, mem_used=28 * GIB,
                          disk_read=5e6, disk_write=200e6, net_recv=1e6, net_sent=0.5e6),
    "training": dict(cpu_util=32, cpu_freq=3400, cpu_temp=58, cpu_power=55, mem_used=26 * GIB,
                     disk_read=35e6, disk_write=2e6, net_recv=5e6, net_sent=2e6),
    "thermal_throttle": dict(cpu_util=24, cpu_freq=3200, cpu_temp=55, cpu_power=45,
                             mem_used=26 * GIB, disk_read=25e6, disk_write=2e6, net_recv=4e6,
                             net_sent=1.5e6),
    "power_cap": dict(cpu_util=28, cpu_freq=3300, cpu_temp=56, cpu_power=50, mem_used=26 * GIB,
                      disk_read=30e6, disk_write=2e6, net_recv=4e6, net_sent=1.5e6),
    "recovery": dict(cpu_util=32, cpu_freq=3400, cpu_temp=58, cpu_power=55, mem_used=26 * GIB,
                     disk_read=35e6, disk_write=2e6, net_recv=5e6, net_sent=2e6),
}

GPU_TARGETS: dict[str, dict[str, Target]] = {
    "idle": dict(util=0, mem_util=0, mem_used=0.6 * GIB, temp=34, power=68,
                 clock_sm=345, clock_mem=1593, fan=30),
    "data_prep": dict(util=35, mem_util=12, mem_used=18 * GIB, temp=50, power=260,
                      clock_sm=1755, clock_mem=2619, fan=40),
    "checkpoint_io": dict(util=8, mem_util=3, mem_used=40 * GIB, temp=45, power=140,
                          clock_sm=1410, clock_mem=2619, fan=35),
    # Temperature climbs toward (not onto) the limit: see TAU_OVERRIDES.
    "training": dict(util=95, mem_util=55, mem_used=71 * GIB, temp=82, power=600,
                     clock_sm=1980, clock_mem=2619, fan=lambda s: 55 + 30 * min(s / 150, 1)),
    # Clocks saw-tooth as the slowdown engages and releases; temperature sits above 83 °C.
    "thermal_throttle": dict(util=lambda s: 74 + 6 * math.sin(2 * math.pi * s / 6),
                             mem_util=40, mem_used=71 * GIB, temp=84.5, power=545,
                             clock_sm=lambda s: 1350 + 90 * math.sin(2 * math.pi * s / 6),
                             clock_mem=2619, fan=100),
    # Power pinned at the 700 W limit while the work done per watt falls.
    "power_cap": dict(util=lambda s: 93 - 13 * s / 60, mem_util=50, mem_used=71 * GIB, temp=79,
                      power=700, clock_sm=lambda s: 1700 - 200 * s / 60, clock_mem=2619, fan=90),
    "recovery": dict(util=95, mem_util=55, mem_used=71 * GIB, temp=70, power=590,
                     clock_sm=1980, clock_mem=2619, fan=70),
}

# GPM activity (what NVML's GPM would read on a Hopper GPU): percent, and PCIe/NVLink bytes/s.
GPM_CHANNELS = ("sm_active", "sm_occupancy", "tensor_active", "dram_bw_util", "fp16_active", "fp32_active",
                "fp64_active", "pcie_rx", "pcie_tx", "nvlink_rx", "nvlink_tx")
# Training seconds in which the job waits in NCCL (a straggling rank): utilization stays at 95 %
# (a kernel is resident, spinning), the SMs and tensor cores go quiet, NVLink carries the all-reduce.
NCCL_WAIT_S = (130.0, 150.0)


def _in_nccl_wait(busy: float, waiting: float) -> Target:
    return lambda s: waiting if NCCL_WAIT_S[0] <= s < NCCL_WAIT_S[1] else busy


_GPM_IDLE: dict[str, Target] = dict(sm_active=0, sm_occupancy=0, tensor_active=0, dram_bw_util=0, fp16_active=0, fp32_active=0,
                 fp64_active=0, pcie_rx=0.05e6, pcie_tx=0.05e6, nvlink_rx=0, nvlink_tx=0)
GPM_TARGETS: dict[str, dict[str, Target]] = {
    "idle": _GPM_IDLE,
    "data_prep": dict(sm_active=25, sm_occupancy=15, tensor_active=5, dram_bw_util=20, fp16_active=1,
                      fp32_active=12, fp64_active=0, pcie_rx=3e9, pcie_tx=0.2e9, nvlink_rx=0, nvlink_tx=0),
    "checkpoint_io": dict(sm_active=4, sm_occupancy=2, tensor_active=0, dram_bw_util=10, fp16_active=0,
                          fp32_active=2, fp64_active=0, pcie_rx=0.1e9, pcie_tx=6e9, nvlink_rx=0, nvlink_tx=0),
    "training": dict(sm_active=_in_nccl_wait(78, 8), sm_occupancy=_in_nccl_wait(42, 3),
                     tensor_active=_in_nccl_wait(62, 0), dram_bw_util=_in_nccl_wait(55, 6),
                     fp16_active=_in_nccl_wait(6, 0), fp32_active=_in_nccl_wait(14, 1), fp64_active=0,
                     pcie_rx=1.5e9, pcie_tx=0.3e9, nvlink_rx=_in_nccl_wait(40e9, 120e9),
                     nvlink_tx=_in_nccl_wait(40e9, 120e9)),
    "thermal_throttle": dict(sm_active=60, sm_occupancy=35, tensor_active=48, dram_bw_util=45, fp16_active=5,
                             fp32_active=11, fp64_active=0, pcie_rx=1.2e9, pcie_tx=0.25e9, nvlink_rx=32e9,
                             nvlink_tx=32e9),
    "power_cap": dict(sm_active=65, sm_occupancy=38, tensor_active=52, dram_bw_util=48, fp16_active=5,
                      fp32_active=12, fp64_active=0, pcie_rx=1.3e9, pcie_tx=0.25e9, nvlink_rx=35e9, nvlink_tx=35e9),
    "recovery": dict(sm_active=78, sm_occupancy=42, tensor_active=62, dram_bw_util=55, fp16_active=6,
                     fp32_active=14, fp64_active=0, pcie_rx=1.5e9, pcie_tx=0.3e9, nvlink_rx=40e9, nvlink_tx=40e9),
}
GPM_TAU: dict[str, float] = dict.fromkeys(GPM_CHANNELS, 1.0)

HOST_TAU: dict[str, float] = dict(cpu_util=2, cpu_freq=1, cpu_temp=15, cpu_power=1.5, mem_used=6,
                                  disk_read=1.5, disk_write=1.5, net_recv=1.5, net_sent=1.5)
GPU_TAU: dict[str, float] = dict(util=1.5, mem_util=1.5, mem_used=4, temp=20, power=1.5,
                                 clock_sm=1, clock_mem=0.5, fan=8)
TAU_OVERRIDES: dict[tuple[str, str], float] = {
    ("training", "temp"): 45,  # slow thermal ramp: ~47 °C to ~80.8 °C over the phase
    ("thermal_throttle", "temp"): 3,
    ("thermal_throttle", "util"): 1,
    ("power_cap", "power"): 1,
    ("power_cap", "temp"): 12,
}


def phase_index(pos_s: float) -> int:
    """Index into TIMELINE of the phase at `pos_s` seconds of loop time (0 <= pos_s < LOOP_S)."""
    for index, (_, start, end) in enumerate(TIMELINE):
        if start <= pos_s < end:
            return index
    return len(TIMELINE) - 1


def phase_at(elapsed_s: float) -> str:
    """Scenario phase name at `elapsed_s` seconds of sample time."""
    return TIMELINE[phase_index(elapsed_s % LOOP_S)][0]


def _follow(targets: dict[str, dict[str, Target]], channels: tuple[str, ...],
            taus: dict[str, float]) -> list[tuple[float, ...]]:
    """Values of `channels` at each grid point of one loop (GRID_CELLS + 1 points, periodic).

    Runs the lag filter over three loops from the idle targets and keeps the
    last one, by when the loop-to-loop difference has vanished.
    """
    values = [float(targets["idle"][c]) for c in channels]  # type: ignore[arg-type]
    loop: list[tuple[float, ...]] = []
    for _ in range(3):
        loop = []
        for k in range(GRID_CELLS):
            loop.append(tuple(values))
            name, start, _ = TIMELINE[phase_index(k * GRID_DT)]
            local = k * GRID_DT - start
            for j, channel in enumerate(channels):
                target = targets[name][channel]
                goal = target(local) if callable(target) else float(target)
                tau = TAU_OVERRIDES.get((name, channel), taus[channel])
                values[j] += (goal - values[j]) * (1.0 - math.exp(-GRID_DT / tau))
    loop.append(loop[0])
    return loop


HOST_GRID: list[tuple[float, ...]] = _follow(HOST_TARGETS, HOST_CHANNELS, HOST_TAU)
GPU_GRID: list[tuple[float, ...]] = _follow(GPU_TARGETS, GPU_CHANNELS, GPU_TAU)
GPM_GRID: list[tuple[float, ...]] = _follow(GPM_TARGETS, GPM_CHANNELS, GPM_TAU)
# Phase index of each grid cell [k, k+1) (exact: phase boundaries lie on the grid).
CELL_PHASE: list[int] = [phase_index(k * GRID_DT) for k in range(GRID_CELLS)]

_POWER = GPU_CHANNELS.index("power")
# POWER_INTEGRAL[k]: joules of the noise-free GPU power curve from loop time 0 to k * GRID_DT.
POWER_INTEGRAL: list[float] = [0.0]
for _k in range(GRID_CELLS):
    POWER_INTEGRAL.append(POWER_INTEGRAL[-1]
                          + 0.5 * (GPU_GRID[_k][_POWER] + GPU_GRID[_k + 1][_POWER]) * GRID_DT)


def _phase_span(name: str) -> tuple[float, float]:
    return next((start, end) for phase, start, end in TIMELINE if phase == name)


THERMAL_SPAN = _phase_span("thermal_throttle")
POWER_CAP_SPAN = _phase_span("power_cap")


def time_in_span(x: float, span: tuple[float, float]) -> float:
    """Seconds of loop time in [0, x) that fall inside `span` of each loop."""
    loops = math.floor(x / LOOP_S)
    return span_seconds(loops, x - loops * LOOP_S, span)


def span_seconds(loops: int, pos: float, span: tuple[float, float]) -> float:
    """`time_in_span` at `loops` whole loops and `pos` seconds into the next (x split as it splits it)."""
    start, end = span
    width, inside = end - start, pos - start
    if inside < 0.0:
        inside = 0.0
    elif inside > width:
        inside = width
    return loops * width + inside
