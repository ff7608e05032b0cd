"""Steps of the wall clock against the monotonic one: finding them, and mapping wall times back."""

from __future__ import annotations

from collectors.clock import ClockShifts, StepDetector

T0_US = 1_800_000_000_000_000


def test_a_step_is_more_than_a_second_of_disagreement() -> None:
    steps = StepDetector()
    readings = [(0.0, 0.0), (1.0, 1.0), (2.9, 2.0), (3.0, 3.0), (-3597.0, 4.0), (5.0, 5.0)]  # (wall s, monotonic s)
    found = [steps.check(T0_US + round(wall * 1e6), mono) for wall, mono in readings]
    assert found == [None, None, None, None, -3601.0, 3601.0]  # 0.9 s of jitter is not a step


def test_wall_times_map_to_the_session_stretch_they_belong_to() -> None:
    shifts = ClockShifts([(20.0, -3600.0), (40.0, 3600.0)])
    assert shifts and not ClockShifts()
    assert [shifts.at(t) for t in (0.0, 19.9, 20.0, 39.9, 40.0, 99.0)] == [0.0, 0.0, -3600.0, -3600.0, 0.0, 0.0]
    assert shifts.elapsed_of(10.0) == 10.0
    assert shifts.elapsed_of(25.0 - 3600.0) == 25.0  # inside the hour the clock went back
    assert shifts.elapsed_of(50.0) == 50.0
    events = [{"kind": "clock_step", "elapsed_s": 20.0, "step_s": -3600.0}, {"kind": "note", "text": "x"},
              {"kind": "clock_step", "elapsed_s": "soon", "step_s": 1.0}]
    assert ClockShifts.of_events(events).shifts == [0.0, -3600.0]
