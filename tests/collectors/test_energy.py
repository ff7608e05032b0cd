"""Energy with its method: the counter against the integral of power (over the NVML mock and by hand),
the counter's update period, windows too short for it, and honest nulls."""

from __future__ import annotations

import random

import pytest

from collectors.energy import EnergyAccount
from collectors.gpu import GpuCollector
from collectors.signals import SignalPipeline
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)
from tests.nvml_mock.scenario import NOT_SUPPORTED, energy_counter, h100

T0_US = 1_800_000_000_000_000
TICK_S = 0.1
PERIOD_TICKS = 5  # the mock's counter publishes every 0.5 s


def load_shape(ticks: int, seed: int = 4) -> list[int]:
    """A training-like power trace in mW: steps between 300 and 650 W with ripple, multiples of 10 mW."""
    rng = random.Random(seed)
    level, out = 300_000, []
    for k in range(ticks):
        if k % 40 == 0:
            level = rng.choice([300_000, 450_000, 600_000, 650_000])
        out.append(level + 10 * rng.randrange(-2000, 2000))
    return out


def record(scenario, collector: GpuCollector, ticks: int) -> dict:
    pipeline = SignalPipeline(list(collector.indices))
    for tick in range(ticks):
        scenario.advance(tick)
        frame = {"ts": T0_US + round(tick * TICK_S * 1e6), "elapsed_s": tick * TICK_S, **collector.read(tick * TICK_S)}
        pipeline.process(frame)
    return pipeline.summary()["devices"]


@pytest.mark.nvml_abi
def test_counter_and_integrated_power_agree_on_the_mock_and_the_period_is_measured(mock_backend):
    ticks = 400
    power = load_shape(ticks)
    with_counter, without_counter, stuck = h100(0), h100(1), h100(2)
    for gpu in (with_counter, without_counter, stuck):
        gpu["series"]["power_mw"] = power
    with_counter["series"]["energy_mj"] = energy_counter(power, PERIOD_TICKS)
    without_counter["faults"] = [{"function": "nvmlDeviceGetTotalEnergyConsumption", "code": NOT_SUPPORTED}]
    stuck["series"]["energy_mj"] = 7_000_000  # a counter that never advances
    scenario, backend = mock_backend([with_counter, without_counter, stuck])
    collector = GpuCollector(backend, [0, 1, 2])
    devices = record(scenario, collector, ticks)
    collector.close()

    counted = devices["gpu0"]["energy"]
    assert counted["method"] == "counter" and counted["energy_j"] == counted["counter_j"]
    assert counted["counter_update_period_s"] == pytest.approx(PERIOD_TICKS * TICK_S)
    check = counted["self_check"]
    assert abs(check["difference_pct"]) < 0.5, check
    assert check["counter_j"] == pytest.approx(check["integrated_j"], rel=0.005)
    assert counted["uncertain"] is False
    # the counter's figure against the energy the mock's GPU really drew (its steps cost at most one period)
    drawn = sum(power[: ticks - 1]) * TICK_S / 1000
    assert counted["energy_j"] == pytest.approx(drawn, rel=PERIOD_TICKS / ticks + 1e-9)
    assert counted["integrated_j"] == pytest.approx(drawn, rel=0.005)

    for prefix in ("gpu1", "gpu2"):  # no counter, or one that does not advance: power, and it says so
        energy = devices[prefix]["energy"]
        assert energy["method"] == "integrated_power" and energy["counter_j"] is None
        assert energy["energy_j"] == energy["integrated_j"] == pytest.approx(counted["integrated_j"])
        assert energy["self_check"] is None and energy["counter_update_period_s"] is None
    assert devices["cpu"]["energy"]["method"] == "none" and devices["cpu"]["energy"]["energy_j"] is None


def account(samples: list[tuple[float, float | None, float | None]], method: str = "integrated_power") -> dict:
    energy = EnergyAccount(method)
    for t, power, counter in samples:
        energy.add(t, power, counter)
    return energy.summary()


def test_a_window_shorter_than_five_counter_periods_is_uncertain_not_zero():
    # 100 W, counter updating every second, sampled at 10 Hz for 3 s: 3 periods
    samples = [(k / 10, 100.0, 1000.0 + 100.0 * (k // 10)) for k in range(31)]
    summary = account(samples)
    assert summary["counter_update_period_s"] == pytest.approx(1.0)
    assert summary["method"] == "counter" and summary["uncertain"] is True
    assert summary["energy_j"] == pytest.approx(300.0) and summary["integrated_j"] == pytest.approx(300.0)
    long = account([(k / 10, 100.0, 1000.0 + 100.0 * (k // 10)) for k in range(61)])
    assert long["uncertain"] is False


def test_a_counter_that_goes_back_is_not_used():
    summary = account([(0.0, 50.0, 900.0), (1.0, 50.0, 950.0), (2.0, 50.0, 10.0), (3.0, 50.0, 60.0)])
    assert summary["method"] == "integrated_power" and summary["counter_j"] is None
    assert summary["energy_j"] == pytest.approx(150.0)  # never negative, never the counter's jump


def test_nothing_measured_is_none_and_a_power_gap_is_not_bridged():
    assert account([(0.0, None, None), (1.0, None, None)]) == {
        "method": "none", "energy_j": None, "counter_j": None, "integrated_j": None,
        "counter_update_period_s": None, "uncertain": False, "self_check": None}
    readings = [(0.0, 100.0, None), (1.0, 100.0, None), (2.0, None, None), (3.0, 100.0, None), (4.0, 100.0, None)]
    gap = account(readings)
    assert gap["method"] == "integrated_power" and gap["energy_j"] == pytest.approx(200.0)
    # RAPL's power is the mean over the tick that ends at it: only the tick ending at the null is unknown
    rapl = account(readings, method="rapl")
    assert rapl["method"] == "rapl" and rapl["energy_j"] == pytest.approx(300.0)


def test_a_counter_that_does_not_advance_under_load_is_told_once_at_start():
    from collectors.fake_nvml import FakeGpu, FakeNvml

    fake = FakeNvml([FakeGpu(), FakeGpu(readings={"energy_j": 5000.0}), FakeGpu(readings={"energy_j": 5000.0,
                                                                                          "power_w": 0.0})])
    collector = GpuCollector(fake, [0, 1, 2])
    for k in range(200):  # 20 s at 10 Hz
        collector.read(k / 10)
    # GPU 0 counts; GPU 1 holds still while drawing 150 W; GPU 2 draws nothing, so its counter may rest
    assert collector.drain_notices() == ["nvml: gpu1 energy counter does not advance under load: "
                                         "energy from integrated power"]
