"""The shared signal fixtures (traces with expected derived values) through the live path."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from collectors.signals import SignalPipeline
from collectors.timeutil import us_from_iso

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "signals"
TRACES = sorted(path.name.removesuffix(".csv") for path in FIXTURES.glob("*.csv") if ".expected" not in path.name)
REL = 1e-6
EXACT_SUFFIXES = ("_alerts", "_collapse", "workload_state", "workload_source")

needs_fixtures = pytest.mark.skipif(not TRACES, reason=f"shared signal fixtures not found at {FIXTURES}")


def close(actual: Any, expected: Any) -> bool:
    if expected is None:
        return actual is None
    if actual is None:
        return False
    return math.isclose(float(actual), float(expected), rel_tol=REL, abs_tol=1e-12)


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def read_trace(name: str) -> tuple[list[dict[str, Any]], list[tuple[int, str]], list[dict[str, str]], dict[str, Any]]:
    """Raw frames (as the sampler builds them), tags, expected rows and expected summary/events."""
    frames = []
    with open(FIXTURES / f"{name}.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            frame: dict[str, Any] = {key: _number(value) for key, value in row.items() if key != "ts"}
            frame["ts"] = us_from_iso(row["ts"])
            for key, value in frame.items():
                if key.endswith("_throttle_reasons") and value is not None:
                    frame[key] = int(value)
            frames.append(frame)
    tags = []
    for line in (FIXTURES / f"{name}.events.jsonl").read_text().splitlines():
        if line.strip():
            event = json.loads(line)
            if event.get("kind") == "tag":
                tags.append((us_from_iso(event["ts"]), event["state"]))
    with open(FIXTURES / f"{name}.expected.csv", newline="") as handle:
        expected_rows = list(csv.DictReader(handle))
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    return frames, tags, expected_rows, expected


def gpu_indices(frame: dict[str, Any]) -> list[int]:
    return sorted(int(key[3:].split("_")[0]) for key in frame if key.startswith("gpu") and key.endswith("_util_pct"))


def assert_rows_match(rows: list[dict[str, Any]], expected_rows: list[dict[str, str]]) -> None:
    """Derived columns of each row against the expected CSV (floats 1e-6 relative, the rest exactly)."""
    assert len(rows) == len(expected_rows)
    for number, (row, expected) in enumerate(zip(rows, expected_rows), 1):
        for key, text in expected.items():
            if key in ("ts", "elapsed_s"):
                continue
            actual = row[key]
            if key.endswith(EXACT_SUFFIXES):
                wanted: Any = int(text) if key.endswith("_collapse") else text
                assert actual == wanted, f"row {number} {key}: {actual!r} != {wanted!r}"
            else:
                assert close(actual, _number(text)), f"row {number} {key}: {actual!r} != {text!r}"


def assert_summary_matches(summary: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, wanted in expected.items():
        actual = summary[key]
        if key == "devices":
            assert set(actual) == set(wanted)
            for prefix, fields in wanted.items():
                for field, value in fields.items():
                    assert close(actual[prefix][field], value), f"{prefix}.{field}: {actual[prefix][field]} != {value}"
        elif key == "workload_seconds":
            assert set(actual) == set(wanted)
            for state, seconds in wanted.items():
                assert close(actual[state], seconds), f"workload_seconds[{state}]"
        elif isinstance(wanted, float):
            assert close(actual, wanted), key
        else:
            assert actual == wanted, key


def assert_events_match(events: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(events) == len(expected)
    key = lambda event: (event["start"], event["device"])  # noqa: E731
    for actual, wanted in zip(sorted(events, key=key), sorted(expected, key=key)):
        assert actual["device"] == wanted["device"]
        for field in ("start", "end", "min_rle"):
            assert close(actual[field], wanted[field]), f"{wanted['device']} {field}: {actual[field]} != {wanted[field]}"


@needs_fixtures
@pytest.mark.parametrize("name", TRACES)
def test_live_path_reproduces_fixture(name: str) -> None:
    frames, tags, expected_rows, expected = read_trace(name)
    pipeline = SignalPipeline(gpu_indices(frames[0]))
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    events = []
    for frame in frames:
        events += pipeline.process(frame)
    events += pipeline.finish()

    assert_rows_match(frames, expected_rows)
    assert_summary_matches(pipeline.summary(), expected["summary"])
    assert_events_match(pipeline.collapse_events, expected["collapse_events"])
    # The events stream says the same as collapse_events: one start and one end each.
    ends = [event for event in events if event["kind"] == "collapse_end"]
    starts = [event for event in events if event["kind"] == "collapse_start"]
    assert len(starts) == len(ends) == len(expected["collapse_events"])
    assert_events_match(ends, expected["collapse_events"])


@needs_fixtures
@pytest.mark.parametrize("name", TRACES)
def test_tags_given_in_reverse_order_give_the_same_states(name: str) -> None:
    frames, tags, expected_rows, _ = read_trace(name)
    pipeline = SignalPipeline(gpu_indices(frames[0]))
    for ts_us, state in reversed(tags):
        pipeline.add_tag(ts_us, state)
    for frame in frames:
        pipeline.process(frame)
    for frame, expected in zip(frames, expected_rows):
        assert (frame["workload_state"], frame["workload_source"]) == (
            expected["workload_state"],
            expected["workload_source"],
        )
