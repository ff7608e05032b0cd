"""Properties of collapse detection that hold for any trace (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collectors.signals import SignalPipeline

T0_US = 1_773_480_413_000_000
LIMIT_W = 250.0


def run_gpu(samples: list[tuple[float, float, float, float | None, int | None]]) -> tuple[list[dict[str, Any]], SignalPipeline]:
    """(t, util, power, temp, throttle) per sample through a one-GPU pipeline; returns frames and pipeline."""
    pipeline = SignalPipeline([0])
    frames = []
    for t, util, power, temp, throttle in samples:
        item = {
            "ts": T0_US + round(t * 1e6), "elapsed_s": t, "cpu_util_pct": 20.0,
            "gpu0_util_pct": util, "gpu0_power_w": power, "gpu0_power_limit_w": LIMIT_W,
            "gpu0_temp_c": temp, "gpu0_temp_limit_c": 83.0, "gpu0_throttle_reasons": throttle,
        }  # fmt: skip
        pipeline.process(item)
        frames.append(item)
    pipeline.finish()
    return frames, pipeline


# A collapse shape: (gap of normal running before it, its length). Lengths are either too short
# to ever confirm (< 4 s) or clearly long enough (>= 12 s), so both rates must agree on the count.
collapse_shape = st.tuples(
    st.floats(15.0, 40.0),
    st.one_of(st.floats(1.0, 4.0), st.floats(12.0, 60.0)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.floats(70.0, 120.0),
    shapes=st.lists(collapse_shape, min_size=1, max_size=3),
    normal_util=st.floats(90.0, 100.0),
    normal_load=st.floats(0.3, 0.6),
    collapse_util=st.floats(65.0, 80.0),
    collapse_load=st.floats(0.96, 1.0),
)
def test_1hz_and_10hz_sampling_find_the_same_collapses_within_a_tick(
    first: float, shapes: list[tuple[float, float]], normal_util: float, normal_load: float,
    collapse_util: float, collapse_load: float,
) -> None:
    # The efficiency in a collapse must be well under 65 % of the normal one, or the answer
    # would hang on the exact window contents.
    assume((collapse_util / collapse_load) / (normal_util / normal_load) < 0.5)
    intervals = []
    start = first
    for gap, length in shapes:
        intervals.append((start, start + length))
        start += length + gap
    end = start + 20.0

    def sample(t: float) -> tuple[float, float, float, float | None, int | None]:
        inside = any(a <= t < b for a, b in intervals)
        util, load = (collapse_util, collapse_load) if inside else (normal_util, normal_load)
        return t, util, load * LIMIT_W, 60.0, 0

    _, slow = run_gpu([sample(k / 1.0) for k in range(int(end) + 1)])
    _, fast = run_gpu([sample(k / 10.0) for k in range(int(end * 10) + 1)])
    slow_events = [(e["start"], e["end"]) for e in slow.collapse_events]
    fast_events = [(e["start"], e["end"]) for e in fast.collapse_events]
    expected = sum(1 for _, length in shapes if length >= 12.0)
    assert len(slow_events) == len(fast_events) == expected
    for (s1, e1), (s10, e10) in zip(slow_events, fast_events):
        assert abs(s1 - s10) <= 1.0 + 1e-9
        assert abs(e1 - e10) <= 1.0 + 1e-9


segment = st.tuples(
    st.floats(0.5, 30.0),  # length, s
    st.floats(0.0, 100.0),  # util %
    st.floats(0.0, 1.2),  # power / limit
    st.one_of(st.none(), st.floats(40.0, 95.0)),  # temperature
    st.sampled_from([None, 0, 0x1, 0x4, 0x20, 0x80, 0x100]),  # throttle bitmask
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(segment, min_size=1, max_size=25),
    dts=st.lists(st.floats(0.05, 2.0), min_size=1, max_size=7),
)
def test_no_event_in_warm_up_and_events_never_overlap(
    segments: list[tuple[float, float, float, float | None, int | None]], dts: list[float]
) -> None:
    samples = []
    t = 0.0
    k = 0
    for length, util, load, temp, throttle in segments:
        stop = t + length
        while t < stop:
            samples.append((t, util, load * LIMIT_W, temp, throttle))
            t += dts[k % len(dts)]
            k += 1
    frames, pipeline = run_gpu(samples)
    for item in frames:
        if item["elapsed_s"] < 60.0:
            assert item["gpu0_collapse"] == 0 and item["gpu0_rolling_peak"] == 0.0
    events = [e for e in pipeline.collapse_events if e["device"] == "gpu0"]
    for event in events:
        assert event["start"] >= 60.0
        # Confirmed after 7 s of candidate run; ends at the first false sample after that at the earliest.
        assert event["end"] is not None and event["end"] >= event["start"] + 7.0 - 1e-9
    for before, after in zip(events, events[1:]):
        assert before["end"] <= after["start"]
    # Flags agree with the events: a sample flagged 1 lies in an event's span.
    for item in frames:
        if item["gpu0_collapse"]:
            assert any(e["start"] <= item["elapsed_s"] for e in events)
