"""A journal line is byte for byte the JSON object the plain encoder writes for the same frame (NaN and ±inf as
null), whatever it holds."""

from __future__ import annotations

import enum
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.schema import session_columns
from collectors.signals import SignalPipeline
from collectors.simulated import SimulatedCollector
from recordings.journal_row import RowEncoder

_plain = json.JSONEncoder(separators=(",", ":")).encode
COLUMNS = session_columns([0, 1])
NAMES = list(COLUMNS)


def plain(frame: dict, names: list[str] = NAMES) -> str:
    """What the recorder wrote before: the dict of the columns' values, encoded by json; then its bare NaN and
    ±Infinity (no JSON) as null, the rest as it was."""
    written = _plain(dict(zip(names, map(frame.get, names))))
    return _plain(json.loads(written, parse_constant=lambda _: None)) + "\n"


class Kind(enum.IntEnum):
    ONE = 1


class Reading(float):
    """A float subclass (as numpy's float64 is one)."""


HOSTILE = [
    0.0, -0.0, 1e-300, 5e-324, 1e20, 1e16, 123456789.123456789, -2.5, math.nan, math.inf, -math.inf,
    0, -7, 2**64, -(2**100), True, False, None, "", "a,b", 'say "hi"\n\tok', "naïve ☃ 💥", "%s %d %%", "\x00\x1f\\",
    [], [1.5, None, -0.0], [[1, 2], ["x,y"]], {"k": [1, 2]}, {}, Kind.ONE, Reading(0.1), (1, 2),
]


def test_every_kind_of_value_in_every_column_is_written_as_json_writes_it():
    encoder = RowEncoder(COLUMNS)
    for value in HOSTILE:
        for name in (NAMES[3], "cpu_core_util_pct", "workload_state", NAMES[-1]):  # a number, the list, a text, the last
            frame = {"ts": 1, "elapsed_s": 0.5, name: value}
            assert encoder.line(frame) == plain(frame), (name, value)
        every = dict.fromkeys(NAMES, value)
        assert encoder.line(every) == plain(every), value


def test_frames_of_the_simulated_source_with_their_signals_are_written_as_json_writes_them():
    collector, pipeline = SimulatedCollector(2, seed=3), SignalPipeline([0, 1])
    encoder = RowEncoder(COLUMNS)
    for k in range(0, 6000, 7):
        frame = {"ts": 1_700_000_000_000_000 + k * 100_000, "elapsed_s": k / 10, "sample_lag_ms": 0.25,
                 "self_threads": "main=1.0 sampler=0.4", **collector.read(k / 10)}
        pipeline.process(frame)
        assert encoder.line(frame) == plain(frame)


def test_no_columns_and_odd_names():
    assert RowEncoder({}).line({"a": 1}) == "{}\n"
    names = {"%s": "f64", 'q"uote': "str", "ünï": "list_f32", "a,b": "f64"}
    frame = {"%s": 1.5, 'q"uote': "x,y", "ünï": [1.0, 2.0], "a,b": None}
    assert RowEncoder(names).line(frame) == plain(frame, list(names))
    assert RowEncoder(names).line({}) == plain({}, list(names))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES), json_values, max_size=12))
def test_any_frame_is_written_as_json_writes_it(frame):
    assert RowEncoder(COLUMNS).line(frame) == plain(frame)
