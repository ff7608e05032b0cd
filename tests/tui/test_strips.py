"""The render path's caches: sparklines drawn once per change, and text lines cut into strips once per change."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tests.waiting import run
from tui import sparkline as spark
from tui.bars import TextBar
from tui.strips import StripText, line_strip, segments_of


def test_resample_takes_means_of_slices_and_skips_gaps():
    assert spark.resample((1.0, 3.0, None, None, 5.0, None), 3) == [2.0, None, 5.0]
    assert spark.resample([1.0, 2.0], 5) == [1.0, 2.0]
    assert spark.resample((1.0,), 0) == []


def test_sparkline_scales_between_low_and_high_and_leaves_gaps_blank():
    assert spark.sparkline((0.0, 50.0, 100.0, None), 6, 0.0, 100.0) == "  ▁▄█ "
    assert spark.sparkline((0.0, 50.0, 100.0, None), 6, 0.0, 100.0, ascii_only=True) == "  .=@ "
    assert spark.sparkline((150.0, -5.0), 2, 0.0, 100.0) == "█▁"  # clamped to the scale


def test_a_tuple_drawn_again_is_not_drawn_again_and_a_list_gives_the_same_line():
    values = tuple(float(v % 17) for v in range(500))
    first = spark.sparkline(values, 40, 0.0, None)
    hits = spark._memoised.cache_info().hits
    assert spark.sparkline(tuple(values), 40, 0.0, None) == first
    assert spark._memoised.cache_info().hits == hits + 1
    assert spark.sparkline(list(values), 40, 0.0, None) == first


class Lines(App[None]):
    def compose(self) -> ComposeResult:
        yield StripText(id="lines")


def test_show_lines_keeps_the_strips_of_unchanged_lines_and_draws_like_a_joined_text():
    async def body() -> None:
        app = Lines()
        async with app.run_test(size=(40, 5)) as pilot:
            widget = app.query_one(StripText)
            title = Text("GPU0", style="bold")
            title.append("  P0")
            widget.show_lines([title, Text("util 10%")])
            await pilot.pause()
            kept = widget._strips[0]
            widget.show_lines([title.copy(), Text("util 11%")])
            assert widget._strips[0] is kept and widget._strips[1] is not kept
            assert widget.render().plain == "GPU0  P0\nutil 11%"
            segments = list(widget._strips[0])
            assert segments[0].text == "GPU0  P0" and segments[0].style.bold  # its own style, as when joined
            assert not segments[-1].style.bold  # but not the padding
            widget.show_lines([Text("util 12% and more")], width=8)
            assert widget._strips[0].text == "util 12%" + " " * 32  # laid out in 8, blank to the widget's 40
            assert widget.render_line(0) is widget._strips[0]  # drawn as it is, never extended

    run(body)


def cells(segments) -> list[tuple[str, object]]:
    """Each character with its style: how a line looks, however it is cut into segments."""
    return [(char, segment.style or None) for segment in segments for char in segment.text]


def test_a_line_is_cut_into_the_same_styled_cells_as_rich_renders_it():
    console = Lines().console
    title = Text("GPU0 H100", style="bold")
    title.append("  lost", style="bold red")
    row = Text("util  ")
    row.append("▁▂▃▅▇", style="green")
    row.append("      57%")
    row.append("  ⚠ hot", style="yellow")
    overlapping = Text("collapses 1")
    overlapping.stylize("bold", 0, 9)
    overlapping.stylize("red", 5, 11)
    for line in (title, row, overlapping, Text("plain"), Text()):
        expected = cells(s for s in line.render(console) if s.text != "\n")
        assert cells(segments_of(line, console)) == expected, line.plain
        strip = line_strip(line, console, 30, 40)
        assert strip.cell_length == 40 and cells(strip)[:len(expected)] == expected


def test_a_line_longer_than_the_width_is_cropped_and_the_callers_line_kept():
    console = Lines().console
    line = Text("abcdef")
    line.append("ghij", style="red")
    strip = line_strip(line, console, 8)
    assert strip.text == "abcdefgh" and line.plain == "abcdefghij"
    assert cells(strip)[-1][1] == console.get_style("red")


def test_a_panel_line_is_cut_without_rich_s_style_stack(monkeypatch):
    console = Lines().console
    row = Text("util  ")
    row.append("▁▂▃", style="green")
    expected = cells(s for s in row.render(console) if s.text != "\n")

    def stack(*args, **kwargs):
        raise AssertionError("Text.render walked its style stack for a line whose spans do not overlap")

    monkeypatch.setattr(Text, "render", stack)
    assert cells(line_strip(row, console, 9)) == expected


class Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield TextBar(id="bar")

    def on_mount(self) -> None:
        self.query_one(TextBar).set_text(Text("rigscope REPLAY"))  # before the bar has its size


def test_a_bar_given_the_same_text_after_it_got_its_size_shows_it():
    """A paused replay or a frozen source sets the same header again: it was laid out in 0 cells and stayed blank."""
    async def body() -> None:
        app = Bar()
        async with app.run_test(size=(40, 3)) as pilot:
            await pilot.pause()
            bar = app.query_one(TextBar)
            bar.set_text(Text("rigscope REPLAY"))
            await pilot.pause()
            assert bar.render_line(0).text.startswith("rigscope REPLAY")

    run(body)
