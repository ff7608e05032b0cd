"""What a newcomer meets on screen: the newest event, help and quit in the footer, values against limits."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from textual.app import App, ComposeResult

from collectors.spans import SpanTracker
from collectors.timeutil import us_from_iso
from rigscope.app_factory import build_app
from tests.tui.conftest import (
    LiveApp,
    bar_text,
    panel_text,
    read_events,
    read_meta,
    run,
    screen_text,
    wait_frames,
    wait_until,
)
from tui import format as fmt
from tui.bars import EventsPane, newest_lines, span_label
from tui.devices import Device, DevicePanel, View
from tui.feed import Snapshot
from tui.probe_data import SpansView
from tui.probe_panes import duration, totals_lines
from tui.processes import COLUMNS, DEFAULT_SORT, ProcessesPane
from tui.screens import TagScreen


def _note(second: int, text: str) -> dict:
    return {"kind": "note", "ts": f"2026-01-01T10:00:{second:02d}.000000Z", "text": text}


class _EventsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventsPane("none yet", id="events")


def test_events_pane_always_shows_the_newest_event_after_long_wrapped_notes():
    events = tuple(_note(k, f"long note {k} " + "word " * 30) for k in range(10)) + (_note(59, "the final note"),)

    async def body():
        app = _EventsApp()
        async with app.run_test(size=(48, 8)) as pilot:
            pane = app.query_one(EventsPane)
            pane.show(events)
            await pilot.pause()
            shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            assert "the final note" in shown
            assert shown.splitlines()[0].strip() == "events"

    run(body)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 50)])
def test_footer_always_shows_help_and_quit_also_in_the_processes_view(tmp_path, size):
    async def body():
        async with LiveApp(tmp_path, gpus=4, size=size) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer, footer
            await pilot.press("p")
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer and "s Sort" in footer, footer

    run(body)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_compact_layout_shows_gpu_memory_and_leaves_no_rows_empty(tmp_path, size):
    async def body():
        async with LiveApp(tmp_path, gpus=4, size=size) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.pause()
            assert app.dashboard.compact
            # used/total GPU memory on the one row
            await wait_until(pilot, lambda: "/79.6G" in panel_text(app, "gpu0"), 10, "GPU memory on the row")
            devices = app.query_one("#devices").region
            assert app.dashboard.compact_rows == 2  # room for a second row: memory and RLE sparklines
            assert devices.height == 2 * len(source.devices)  # the events pane takes the rest
            assert "warm-up" in panel_text(app, "gpu0").splitlines()[1]
            assert app.query_one("#events").region.height >= size[1] - 4 - 2 * len(source.devices) - 2

    run(body)


def _hot_gpu() -> dict:
    return {"elapsed_s": 120.0, "gpu0_util_pct": 99.0, "gpu0_temp_c": 85.0, "gpu0_temp_limit_c": 83.0,
            "gpu0_power_w": 300.0, "gpu0_power_limit_w": 700.0, "gpu0_mem_used_bytes": 79.0 * 2**30,
            "gpu0_mem_total_bytes": 80.0 * 2**30, "gpu0_rle_smoothed": 0.5, "gpu0_rolling_peak": 0.6}


class _PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DevicePanel(Device("gpu0", "GPU0 test"))


def _styles_of(text, needle: str) -> set[str]:
    start = text.plain.index(needle)
    return {str(span.style) for span in text.spans if span.start <= start < span.end}


@pytest.mark.parametrize("compact", [False, True])
def test_values_over_the_device_limits_are_coloured_by_severity_or_marked_without_colour(compact):
    async def body():
        app = _PanelApp()
        async with app.run_test(size=(120, 10)) as pilot:
            panel = app.query_one(DevicePanel)
            snapshot = Snapshot(version=1, frame=_hot_gpu(), events=())
            panel.show(snapshot, View(compact=compact))
            await pilot.pause()
            text = panel.render()
            assert "bold red" in _styles_of(text, "85/83°C")  # over the slowdown temperature
            assert "bold red" in _styles_of(text, "79.0G/80.0G")  # memory all but full
            assert not _styles_of(text, "300/700 W") & {"bold red", "bold yellow"}  # power well under its limit
            panel.show(Snapshot(version=2, frame=_hot_gpu(), events=()), View(compact=compact, no_color=True))
            await pilot.pause()
            plain = panel.render().plain
            assert "85/83°C!!" in plain and "79.0G/80.0G!!" in plain and "300/700 W!" not in plain

    run(body)


def test_no_color_workload_strip_tells_states_apart_with_letters(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def body():
        async with LiveApp(tmp_path, size=(120, 30)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await wait_until(pilot, lambda: "iiii" in bar_text(app, "workload"), 10, "letters in the state strip")
            assert "▆" not in bar_text(app, "workload")

    run(body)


class _CpuApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DevicePanel(Device("cpu", "CPU test"))


def test_rle_that_cannot_be_computed_shows_a_dash_and_the_reason():
    async def body():
        app = _CpuApp()
        async with app.run_test(size=(100, 10)) as pilot:
            frame = {"elapsed_s": 300.0, "cpu_util_pct": 40.0, "cpu_power_w": None, "cpu_rle_smoothed": None,
                     "cpu_rolling_peak": 0.0}  # a box without RAPL: no CPU power, no RLE
            app.query_one(DevicePanel).show(Snapshot(version=1, frame=frame, events=()), View())
            await pilot.pause()
            plain = app.query_one(DevicePanel).render().plain
            assert "— no power reading" in plain and "peak 0.00" not in plain

    run(body)


def test_details_at_80x24_scroll_with_units_words_and_what_rle_means(tmp_path):
    async def body():
        async with LiveApp(tmp_path, gpus=1, size=(80, 24)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press("d", "right")
            shown = screen_text(app)
            assert "gpu0_mem_total_bytes" in shown and "79.6G" in shown  # bytes as a size
            assert "76231226302" not in shown
            seen = []
            for _ in range(40):  # scroll down a line at a time, to the glossary below the table
                await pilot.press("down")
                await pilot.pause()
                seen.append(screen_text(app))
            assert any(re.search(r"gpu0_throttle_reasons +│ +none", text) for text in seen)  # the bitmask in words
            assert "warm-up" in seen[-1] and "load efficiency" in seen[-1]

    run(body)


def test_help_at_80x24_scrolls_to_what_rle_collapse_and_warm_up_mean(tmp_path):
    async def body():
        async with LiveApp(tmp_path, gpus=1, size=(80, 24)) as (pilot, app, source):
            await pilot.press("question_mark")
            await pilot.pause()
            assert "warm-up" not in screen_text(app)  # below the keys, out of sight at first
            await pilot.press("end")
            await pilot.pause()
            shown = screen_text(app)
            assert "warm-up" in shown and "collapse" in shown and "C2/31s" in shown

    run(body)


def _span_row(name: str, seconds: float, parent: str | None) -> dict:
    return {"name": name, "parent_id": parent, "success": True, "total_duration_s": seconds, "rtf": None,
            "tokens_per_second": None, "peak_memory_mb": None, "energy_j": None}


def test_span_totals_are_per_name_and_top_level_nested_children_left_out():
    tracker = SpanTracker([])
    for number in range(40):  # 40 requests of 20-30 ms, each with 2-3 instant tokenize children
        tracker.add_row(_span_row("request", 0.020 + number % 11 / 1000, None))
        for _ in range(2 + (number < 22)):
            tracker.add_row(_span_row("tokenize", 0.0, f"r{number}"))
    assert tracker.total == 142
    request = tracker.by_name()[0]
    assert (request["name"], request["nested"], request["total"]) == ("request", False, 40)
    text = "\n".join(line.plain for line in totals_lines(
        SpansView(1, (), tracker.summary(), tuple(tracker.by_name())), 60))
    assert f"request 40 · ok 100.0% · p50 {duration(request['p50_duration_s'])}" in text
    assert request["p50_duration_s"] >= 0.02  # the 0 ms children do not drag it down
    assert "142" not in text and "+102 nested spans" in text


def test_events_pane_puts_a_collapse_at_its_start_as_the_report_does():
    origin = us_from_iso("2026-01-01T19:10:00.000000Z")  # elapsed 0 of the session
    frame = {"ts": origin + 500_000_000, "elapsed_s": 500.0}
    collapse = {"kind": "collapse_start", "ts": "2026-01-01T19:17:46.000000Z", "device": "gpu0",
                "start": 459.0, "end": None, "min_rle": 0.31}  # detected at 19:17:46, began at 19:17:39
    assert fmt.session_origin_us(frame) == origin
    assert fmt.event_line(collapse, fmt.session_origin_us(frame)).startswith("19:17:39 collapse start")
    lines = newest_lines((collapse, _note(5, "later note")), EventsPane.STYLES, 60, 5, origin)
    assert lines[0].plain.startswith("19:17:39") and lines[1].plain.startswith("10:00:05")


@pytest.mark.parametrize("dialog", [None, "n"])
def test_ctrl_c_quits_cleanly_also_from_a_dialog(tmp_path, dialog):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await wait_frames(pilot, source, 2)
            if dialog:
                await pilot.press(dialog)
            await pilot.press("ctrl+c")
            await wait_until(pilot, lambda: not app.is_running, 10, "the app to quit")
        assert source.closed and app.return_value.startswith("rigscope: session saved in ")
        assert read_meta(session)["status"] == "complete"

    run(body)


def test_tag_dialog_arrows_pick_a_recent_tag_and_enter_on_nothing_says_so(tmp_path):
    async def body():
        async with LiveApp(tmp_path) as (pilot, app, source):
            session = source.monitor.session
            await pilot.press("t", "enter")
            assert isinstance(app.screen, TagScreen)  # nothing typed, nothing picked: still open, and it says why
            assert any("type a tag" in notice.message for notice in app._notifications)
            await pilot.press("down", "down", "enter")  # auto, then data_prep
            assert not isinstance(app.screen, TagScreen)
            tags = await wait_until(pilot, lambda: [e for e in read_events(session) if e.get("kind") == "tag"], 10,
                                    "the tag in events.jsonl")
            assert [t["state"] for t in tags] == ["data_prep"]

    run(body)


@pytest.mark.parametrize("key", ["n", "t", "question_mark", "d"])
def test_dialogs_cover_only_their_own_area(tmp_path, key):
    async def body():
        async with LiveApp(tmp_path, gpus=1, size=(120, 40)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press(key)
            assert app.screen is not app.dashboard
            # the header above the dialog is still there
            await wait_until(pilot, lambda: "rigscope DEMO" in screen_text(app).splitlines()[0], 5, "the header")  # the header above the dialog is still there

    run(body)


def test_a_standing_notice_shows_once_in_the_events_pane_not_as_piled_toasts(tmp_path):
    async def body():
        async with LiveApp(tmp_path, size=(120, 40)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            for _ in range(2):  # what each new session after `r` reports again
                source.monitor.notices.tell("rapl: CPU power not readable (run as root)")
                source.monitor.notices.tell("nvml: no NVIDIA driver")
                await wait_frames(pilot, source, 2)
            pane = app.query_one(EventsPane)
            await wait_until(pilot, lambda: "no NVIDIA driver" in pane.render().plain, 5, "the notice in the pane")
            assert pane.render().plain.count("rapl: CPU power") == 1
            assert len(app._notifications) <= 1

    run(body)


def test_r_asks_first_and_a_new_session_starts_with_an_empty_events_pane(tmp_path):
    async def body():
        async with LiveApp(tmp_path, size=(80, 24)) as (pilot, app, source):
            first = source.monitor.session
            await wait_frames(pilot, source, 2)
            await pilot.press("6")  # a preset note into the first session
            await wait_until(pilot, lambda: "lr changed" in app.query_one(EventsPane).render().plain, 5, "the note")
            await pilot.press("r", "n")  # a stray r: nothing changes
            await app.workers.wait_for_complete()
            assert source.monitor.session == first and app.screen is app.dashboard
            await pilot.press("r", "y")
            await app.workers.wait_for_complete()
            await wait_until(pilot, lambda: "not recording" in bar_text(app, "header"), 10, "not recording")
            header = bar_text(app, "header").rstrip()
            assert not header.endswith(("·", "│")), header
            await pilot.press("r", "enter")
            await app.workers.wait_for_complete()
            assert source.monitor.session not in (None, first)
            await wait_until(pilot, lambda: "lr changed" not in app.query_one(EventsPane).render().plain, 5,
                             "the old session's note gone from the pane")

    run(body)


@pytest.mark.parametrize("width", [80, 120])
def test_header_shows_the_whole_session_id(tmp_path, width):
    async def body():
        async with LiveApp(tmp_path, size=(width, 30)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await wait_until(pilot, lambda: source.monitor.session.name in bar_text(app, "header"), 5,
                             "the session id in the header")

    run(body)


def test_a_window_longer_than_the_run_says_how_much_data_it_holds(tmp_path):
    async def body():
        async with LiveApp(tmp_path, size=(120, 30)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press("plus", "plus")  # 1 h over a few seconds of data
            await wait_until(pilot, lambda: re.search(r"window 1h \(\d+s of data\)", bar_text(app, "workload")), 5,
                             "the data span beside the window")

    run(body)
    assert span_label(100) == "1m40s" and span_label(3900) == "1h05m"


class _ProcessesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ProcessesPane()


def _proc(pid: int, cpu: float, gpu_mem: int | None = None) -> dict:
    return {"pid": pid, "user": "ann", "command": f"job{pid}", "visible": True, "gpu": 0 if gpu_mem else None,
            "gpu_mem_bytes": gpu_mem, "cpu_pct": cpu, "sm_pct": None, "rss_bytes": 2**30}


def test_processes_sort_sensibly_stay_put_on_ties_sort_on_a_click_and_mention_proc_top():
    async def body():
        app = _ProcessesApp()
        async with app.run_test(size=(120, 20)) as pilot:
            pane = app.query_one(ProcessesPane)
            pane.show(SimpleNamespace(version=1, rows=[]))
            await pilot.pause()
            assert "--proc-top" in pane.render().plain  # the empty list says how to see host processes
            host = [_proc(1, 5.0), _proc(2, 80.0), _proc(3, 20.0)]  # --proc-top: no GPU memory anywhere
            pane.show(SimpleNamespace(version=2, rows=host))
            assert [r["pid"] for r in pane.rows] == [2, 3, 1] and "sort CPU%" in pane.render().plain
            gpu = [_proc(10, 1.0, 609 * 2**20 + 5), _proc(20, 1.0, 609 * 2**20 + 9)]
            pane.sort_by(DEFAULT_SORT)
            pane.show(SimpleNamespace(version=3, rows=gpu))
            order = [r["pid"] for r in pane.rows]
            gpu[0]["gpu_mem_bytes"], gpu[1]["gpu_mem_bytes"] = gpu[1]["gpu_mem_bytes"], gpu[0]["gpu_mem_bytes"]
            pane.show(SimpleNamespace(version=4, rows=gpu))  # both still show 609.0M: no swap
            assert [r["pid"] for r in pane.rows] == order
            x = pane.render().plain.splitlines()[1].index("CPU%")
            await pilot.click(ProcessesPane, offset=(x + 1 + pane.styles.padding.left, 1))
            assert pane.sort_index == COLUMNS.index(next(c for c in COLUMNS if c[0] == "CPU%"))

    run(body)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_a_box_without_gpus_fills_the_screen_with_cores_load_and_busiest_processes(size):
    pytest.importorskip("pytest_textual_snapshot")
    from tests.tui.test_snapshots import FrozenSource

    source = FrozenSource(1, seconds=90.0)
    source.devices = source.devices[:1]  # the CPU only
    source.load_average = lambda: (1.5, 1.25, 0.75)  # type: ignore[attr-defined]
    busy = [_proc(100 + k, 10.0 * k) for k in range(8)]
    source.processes = lambda: SimpleNamespace(version=1, rows=busy)  # type: ignore[attr-defined]

    async def body():
        app = build_app(source)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.dashboard.redraw(force=True)
            await pilot.pause()
            shown = screen_text(app)
            assert "cores (8)" in shown and "load average 1.50 1.25 0.75" in shown
            assert "busiest processes" in shown and "job107" in shown  # the busiest first
            host = app.query_one("#host-panel").region
            assert host.height >= 5 and app.screen.region.contains_region(host)

    run(body)


def test_processes_view_at_80x24_gets_the_rows_the_compact_panels_gave_the_events(tmp_path):
    async def body():
        async with LiveApp(tmp_path, gpus=4, size=(80, 24)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.press("p")
            await pilot.pause()
            assert app.query_one(ProcessesPane).region.height >= 10  # six simulated processes, all in view
            await pilot.press("p")
            await pilot.pause()
            assert app.query_one("#events").region.height >= 8  # beside two-row panels

    run(body)


def test_sizes_that_look_the_same_sort_the_same():
    assert fmt.size_rank(608.44 * 2**20) == fmt.size_rank(608.36 * 2**20) < fmt.size_rank(608.9 * 2**20)
    assert fmt.size(608.44 * 2**20) == fmt.size(608.36 * 2**20)
