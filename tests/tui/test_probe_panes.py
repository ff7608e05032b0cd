"""The spans and metrics panes and the metric overlay on the RLE sparklines, live."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import rigscope
from collectors.spans import SpanTracker
from collectors.stream import Batch
from collectors.timeutil import iso_from_us
from rigscope import probe
from rigscope.app_factory import build_app
from tests.probe.conftest import runtime  # noqa: F401 (a fixture)
from tests.tui.conftest import LiveApp, panels, run, screen_text, wait_until
from tests.tui.test_layout import _placement_problems
from tests.tui.test_snapshots import FrozenSource
from tui.app import RigscopeApp
from tui.overlay import COLLAPSE, SHADES
from tui.probe_data import MetricsView, column_values
from tui.probe_panes import MetricsPane, SpansPane, duration, share_rows
from tui.screens import HelpScreen
from tui.sparkline import sparkline

SPIKE_S = (330.0, 334.0)  # grad_norm spikes here, inside the scenario's collapse (detected ≈ 324 s)


def _pane(app: RigscopeApp, kind: type) -> str:
    return app.query_one(kind).render().plain


@pytest.fixture(scope="module")
def probe_sender():
    """The probe's sender thread lives as long as the process: start it before a test counts its threads."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RIGSCOPE_PROBE", "off")
        probe.reset()
        rigscope.note("nobody listens")
        probe.flush(1.0)
    probe.reset()


@pytest.fixture
def probe_channel(probe_sender, runtime):
    """Only this test's recorder in the runtime directory, and the probe finds it."""
    yield


def test_spans_and_metrics_sent_through_the_probe_show_with_their_totals(tmp_path, probe_channel):
    async def body():
        async with LiveApp(tmp_path, size=(160, 50)) as (pilot, app, source):
            assert not app.query_one(SpansPane).display and not app.query_one(MetricsPane).display
            await wait_until(pilot, lambda: source.monitor.stats.samples > 2, 10, "samples")
            for number, seconds in enumerate((0.05, 0.25, 0.45)):
                with rigscope.span("synthesis", request_id=f"r{number}", tokens=100, audio_s=2.0):
                    time.sleep(seconds)
            with pytest.raises(ValueError), rigscope.span("lookup", request_id="bad"):
                raise ValueError("no voice")
            values = [1.0, 1.5, 0.5, 4.0, 2.0]
            for step, value in enumerate(values):
                rigscope.metric("grad_norm", value, step=step)
            rigscope.metric("loss", 0.25, step=4)
            probe.flush(1.0)
            tracker = source.monitor.span_statistics
            await wait_until(pilot, lambda: "lookup 1 " in _pane(app, SpansPane), 15, "four spans in the pane")
            await wait_until(pilot, lambda: "loss" in _pane(app, MetricsPane), 10, "both metrics in the pane")

            synthesis = tracker.by_name()[0]  # totals per span name: the three synthesis spans alone
            text = _pane(app, SpansPane)
            assert "synthesis 3 · ok 100.0%" in text and "lookup 1 · ok 0.0% (1 failed)" in text
            assert " ".join(f"p{q} {duration(synthesis[f'p{q}_duration_s'])}" for q in (50, 95, 99)) in text
            rows = text.splitlines()[5:]  # two names' totals (two lines each in the side column), the header
            assert rows[0].startswith("lookup") and rows[0].endswith("✗")  # no room for the error beside the panels
            assert [row.split()[0] for row in rows[1:]] == ["synthesis"] * 3 and all("✓" in r for r in rows[1:])
            newest_ok = tracker.recent(4)[1]
            assert f"{newest_ok['rtf']:.2f}" in rows[1] and f"{newest_ok['tokens_per_second']:.0f}" in rows[1]

            lines = {line.split()[0]: line for line in _pane(app, MetricsPane).splitlines()[1:]}
            grad = lines["grad_norm"]
            spark_w = len(grad.split()[1])
            assert grad.split()[1] == sparkline(values, spark_w, 0.5, 4.0).strip()
            assert grad.split()[2:] == ["2"]  # the latest value (the step only where the pane is wider)
            assert lines["loss"].split()[2:] == ["0.25"]

            await pilot.press("m")
            assert app.dashboard.overlay == "grad_norm"
            await pilot.pause()
            rle = next(line for line in panels(app)["gpu0"].render().plain.splitlines() if line.startswith("RLE"))
            assert rle.startswith("RLE") and rle.endswith(" grad_norm 2")
            assert "grad_norm over RLE" in _pane(app, MetricsPane)
            await pilot.press("m")
            assert app.dashboard.overlay == "loss"
            await pilot.press("m")
            assert app.dashboard.overlay is None
            await pilot.pause()
            assert "grad_no" not in panels(app)["gpu0"].render().plain
    run(body)


def test_the_overlay_key_is_in_the_footer_help_and_palette_and_says_when_there_is_no_metric(tmp_path):
    async def body():
        app = build_app(FrozenSource(1, seconds=20.0))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "m Overlay" in screen_text(app), 5, "the key in the footer")
            seen: list[str] = []
            original = app.notify

            def spy(message: Any, *args: Any, **kwargs: Any) -> None:
                seen.append(str(message))
                original(message, *args, **kwargs)

            app.notify = spy  # type: ignore[method-assign]
            await pilot.press("m")
            assert app.dashboard.overlay is None and any("no custom metrics yet" in m for m in seen)
            assert "Metric overlay" in [command.title for command in app.get_system_commands(app.screen)]
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert ("m", "Overlay") in app.screen.keys
    run(body)


