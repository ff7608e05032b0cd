"""Check expressions: the tokenizer and parser (errors point at the column), names from the summary schema, logic."""

from __future__ import annotations

import pytest

from collectors.signals import SignalPipeline
from collectors.spans import SpanTracker
from recordings.checks import CheckError, checks_table, parse_check, validate_checks


def _schema(gpus: list[int]) -> dict:
    return {**SignalPipeline(gpus).summary(), "spans": SpanTracker(gpus, {}, []).summary()}


SUMMARY = {
    "samples": 100, "duration_s": 10.0, "max_temp": 80.0, "rle_range": "0.1-0.9",
    "devices": {"cpu": {"max_temp_c": 60.0, "max_power_w": None, "collapse_events": 1},
                "gpu0": {"max_temp_c": 80.0, "max_power_w": 300.0, "collapse_events": 2,
                         "throttle": {"thermal_fraction": 0.02, "power_cap_fraction": 0.5}}},
    "workload_seconds": {"baseline": 4.0, "run": 5.0, "compute": 1.0},
    "spans": {"total": 10, "success_rate": 0.9},
}


@pytest.mark.parametrize(("expression", "passed"), [
    ("gpu0.max_temp_c < 85", True),
    ("gpu0.max_temp_c >= 85", False),
    ("collapses == 3", True),  # summed over cpu and gpu0
    ("spans.success_rate >= 0.99", False),
    ("throttle.gpu0.thermal_fraction < 0.05", True),
    ("workload.compute_s > 0.5 and workload.run_s == 5", True),
    ("workload.eval_s == 0", True),  # a state never entered: 0 seconds
    ("not (samples < 50) or max_temp > 1e3", True),
    ("gpu0.max_temp_c > 90 or collapses != 3", False),
    ("cpu.max_power_w < 100", False),  # not measured: unknown, so not passed
    ("not cpu.max_power_w < 100", False),
    ("cpu.max_power_w < 100 or samples == 100", True),  # unknown or true is true
    ("1.5e1 > duration_s", True),
])
def test_evaluation(expression, passed):
    result = parse_check(expression).evaluate(SUMMARY)
    assert result["passed"] is passed
    assert result["expression"] == expression


def test_value_is_the_single_names_value():
    assert parse_check("gpu0.max_temp_c < 85").evaluate(SUMMARY)["value"] == 80.0
    both = parse_check("gpu0.max_temp_c < 85 and collapses == 3").evaluate(SUMMARY)
    assert both["value"] is None and both["values"] == {"gpu0.max_temp_c": 80.0, "collapses": 3}


@pytest.mark.parametrize(("expression", "message"), [
    ("gpu0.max_temp_c << 85", "unexpected '<' at column 18"),
    ("gpu0.max_temp_c < ", "unexpected end of expression at column 19"),
    ("gpu0.max_temp_c", "unexpected end of expression at column 16"),
    ("(collapses == 0", "unexpected end of expression at column 16"),
    ("collapses == 0 and", "unexpected end of expression at column 19"),
    ("collapses = 0", "unexpected '=' at column 11"),
    ("collapses == 0 samples", "unexpected 'samples' at column 16"),
    ("collapses == 85C", "unexpected 'C' at column 16"),
    ("__import__('os') == 1", "unexpected ''' at column 12"),
])
def test_malformed_expression_names_the_column(expression, message):
    with pytest.raises(CheckError) as caught:
        parse_check(expression)
    assert str(caught.value).startswith(f"--check '{expression}': {message}")


def test_names_come_from_the_sessions_devices():
    schema = _schema([0])
    validate_checks([parse_check(text) for text in (
        "gpu0.max_temp_c < 85", "collapses == 0", "spans.success_rate >= 0.99", "throttle.gpu0.thermal_fraction < 0.05",
        "workload.compute_s > 60", "cpu.mean_util_pct > 1", "gpu_collapses == 0", "spans.p95_duration_s < 2")], schema)
    for text, hint in (("gpu1.max_temp_c < 85", "did you mean gpu0.max_temp_c?"),
                       ("throttle.cpu.thermal_fraction < 1", "did you mean throttle.gpu0.thermal_fraction?"),
                       ("gpu0.temperature < 85", "known: ")):
        with pytest.raises(CheckError) as caught:
            validate_checks([parse_check(text)], schema)
        assert f"--check '{text}': unknown name" in str(caught.value) and hint in str(caught.value)
    validate_checks([parse_check("gpu1.max_temp_c < 85")], _schema([0, 1]))
    with pytest.raises(CheckError, match="unknown name 'gpu0.max_temp_c'"):
        validate_checks([parse_check("gpu0.max_temp_c < 85")], _schema([]))  # a CPU-only session


def test_table_shows_pass_and_fail():
    results = [parse_check(text).evaluate(SUMMARY) for text in ("collapses == 3", "gpu0.max_temp_c < 70")]
    lines = checks_table(results).splitlines()
    assert lines[0].split() == ["result", "check", "value"]
    assert lines[1].startswith("PASS") and "collapses=3" in lines[1]
    assert lines[2].startswith("FAIL") and "gpu0.max_temp_c=80" in lines[2]
