"""A real /metrics page holds to Prometheus' conventions, family by family (what `promtool check metrics`
and a cluster's recording rules expect), so a new metric cannot slip in a unit or a type by mistake."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.conftest import page_with_a_span, scrape, serving, wait_for

NAME = re.compile(r"rigscope_[a-z][a-z0-9]*(_[a-z0-9]+)*")
# Words that say a unit other than the base one (Prometheus: seconds, bytes, hertz, watts, joules, celsius, ratio).
NOT_BASE_UNITS = {"ms", "us", "ns", "milliseconds", "minutes", "hours", "kb", "mb", "gb", "kib", "mib", "gib", "bits",
                  "khz", "mhz", "ghz", "pct", "percent", "kw", "mw", "kj", "kwh", "kelvin", "fahrenheit", "c"}
BASE_UNITS = ("seconds", "bytes", "hertz", "watts", "joules", "celsius", "ratio", "cores", "bytes_per_second")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    return page_with_a_span(tmp_path_factory.mktemp("sessions"))


@pytest.fixture(scope="module")
def families(page: str) -> list[Any]:
    return list(text_string_to_metric_families(page))


def test_each_family_has_one_help_and_one_type_before_its_samples(page):
    kinds = {}
    helps = Counter(line.split()[2] for line in page.splitlines() if line.startswith("# HELP "))
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in kinds, f"{name}: a second TYPE line"
            kinds[name] = kind
        elif not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            family = next((f for f in (name, re.sub(r"_(bucket|sum|count)$", "", name)) if f in kinds), None)
            assert family is not None, f"{name}: a sample before its family's TYPE"
    assert set(helps) == set(kinds) and set(helps.values()) == {1}


def test_names_counters_and_units_follow_the_conventions(families):
    for family in families:
        exposed = family.name + ("_total" if family.type == "counter" else "")
        assert NAME.fullmatch(exposed), exposed
        assert family.type in ("gauge", "counter", "histogram"), exposed
        assert not set(exposed.split("_")) & NOT_BASE_UNITS, f"{exposed}: not a base unit"
        if family.type == "gauge":
            assert not exposed.endswith("_total"), f"{exposed}: a gauge named as a counter"
        if family.type == "histogram":
            assert exposed.endswith("_seconds"), exposed
        if exposed.endswith("_ratio"):
            assert all(0.0 <= s.value <= 1.0 for s in family.samples), (exposed, [s.value for s in family.samples])
        assert family.documentation.strip(), f"{exposed}: no HELP text"
    ends = Counter(next((u for u in BASE_UNITS if f.name.endswith(u)), "") for f in families)
    assert ends["seconds"] and ends["bytes"] and ends["celsius"] and ends["ratio"]


def test_no_duplicate_series_and_no_value_that_is_not_a_number(families):
    seen = Counter((s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples)
    assert [key for key, count in seen.items() if count > 1] == []
    for family in families:
        for sample in family.samples:
            assert math.isfinite(sample.value), (sample.name, sample.labels, sample.value)


def test_the_simulated_box_says_so(families):
    by_name = {family.name: family for family in families}
    (info,) = by_name["rigscope_info"].samples
    assert info.labels["source"] == "simulated" and info.labels["host"] == "sim-rig"
    assert {s.labels["driver_version"] for s in by_name["rigscope_gpu_info"].samples} == {"simulated"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_finds_nothing_to_lint(page):
    result = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result


def test_counters_never_go_back_from_one_scrape_to_the_next(tmp_path):
    """Prometheus reads a counter that goes back as a reset and counts its whole value again."""
    pages = []
    with serving(tmp_path, gpus_sim=2, hz=20.0, duration_s=60.0) as monitor:
        for count in range(1, 6):
            wait_for(lambda: monitor.http.feed.snapshot().samples >= 4 * count, what="more samples")
            pages.append({(s.name, tuple(sorted(s.labels.items()))): s.value for f in scrape(monitor.http.port).values()
                          if f.type in ("counter", "histogram") for s in f.samples})
    assert len(pages[-1]) >= 19  # energy, throttle, collapses, disk and network bytes, samples, drops
    for before, after in zip(pages, pages[1:]):
        assert set(before) <= set(after)
        assert [key for key, value in before.items() if after[key] < value] == []