def _grad_norm(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """One grad_norm point a second, 1.0, and 9.0 inside SPIKE_S."""
    t = frame["elapsed_s"]
    if t != int(t):
        return []
    value = 9.0 if SPIKE_S[0] <= t <= SPIKE_S[1] else 1.0
    return [{"kind": "metric", "ts": iso_from_us(frame["ts"]), "name": "grad_norm", "value": value, "step": int(t)}]


def test_overlay_shades_the_metric_behind_the_rle_sparkline_and_marks_collapse_cells():
    async def body():
        source = FrozenSource(1, seconds=340.0, workload=_grad_norm)
        app = build_app(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("m")
            assert app.dashboard.overlay == "grad_norm"
            app.dashboard.redraw(force=True)
            await pilot.pause()
            panel = panels(app)["gpu0"]
            line = panel.render().split("\n")[5]  # the RLE line as drawn (label, sparkline, value)
            cells = [(char, str(line.get_style_at_offset(app.console, offset)))
                     for offset, char in enumerate(line.plain)][6:6 + 60]
            spark = [(char, style) for char, style in cells if " on " in style or "red" in style or "green" in style]
            red = [index for index, (_, style) in enumerate(spark) if "red" in style]
            assert red and red[-1] == len(spark) - 1  # the collapse is still on at the right edge
            assert all("bold" in spark[i][1] and "red" in spark[i][1] for i in red) and COLLAPSE == "bold red"
            brightest = [index for index, (_, style) in enumerate(spark) if SHADES[-1].lower() in style.lower()]
            darkest = [index for index, (_, style) in enumerate(spark) if SHADES[0].lower() in style.lower()]
            assert brightest and darkest
            assert set(brightest) <= set(red)  # the spike (330-334 s) lies inside the collapse
            assert min(darkest) < min(red)  # before the collapse, grad_norm is low
    run(body)


def test_panes_fit_the_layouts_at_80x24_and_160x50():
    def workload(tracker: SpanTracker, finished: list[dict[str, Any]]):
        def send(frame: dict[str, Any]) -> list[dict[str, Any]]:
            t = frame["elapsed_s"]
            k = round(t * 2)
            stamp = iso_from_us(frame["ts"])
            if k % 10 == 0:
                tracker.add_event({"kind": "span_start", "ts": stamp, "span_id": f"s{k}", "name": "synthesis"})
            elif k % 10 == 3:
                finished.extend(tracker.add_event({"kind": "span_end", "ts": stamp, "span_id": f"s{k - 3}",
                                                   "name": "synthesis", "success": True}))
            finished.extend(tracker.add_frame(frame))
            return _grad_norm(frame) + [{"kind": "metric", "ts": stamp, "name": "loss", "value": 1 / (1 + t)}]
        return send

    async def check(gpus: int, size: tuple[int, int], compact: bool) -> None:
        tracker, finished = SpanTracker(list(range(gpus))), []
        source = FrozenSource(gpus, seconds=120.0, workload=workload(tracker, finished))
        source.feed.take(Batch(None, spans=tuple(finished)))  # as the assembler tells them on the stream
        app = build_app(source)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.dashboard.redraw(force=True)
            await pilot.pause()
            assert app.dashboard.compact is compact
            assert _placement_problems(app) == []
            spans, metrics = app.query_one(SpansPane), app.query_one(MetricsPane)
            assert spans.display and metrics.display and spans.region.height >= 4 and metrics.region.height == 3
            assert app.screen.region.contains_region(spans.region) and app.screen.region.contains_region(metrics.region)
            assert not spans.region.overlaps(metrics.region)
            busiest = tracker.by_name()[0]
            assert f"{busiest['name']} {busiest['total']} " in spans.render().plain
            if compact:  # full width below the panels: the metrics show their step too
                assert "@" in metrics.render().plain

    async def body():
        await check(8, (160, 50), compact=False)  # two columns of full panels, the panes in the side column
        await check(2, (80, 24), compact=True)  # one row per device, the panes below taking the rows left
        await check(8, (80, 24), compact=True)  # nine rows for the devices first: the panes get what is left
    run(body)


def test_column_values_line_a_metric_up_with_sample_times():
    view = MetricsView(1, {"g": ((1_000, 1.0, None), (2_500, 5.0, None), (2_600, float("nan"), None),
                                 (9_000, 2.0, None))})
    times = [1_000.0, 2_000.0, 3_000.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0]
    # the largest finite point inside a column, else the last point before it (NaN: a gap)
    assert column_values(view, "g", times, 8) == [1.0, 1.0, 5.0, None, None, None, None, None]
    assert column_values(view, "g", times, 4) == [1.0, 5.0, None, None]
    assert column_values(view, "g", times + [9_000.0], 9)[-1] == 2.0
    assert column_values(view, "g", [500.0, 600.0], 10) == [None, None]  # before the first point
    assert column_values(view, "missing", times, 4) == [None] * 4
    assert math.isnan(view.series["g"][2][1]) and view.values("g", 2) == [None, 2.0]


def test_rows_go_to_each_pane_up_to_its_cap_then_to_the_metrics_then_to_the_spans():
    assert share_rows((22, 5), (4, 3), 10) == (5, 5)
    assert share_rows((22, 5), (4, 3), 5) == (4, 1)
    assert share_rows((22, 5), (4, 3), 0) == (0, 0)
    assert share_rows((0, 5), (4, 3), 10) == (0, 5)  # nothing to show: no rows
