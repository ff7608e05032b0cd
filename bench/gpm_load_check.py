"""The GPM and energy part of the device check: a matrix-multiply load of known shape on GPU 0.

With torch (or cupy) and CUDA: a half-precision matmul loop runs for `seconds`; during its first half
rigscope's backend samples GPM once a second and power and the energy counter ten times a second,
during its second half nothing samples GPM. Checked:

- SM active and tensor active during the load: a large FP16 matmul keeps nearly every SM busy
  (SM active >= 80 %) and on the tensor cores (tensor active >= 40 %);
- energy over the steadiest 10 s (the middle of the sampled half): the counter and the integral of
  power agree within 2 %;
- the step time of the load with the sampling on (GPM at 1 Hz and power and energy at 10 Hz, so an
  upper bound for GPM alone) against off: under 1 % slower.

Without torch or cupy (or without CUDA) it returns a skip with the reason, and the check goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from common import median  # noqa: I001  (bench/ is on sys.path)

from collectors.nvml import PynvmlBackend

SIZE = 8192  # 2 * 8192^3 flops a step: milliseconds on a current GPU, long enough to time
SM_MIN_PCT, TENSOR_MIN_PCT, ENERGY_TOLERANCE_PCT, SLOWDOWN_MAX_PCT = 80.0, 40.0, 2.0, 1.0


def matmul_step() -> tuple[Callable[[], None] | None, str]:
    """One synchronised FP16 matmul step on GPU 0, and the framework; None and why where there is none."""
    try:
        import torch

        if torch.cuda.is_available():
            a = torch.randn(SIZE, SIZE, device="cuda:0", dtype=torch.float16)
            b = torch.randn(SIZE, SIZE, device="cuda:0", dtype=torch.float16)

            def torch_step() -> None:
                torch.matmul(a, b)
                torch.cuda.synchronize()
            return torch_step, "torch"
    except ImportError:
        pass
    try:
        import cupy

        a = cupy.random.standard_normal((SIZE, SIZE), dtype=cupy.float32).astype(cupy.float16)
        b = cupy.random.standard_normal((SIZE, SIZE), dtype=cupy.float32).astype(cupy.float16)

        def cupy_step() -> None:
            cupy.matmul(a, b)
            cupy.cuda.Device(0).synchronize()
        return cupy_step, "cupy"
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001  cupy without a usable CUDA
        return None, f"cupy cannot use the GPU ({type(exc).__name__}: {exc})"
    return None, "neither torch with CUDA nor cupy is installed: no load to run"


def _load(step: Callable[[], None], stop: threading.Event, times: list[tuple[float, float]]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        step()
        times.append((started, time.perf_counter() - started))


def gpm_energy_check(seconds: float = 60.0) -> dict[str, Any]:
    step, framework = matmul_step()
    if step is None:
        return {"skipped": framework, "ok": True}
    for _ in range(5):
        step()  # warm up: kernels chosen, clocks up
    backend = PynvmlBackend()
    backend.init()
    times: list[tuple[float, float]] = []
    stop = threading.Event()
    worker = threading.Thread(target=_load, args=(step, stop, times), daemon=True)
    t0 = time.perf_counter()
    worker.start()
    half = t0 + seconds / 2
    gpm: list[dict[str, float | None]] = []
    power: list[tuple[float, float | None, float | None]] = []  # (t, W, J counter)
    backend.gpm_sample(0)
    next_gpm = time.perf_counter() + 1.0
    while time.perf_counter() < half:
        now = time.perf_counter()
        power.append((now - t0, backend.read_field(0, "power_w"), backend.read_field(0, "energy_j")))  # type: ignore[arg-type]
        if now >= next_gpm:
            values = backend.gpm_sample(0)
            if values is not None:
                gpm.append(values)
            next_gpm += 1.0
        time.sleep(0.1)
    time.sleep(max(0.0, t0 + seconds - time.perf_counter()))
    stop.set()
    worker.join()
    backend.shutdown()
    sm = median([g["sm_active_pct"] for g in gpm if g.get("sm_active_pct") is not None])
    tensor = median([g["tensor_active_pct"] for g in gpm if g.get("tensor_active_pct") is not None])
    energy = _steady_energy(power, seconds / 4 - 5, seconds / 4 + 5)
    on = median([d for s, d in times if t0 + 2 < s < half])
    off = median([d for s, d in times if s > half + 2])
    slowdown = 100.0 * (on - off) / off
    ok = (sm >= SM_MIN_PCT and tensor >= TENSOR_MIN_PCT and energy["difference_pct"] is not None
          and abs(energy["difference_pct"]) <= ENERGY_TOLERANCE_PCT and slowdown < SLOWDOWN_MAX_PCT)
    return {"framework": framework, "ok": ok, "sm_active_pct": sm, "tensor_active_pct": tensor,
            "energy_steady_10s": energy, "step_ms_gpm_on": on * 1e3, "step_ms_gpm_off": off * 1e3,
            "slowdown_pct": slowdown, "gpm_samples": len(gpm)}


def _steady_energy(power: list[tuple[float, float | None, float | None]], start: float, end: float) -> dict[str, Any]:
    """Counter vs trapezoid of power over [start, end] (the samples inside)."""
    inside = [(t, w, j) for t, w, j in power if start <= t <= end and w is not None and j is not None]
    if len(inside) < 2:
        return {"counter_j": None, "integrated_j": None, "difference_pct": None}
    counter = inside[-1][2] - inside[0][2]  # type: ignore[operator]
    integrated = sum((w0 + w1) / 2 * (t1 - t0) for (t0, w0, _), (t1, w1, _) in zip(inside, inside[1:]))  # type: ignore[operator]
    return {"counter_j": counter, "integrated_j": integrated,
            "difference_pct": 100.0 * (integrated - counter) / counter if counter > 0 else None}
