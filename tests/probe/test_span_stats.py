"""The one statistics class of finished spans: what each reader (dashboard, /metrics, summary, replay) gets."""

from __future__ import annotations

import pytest

from collectors.span_stats import MAX_NAMES, OTHER_NAME, SpanStatistics


def row(name: str, duration: object, success: bool = True, parent: str | None = None, **columns: object) -> dict:
    return {"name": name, "total_duration_s": duration, "success": success, "parent_id": parent, **columns}


def test_a_span_without_a_duration_counts_but_not_in_the_duration_figures():
    stats = SpanStatistics()
    for item in (row("a", 1.0), row("a", 3.0), row("a", None, success=False), row("a", -2.0),
                 row("a", float("nan")), row("a", True)):
        stats.add(item)
    summary = stats.summary()
    assert (summary["total"], summary["successful"], summary["failed"]) == (6, 5, 1)
    assert summary["avg_duration_s"] == 2.0 and summary["p50_duration_s"] == 2.0
    totals = stats.figures().totals
    assert (totals.timed, totals.duration_min, totals.duration_max) == (2, 1.0, 3.0)
    assert totals.cumulative_buckets()[-1] == (float("inf"), 2)


def test_means_count_only_the_rows_that_measured_them():
    stats = SpanStatistics()
    stats.add(row("tts", 1.0, rtf=0.5, peak_memory_mb=100.0, tokens_per_second=None, energy_j=10.0))
    stats.add(row("tts", 2.0, rtf=None, peak_memory_mb=300.0, tokens_per_second=50.0, energy_j=None))
    summary = stats.summary()
    assert (summary["avg_rtf"], summary["avg_peak_memory_mb"], summary["avg_tokens_per_sec"]) == (0.5, 200.0, 50.0)
    assert summary["total_energy_j"] == 10.0
    assert stats.figures().totals.peak_memory_max_mb == 300.0
    assert SpanStatistics().summary()["avg_rtf"] is None and SpanStatistics().summary()["total_energy_j"] is None


def test_levels_apart_for_the_dashboard_merged_for_prometheus():
    stats = SpanStatistics()
    for duration in (0.1, 0.2, 0.3):
        stats.add(row("step", duration))
    stats.add(row("step", 5.0, success=False, parent="p"))
    stats.add(row("other", 1.0))
    levels = {(r["name"], r["nested"]): r for r in stats.by_name()}
    assert levels[("step", False)]["total"] == 3 and levels[("step", True)]["failed"] == 1
    assert levels[("step", False)]["p50_duration_s"] == pytest.approx(0.2)
    [step] = [s for s in stats.figures().names if s.name == "step"]
    assert (step.count, step.failed, step.timed, step.duration_max) == (4, 1, 4, 5.0)
    assert step.duration_sum == pytest.approx(5.6)
    assert sum(step.bucket_counts) == 4


def test_names_beyond_the_bound_count_under_one_name_everywhere():
    stats = SpanStatistics()
    for i in range(MAX_NAMES + 20):
        stats.add(row(f"n{i}", 1.0))
    names = [s.name for s in stats.figures().names]
    assert len(names) == MAX_NAMES + 1 and names[-1] == OTHER_NAME
    assert [r["total"] for r in stats.by_name() if r["name"] == OTHER_NAME] == [20]


def test_figures_are_one_frozen_object_until_something_changes():
    stats = SpanStatistics()
    first = stats.figures()
    assert stats.figures() is first
    stats.add(row("a", 1.0))
    second = stats.figures()
    assert second is not first and second.totals.count == 1 and first.totals.count == 0
    stats.open = 2
    assert stats.figures().open == 2


def test_recent_rows_newest_first_and_bounded():
    stats = SpanStatistics(recent=3)
    for i in range(5):
        stats.add(row(f"s{i}", 1.0))
    assert [r["name"] for r in stats.recent(10)] == ["s4", "s3", "s2"]
    assert stats.recent(0) == []


def test_per_name_takes_both_levels_together_for_the_report():
    stats = SpanStatistics()
    for duration, parent in ((1.0, None), (2.0, "p"), (3.0, "p")):
        stats.add(row("step", duration, parent=parent, energy_j=duration * 10, tokens_per_second=None))
    stats.add(row("load", 0.5, success=False))
    step, load = stats.per_name()
    assert (step["name"], step["total"], step["p50_duration_s"], step["avg_duration_s"]) == ("step", 3, 2.0, 2.0)
    assert step["avg_energy_j"] == 20.0 and step["avg_tokens_per_sec"] is None and step["success_rate"] == 1.0
    assert (load["name"], load["success_rate"], load["p95_duration_s"]) == ("load", 0.0, 0.5)
