"""Derived numbers against SIGNALS.md and the summary's contracts, on small hand-computed traces the fixtures
do not cover (nulls, stalls, devices lost), live path and offline path alike."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.signals import SignalPipeline

T0_US = 1_773_480_413_000_000  # 2026-03-14T09:26:53Z


def gpu(t: float, throttle: int | None = 0, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ts": T0_US + round(t * 1e6), "elapsed_s": t, "cpu_util_pct": 10.0,
                            "gpu0_util_pct": 50.0, "gpu0_temp_c": 60.0, "gpu0_power_w": 100.0,
                            "gpu0_power_limit_w": 250.0, "gpu0_temp_limit_c": 83.0, "gpu0_throttle_reasons": throttle}
    base.update(values)
    return base


def summaries(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary of the live path (frame by frame) and of the offline path (column by column)."""
    live = SignalPipeline([0])
    for item in frames:
        live.process(dict(item))
    live.finish()
    offline = SignalPipeline([0])
    names = sorted({name for item in frames for name in item} - {"ts"})
    offline.process_columns([item["ts"] for item in frames], {name: [item.get(name) for item in frames] for name in names})
    offline.finish()
    return [live.summary(), offline.summary()]


def test_throttle_of_a_gpu_whose_bitmask_was_never_read_is_unknown_not_zero() -> None:
    """Summary §6 (per-GPU throttle accounting): no bitmask read is no measurement: null seconds and fractions,
    never a measured 0 % throttled."""
    frames = [gpu(float(t), throttle=None) for t in range(11)]
    for summary in summaries(frames):
        throttle = summary["devices"]["gpu0"]["throttle"]
        assert throttle["observed_s"] is None
        assert throttle["throttled_s"] is None and throttle["throttled_fraction"] is None
        assert throttle["power_cap_s"] is None and throttle["thermal_fraction"] is None


def test_throttle_fractions_are_of_the_time_the_bitmask_was_read() -> None:
    """Summary §6 (per-GPU throttle accounting): a GPU lost halfway (bitmask null from 5 s on) that was
    power-capped at every sample it could be read is 100 % power-capped over the 5 s seen, not 50 %."""
    frames = [gpu(float(t), throttle=0x4 if t < 5 else None) for t in range(11)]
    for summary in summaries(frames):
        throttle = summary["devices"]["gpu0"]["throttle"]
        assert throttle["observed_s"] == pytest.approx(5.0)  # samples 0..4, each until the next
        assert throttle["power_cap_s"] == pytest.approx(5.0)
        assert throttle["power_cap_fraction"] == pytest.approx(1.0)
        assert throttle["thermal_s"] == 0.0 and throttle["thermal_fraction"] == 0.0
