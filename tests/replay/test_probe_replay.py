"""Replay: the spans and metrics panes, and the metric overlay, as of the replay position."""

from __future__ import annotations

from pathlib import Path

from collectors.timeutil import iso_from_us
from recordings.segments import write_parquet_atomic
from recordings.spans import spans_table, summarize_rows
from tests.replay.conftest import ReplayHarness, add_events, run, samples, wait_at, wait_until
from tui.overlay import COLLAPSE, SHADES
from tui.probe_panes import MetricsPane, SpansPane, duration
from tui.replay_source import ReplaySource

SPAN_EVERY_S = 20.0
METRIC_EVERY_S = 5.0


def _plant(session: Path) -> tuple[list[dict], list[tuple[int, float]]]:
    """Spans ending every 20 s (every fourth one failed) in spans.parquet, and a grad_norm point every 5 s
    (9.0 from 330 to 350 s, else the point's number) in events.jsonl: rows and (ts µs, value) points."""
    ts = samples(session)["ts"].to_list()
    first = ts[0]
    rows, points = [], []
    for number in range(1, int((ts[-1] - first) / 1e6 / SPAN_EVERY_S)):
        end = first + int(number * SPAN_EVERY_S * 1e6)
        seconds = 0.5 + number * 0.1
        rows.append({"request_id": f"r{number}", "name": "synthesis", "start_time": iso_from_us(end - int(seconds * 1e6)),
                     "end_time": iso_from_us(end), "total_duration_s": seconds, "success": number % 4 != 0,
                     "error_message": None if number % 4 else "timeout", "rtf": 0.25, "tokens_per_second": 120.0,
                     "peak_gpu_memory_mb": 2048.0, "peak_memory_mb": 900.0, "energy_j": 30.0})
    write_parquet_atomic(spans_table(rows), session / "spans.parquet")
    for number in range(int((ts[-1] - first) / 1e6 / METRIC_EVERY_S)):
        at = first + int(number * METRIC_EVERY_S * 1e6)
        value = 9.0 if 330 <= number * METRIC_EVERY_S <= 350 else float(number % 7)
        points.append((at, value))
    add_events(session, *({"ts": iso_from_us(at), "kind": "metric", "name": "grad_norm", "value": value,
                           "step": number} for number, (at, value) in enumerate(points)))
    return rows, points


def _pane(app, kind) -> str:
    return app.query_one(kind).render().plain


def test_spans_and_metrics_as_of_the_replay_position_and_the_overlay_with_collapses(session):
    rows, points = _plant(session)

    async def check_at(pilot, app, source, elapsed_s: float) -> None:
        index = source.reader.index_at(source.reader.elapsed[0] + elapsed_s)
        source.seek_index(index)
        await wait_at(pilot, source, index)
        here = source.reader.ts_us[index]
        ended = [row for row in rows if row["end_time"] <= iso_from_us(here)]
        summary = summarize_rows(ended)
        await wait_until(pilot, lambda: f"synthesis {len(ended)} " in _pane(app, SpansPane), 5, f"{len(ended)} spans")
        text = _pane(app, SpansPane)
        assert f"ok {summary['success_rate'] * 100:.1f}%" in text
        assert " ".join(f"p{q} {duration(summary[f'p{q}_duration_s'])}" for q in (50, 95, 99)) in text
        newest = text.splitlines()[3]  # two lines of totals in the side column, then the header
        assert newest.split()[1] == duration(ended[-1]["total_duration_s"])
        latest = [value for at, value in points if at <= here][-1]
        await wait_until(pilot, lambda: _pane(app, MetricsPane).splitlines()[1].split()[-1] == f"{latest:g}", 5,
                         "the metric's value at the position")

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await check_at(pilot, app, source, 200.0)
            await check_at(pilot, app, source, 420.0)
            await check_at(pilot, app, source, 90.0)  # back: fewer spans, earlier metric points

            await check_at(pilot, app, source, 400.0)  # after the collapse (≈324 s) and the spike (330-350 s)
            await pilot.press("m")
            assert app.dashboard.overlay == "grad_norm"
            await wait_until(pilot, lambda: "grad_no" in app.query_one("#panel-gpu0").render().plain, 5, "the overlay")
            line = next(line for line in app.query_one("#panel-gpu0").render().split("\n")
                        if line.plain.startswith("RLE"))  # (an SM row comes before it on a GPU with GPM)
            styles = [str(line.get_style_at_offset(app.console, offset)) for offset in range(6, len(line.plain))]
            assert any(COLLAPSE in style for style in styles)
            assert any(SHADES[-1] in style and COLLAPSE in style for style in styles)  # the spike, in the collapse
            assert any(SHADES[0] in style or SHADES[1] in style for style in styles)
    run(body)


def test_a_damaged_span_table_is_said_once_and_the_replay_goes_on(session):
    (session / "spans.parquet").write_bytes(b"not parquet")
    source = ReplaySource(session)
    try:
        notices = source.notices()
        assert len(notices) == 1 and "spans not shown" in notices[0]
        assert len(source.spans) == 0
    finally:
        source.close()
