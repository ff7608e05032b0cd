"""Rolling window sums against direct recomputation, over long sessions with large elapsed_s."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from collectors.signals.windows import DeviceWindow, MeanWindow3


def direct(samples: Sequence[tuple[float, float | None, float | None]], t: float) -> tuple[float, float]:
    """σ of u and OLS slope of temperature over (t - 5, t], computed from scratch."""
    window = [s for s in samples if t - 5 < s[0] <= t]
    us = [u for _, u, _ in window if u is not None]
    sigma = 0.0
    if len(us) > 1:
        mean = math.fsum(us) / len(us)
        sigma = math.sqrt(math.fsum((u - mean) ** 2 for u in us) / len(us))
    points = [(x, y) for x, _, y in window if y is not None]
    slope = 0.0
    if len(points) > 1:
        mx = math.fsum(x for x, _ in points) / len(points)
        my = math.fsum(y for _, y in points) / len(points)
        sxx = math.fsum((x - mx) ** 2 for x, _ in points)
        if sxx > 0:
            slope = math.fsum((x - mx) * (y - my) for x, y in points) / sxx
    return sigma, slope


def run_trace(times: Sequence[float], seed: int, check_every: int) -> None:
    rng = random.Random(seed)
    window = DeviceWindow()
    samples: list[tuple[float, float | None, float | None]] = []
    temp = 60.0
    for k, t in enumerate(times):
        u = None if rng.random() < 0.05 else rng.choice([0.0, 1.0, rng.random()])
        temp += rng.uniform(-0.05, 0.06)
        reading = None if rng.random() < 0.1 else temp
        samples.append((t, u, reading))
        if len(samples) > 400:
            del samples[:200]
        sigma, slope = window.push(t, u, reading)
        window.push_rle(None)
        if k % check_every == 0:
            want_sigma, want_slope = direct(samples, t)
            assert sigma == pytest.approx(want_sigma, rel=1e-9, abs=1e-9), f"σ at t={t}"
            assert slope == pytest.approx(want_slope, rel=1e-7, abs=1e-9), f"slope at t={t}"


def test_day_long_trace_at_1hz_matches_direct_recomputation() -> None:
    times = [k + 0.37 * math.sin(k) for k in range(86_400)]
    run_trace(times, seed=1, check_every=97)


def test_10hz_trace_near_the_end_of_a_day_matches_direct_recomputation() -> None:
    start = 86_000.0
    times = [start + k / 10 for k in range(20_000)]
    run_trace(times, seed=2, check_every=13)


def test_constant_utilization_has_exactly_zero_sigma() -> None:
    window = DeviceWindow()
    for k in range(5_000):
        sigma, _ = window.push(80_000 + k * 0.1, 1.0 if k > 100 else 0.25, None)
        window.push_rle(None)
        if k > 160:
            assert sigma == 0.0


def test_rle_mean_of_zeros_is_exactly_zero_after_nonzero_values() -> None:
    window = DeviceWindow()
    for k in range(300):
        window.push(k * 0.1, 0.5, None)
        mean = window.push_rle(0.123456789 if k < 100 else 0.0)
        if k >= 150:
            assert mean == 0.0


def test_rle_mean_skips_nulls_and_is_null_without_values() -> None:
    window = DeviceWindow()
    window.push(0.0, 0.5, None)
    assert window.push_rle(None) is None
    window.push(1.0, 0.5, None)
    assert window.push_rle(0.4) == pytest.approx(0.4)
    window.push(2.0, 0.5, None)
    assert window.push_rle(None) == pytest.approx(0.4)
    window.push(3.0, 0.5, None)
    assert window.push_rle(0.8) == pytest.approx(0.6)


def test_window_is_left_open_right_closed() -> None:
    window = MeanWindow3()
    assert window.push(0.0, 10.0, 0.0, 0.0)[0] == 10.0
    assert window.push(4.0, 20.0, 0.0, 0.0)[0] == 15.0
    # t = 5: the sample at 0 is out (t_k - 5 < t_j), the one at 4 is in.
    assert window.push(5.0, 30.0, 0.0, 0.0)[0] == 25.0


def test_mean_window_matches_direct_means_over_long_trace() -> None:
    rng = random.Random(3)
    window = MeanWindow3()
    samples: list[tuple[float, float, float, float]] = []
    for k in range(50_000):
        t = 40_000 + k * 0.25
        values = (rng.uniform(0, 100), rng.uniform(0, 100), rng.choice([0.0, rng.uniform(0, 3e8)]))
        samples.append((t, *values))
        means = window.push(t, *values)
        if k % 101 == 0:
            inside = [s for s in samples[-40:] if t - 5 < s[0] <= t]
            for i in range(3):
                assert means[i] == pytest.approx(math.fsum(s[i + 1] for s in inside) / len(inside), rel=1e-9, abs=1e-6)
