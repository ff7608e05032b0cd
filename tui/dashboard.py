"""The dashboard screen: the bars, device panels (or the processes view), spans, metrics and events panes of one
source, and the keys that act on it.

It redraws on its own timer (`fps`, default 2 per second), from a snapshot of
the feed, and only when the feed moved: sampling at 100 Hz never means
redrawing at 100 Hz.  It never calls a device or the disk itself.  The live
dashboard is this screen on the live source; replay is a subclass on a recording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget

from collectors.event_kinds import EventKind
from recordings.errors import InputError
from recordings.inert import inert
from tui import format as fmt
from tui import repaints
from tui.bars import HOST_FIELDS, EventsPane, TextBar, header_text, host_text, workload_text
from tui.devices import DevicePanel, View, panel_lines
from tui.feed import Snapshot
from tui.footer import FittedFooter
from tui.host_panel import HostPanel
from tui.kill import KillScreen, listed_at, off_here, why_not
from tui.lean_compositor import LeanCompositor
from tui.overlay import overlay_names
from tui.probe_data import MetricsView, SpansView
from tui.probe_panes import MetricsPane, SpansPane, pane_caps, probe_wants, share_rows
from tui.processes import ProcessesPane, ProcessesView
from tui.screens import ConfirmScreen, DeviceScreen, HelpScreen, NoteScreen, TagScreen
from tui.source import DashboardSource

WINDOWS_S = (30.0, 120.0, 600.0, 3600.0)
MIN_PANEL_WIDTH = 56
SIDE_W = 46  # the column of the spans, metrics and events panes, beside the panels on a wide terminal
DEFAULT_PRESETS: dict[str, tuple[str, str]] = {
    "1": (EventKind.TAG, "data_prep"), "2": (EventKind.TAG, "train"), "3": (EventKind.TAG, "eval"),
    "4": (EventKind.TAG, "checkpoint"), "5": (EventKind.TAG, "auto"), "6": (EventKind.NOTE, "lr changed"),
    "7": (EventKind.NOTE, "restarted data loader"), "8": (EventKind.NOTE, "checkpoint saved"),
    "9": (EventKind.NOTE, "look here"),
}
KEY_NAMES = {"question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
             "left_square_bracket": "[", "right_square_bracket": "]", "left_curly_bracket": "{",
             "right_curly_bracket": "}", "slash": "/"}


def key_names(keys: str) -> str:
    """`plus,equals_sign` -> `+ / =`, as a person types them."""
    return " / ".join(KEY_NAMES.get(key, key) for key in keys.split(","))


def preset_words(presets: dict[str, tuple[str, str]]) -> str:
    """`tag: 1 data_prep, 2 train; note: 6 lr changed`: what each number key does."""
    kinds = {kind: ", ".join(f"{key} {value}" for key, (k, value) in sorted(presets.items()) if k == kind)
             for kind in (EventKind.TAG, EventKind.NOTE)}
    return "; ".join(f"{kind}: {keys}" for kind, keys in kinds.items() if keys)


@dataclass
class ViewOptions:
    """How a dashboard screen draws, shared by the live screen and the replays opened from it."""

    fps: float = 2.0
    ascii_only: bool = False
    presets: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    window_s: float = 120.0
    readonly: bool = False  # --readonly: `k` in the processes view ends nothing


FOOTER_FIRST = ("help", "quit", "back")  # back: q in a replay opened over the live dashboard
PROCESSES_HELP = "Who uses the GPUs: sort with s/i, filter with /, k ends one"
Command = tuple[Callable[[], Any], str, str]  # action, title, help: one entry of the command palette


@dataclass(frozen=True)
class Drawn:
    """The widgets a redraw fills, looked up once: a DOM query per widget per redraw cost more than some widgets."""

    header: TextBar
    workload: TextBar
    host: TextBar
    panels: tuple[DevicePanel, ...]
    spans: SpansPane
    metrics: MetricsPane
    events: EventsPane
    processes: Widget


class DashboardScreen(Screen[None]):
    DEFAULT_CSS = """
    DashboardScreen { layout: vertical; }
    DashboardScreen #main { height: 1fr; }
    DashboardScreen #devices { width: 1fr; height: 1fr; layout: grid; grid-size: 1; grid-rows: 7; }
    DashboardScreen #side { width: 46; border-left: vkey $panel; }
    DashboardScreen #main.narrow { layout: vertical; }
    DashboardScreen #main.narrow #side { width: 1fr; height: 6; border-left: none; border-top: hkey $panel; }
    DashboardScreen #header { background: $boost; }
    DashboardScreen #processes { display: none; }
    """
    BINDINGS = [
        Binding("n", "note", "Note"),
        Binding("t", "tag", "Tag"),
        Binding("1", "preset('1')", "Presets", key_display="1-9"),
        *(Binding(str(i), f"preset('{i}')", f"Preset {i}", show=False) for i in range(2, 10)),
        Binding("space", "pause", "Pause"),
        Binding("r", "record", "Rec on/off"),
        Binding("plus,equals_sign", "window(1)", "Window", key_display="+/-", tooltip="Window+"),  # one in the footer
        Binding("minus", "window(-1)", "Window-", show=False),
        Binding("o", "open_session", "Open", tooltip="Open a recorded session in replay (the live one goes on)"),
        Binding("d", "details", "Details"),
        Binding("m", "overlay", "Overlay"),
        Binding("p", "processes", "Processes"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("k", "kill_off", show=False),  # reached only when the processes view does not offer k
    ]
    CHROME_ROWS = 4  # header, workload bar, host bar, footer (replay adds its timeline)
    events_hint = "none yet: n adds a note, t tags the phase"

    def __init__(self, source: DashboardSource, options: ViewOptions | None = None) -> None:
        super().__init__()
        self._compositor = LeanCompositor()  # before anything is laid out: see tui/lean_compositor.py
        self.source = source
        self.options = options or ViewOptions()
        self.presets = self.options.presets
        self.window_index = min(range(len(WINDOWS_S)), key=lambda i: abs(WINDOWS_S[i] - self.options.window_s))
        self.paused = False
        self.compact = False
        self.compact_rows = 1  # rows per device in the compact layout (2 where the terminal has them)
        self.recent_tags: list[str] = ["auto", "data_prep", "train", "eval", "checkpoint"]
        self._drawn_version = -1
        self._bar_keys: dict[TextBar, tuple[Any, ...]] = {}  # what each bar was last laid out from
        self._series = [name for device in source.devices for name in device.series_names()]
        self.overlay: str | None = None  # the custom metric laid over the RLE sparklines
        self._overlay_series = overlay_names([device.prefix for device in source.devices])
        self._probe_views = (SpansView(0), MetricsView(0))
        self._probe_rows = (0, 0)
        self._probe_key: tuple[Any, ...] = ()
        self._drawn: Drawn | None = None

    @property
    def drawn(self) -> Drawn:
        if self._drawn is None:
            self._drawn = Drawn(self.query_one("#header", TextBar), self.query_one("#workload", TextBar),
                                self.query_one("#host", TextBar), tuple(self.query(DevicePanel)),
                                self.query_one(SpansPane), self.query_one(MetricsPane), self.query_one(EventsPane),
                                self.query_one("#processes"))
        return self._drawn

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Help and quit first, so the footer never cuts them: a narrow terminal loses the last keys instead."""
        bindings = super().active_bindings
        first = {key: bound for key, bound in bindings.items() if bound.binding.action in FOOTER_FIRST}
        return {**first, **bindings}

    # -- layout ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TextBar(id="header")
        yield TextBar(id="workload")
        with Horizontal(id="main"):
            with VerticalScroll(id="devices"):
                for device in self.source.devices:
                    yield DevicePanel(device)
                if self.cpu_only:
                    yield HostPanel(id="host-panel")
            yield ProcessesView(id="processes")
            with Vertical(id="side"):
                yield SpansPane(id="spans")
                yield MetricsPane(id="metrics")
                yield EventsPane(self.events_hint, id="events")
        yield from self.compose_above_host()
        yield TextBar(id="host")
        yield FittedFooter(show_command_palette=False)  # `?` names ctrl+p; its room goes to the keys

    def compose_above_host(self) -> ComposeResult:
        """What a subclass adds between the panels and the host bar (replay: its timeline)."""
        yield from ()

    def on_mount(self) -> None:
        self._layout_for(self.app.size.width, self.app.size.height)
        self.set_interval(1.0 / self.options.fps, self._tick)
        self.redraw()
        self.call_after_refresh(self.redraw, True)  # again once the panels know their width

    def on_screen_resume(self) -> None:
        """Back on top (a replay or a dialog closed): draw what the source holds now."""
        self._layout_for(self.app.size.width, self.app.size.height)
        self.call_after_refresh(self.redraw, True)

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)
        self.call_after_refresh(self.redraw, True)

    def _layout_for(self, width: int, height: int) -> None:
        """Full panels in one or two columns when they fit, else one row per device.  The spans and metrics
        panes (when they have something) go above the events; on a narrow terminal that is below the panels,
        and they take the rows the panels leave."""
        narrow = width < 120
        self.query_one("#main").set_class(narrow, "narrow")
        events_rows = (6 if height >= 30 else 3) if narrow else 0
        available = height - self.CHROME_ROWS - events_rows
        panels_width = width - (0 if narrow else 47)
        count = len(self.source.devices)
        full_lines = panel_lines(self.source.devices)
        columns = 1 if count * full_lines <= available or panels_width < 2 * MIN_PANEL_WIDTH else 2
        self.compact = -(-count // columns) * full_lines > available
        self.compact_rows = 2 if self.compact and 2 * count <= available else 1
        self._probe_key = (self._probe_wants(width), width, height)
        caps = pane_caps(narrow, height)
        needed = count * self.compact_rows if self.compact else -(-count // columns) * full_lines
        self._probe_rows = probe_rows = share_rows(self._probe_key[0], caps,
                                                   max(0, available - needed) if narrow else sum(caps))
        if narrow and self.compact and not self.cpu_only and not self.showing_processes:
            # one row per device: the events pane takes the rows they leave (the processes view takes them itself)
            events_rows = max(events_rows, available + events_rows - needed - sum(probe_rows))
        for pane, rows in zip((self.query_one(SpansPane), self.query_one(MetricsPane)), probe_rows):
            pane.display = rows > 0
            pane.styles.height = rows
        # wide: the side column is as high as the panels' area (its CSS)
        self.query_one("#side").styles.height = events_rows + sum(probe_rows) if narrow else None
        devices = self.query_one("#devices")
        devices.styles.grid_size_columns = 1 if self.compact else columns
        panel_rows = self.compact_rows if self.compact else full_lines
        if self.cpu_only:  # the host panel takes the rows below the CPU panel
            left = available - panel_rows - (sum(probe_rows) if narrow else 0)
            devices.styles.grid_rows = f"{panel_rows} {max(3, left)}"
        else:
            devices.styles.grid_rows = str(panel_rows)

    def _probe_wants(self, width: int) -> tuple[int, int]:
        """Rows the spans and metrics panes would fill (0: nothing to show) at this terminal width."""
        return probe_wants(*self._probe_views, width - 2 if width < 120 else SIDE_W - 3)

    @property
    def cpu_only(self) -> bool:
        """No GPU: the host panel (cores, load, busiest processes) fills the rows below the CPU panel."""
        return not any(device.is_gpu for device in self.source.devices)

    @property
    def window_s(self) -> float:
        return WINDOWS_S[self.window_index]

    # -- drawing -----------------------------------------------------------
    def _tick(self) -> None:
        """Draw while visible: on top, or under dialogs only (live under a replay waits to be back on top)."""
        stack = self.app.screen_stack
        if self in stack and all(screen.is_modal for screen in stack[stack.index(self) + 1:]):
            self.redraw()

    def redraw(self, force: bool = False) -> None:
        if not self.app.is_running:  # shutting down: a timer or a call after refresh may still come, the widgets go
            return
        self._take_notices()
        feed = self.source.feed
        if (self.paused and not force) or (feed.version == self._drawn_version and not force):
            return
        snapshot = feed.snapshot(self.window_s, self._series + self._overlay_series if self.overlay else self._series)
        self._drawn_version = snapshot.version
        with repaints.collected(self):
            self._draw(snapshot, force)

    def _draw(self, snapshot: Snapshot, force: bool) -> None:
        """Hand every widget what it shows of `snapshot` (each repaints only the lines that changed)."""
        self._probe_views = (snapshot.spans, snapshot.metrics)
        width, height = self.app.size
        if (self._probe_wants(width), width, height) != self._probe_key:
            self._layout_for(width, height)  # a pane appeared, grew or shrank
            self.call_after_refresh(self.redraw, True)  # again once the panes know their size
        no_color = self.app.no_color
        view = View(self.window_s, self.options.ascii_only, self.compact, self.overlay, no_color=no_color,
                    compact_rows=self.compact_rows, lines=panel_lines(self.source.devices))
        drawn = self.drawn
        self._draw_bars(snapshot, width, no_color, force)
        frame = snapshot.frame  # the host tier moves at --host-hz (2 Hz): built again when what it shows moved
        self._draw_bar(drawn.host, (*map(frame.get, HOST_FIELDS), width), lambda: host_text(frame, width), force)
        for panel in drawn.panels:
            panel.show(snapshot, view)
        if self.cpu_only:
            load = getattr(self.source, "load_average", lambda: None)()  # live only: a replay has none
            self.query_one(HostPanel).show(snapshot.frame, load, self.source.processes(), self.options.ascii_only)
        spans_rows, metrics_rows = self._probe_rows
        drawn.spans.show(snapshot.spans, spans_rows, self.options.ascii_only)
        drawn.metrics.show(snapshot.metrics, metrics_rows, self.overlay, self.options.ascii_only)
        drawn.events.show(snapshot.events, fmt.session_origin_us(snapshot.frame))
        if self.showing_processes:
            self.query_one(ProcessesPane).show(self.source.processes(), now_us=snapshot.frame.get("ts"))

    def _draw_bars(self, snapshot: Snapshot, width: int, no_color: bool, force: bool) -> None:
        """The header and the state bar, laid out again when what they say changed, to the second (their clocks,
        counts and flush age move by the second): at 10 redraws a second they would be built anew each time."""
        frame = snapshot.frame
        second = int(snapshot.clock_s)
        history = snapshot.state_history
        self._draw_header(snapshot, second, width, force)
        self._draw_bar(self.drawn.workload, (second, frame.get("workload_state"), frame.get("workload_source"),
                                             len(history), history[-1:], width, no_color, self.window_s),
                       lambda: workload_text(snapshot, width, self.options.ascii_only or no_color, self.window_s),
                       force)

    def _draw_header(self, snapshot: Snapshot, second: int, width: int, force: bool) -> None:
        """The session, its recording and the clock (a replay shows its position and speed instead)."""
        recording = self.source.recording()
        self._draw_bar(self.drawn.header, (second, self.paused, width,
                                           recording and (recording.get("session"), recording.get("error"))),
                       lambda: header_text(self.source.label, snapshot, recording, self.paused, width), force)

    def _draw_bar(self, bar: TextBar, key: tuple[Any, ...], build: Callable[[], Text], force: bool) -> None:
        key = (*key, bar.size.width)  # and again once the bar has its size (it may be laid out before)
        if force or self._bar_keys.get(bar) != key:
            self._bar_keys[bar] = key
            bar.set_text(build())

    def _take_notices(self) -> None:
        """Standing conditions go to the events pane, and one toast points there (never a pile of them)."""
        notices = self.source.notices()
        if not notices:
            return
        stamp = self.source.now_iso()
        self.source.feed.add(None, [{"kind": EventKind.NOTICE, "ts": stamp, "text": message} for message in notices])
        self.notify(inert(notices[0]) if len(notices) == 1 else f"{len(notices)} notices: see the events pane",
                    severity="warning", timeout=8, markup=False)  # a notice may quote a sender's text

    @property
    def showing_processes(self) -> bool:
        return bool(self.drawn.processes.display)

    # -- actions -----------------------------------------------------------
    def action_note(self) -> None:
        stamp = self.source.now_iso()  # the moment the key was pressed, not when the note is saved

        def save(text: str | None) -> None:
            if text and self._posted(EventKind.NOTE, stamp, text=text, source="keyboard"):
                self.notify(f"note saved at {stamp[11:19]}", timeout=2)  # the events pane shows it too

        self.app.push_screen(NoteScreen(stamp), save)

    def action_tag(self) -> None:
        stamp = self.source.now_iso()
        self.app.push_screen(TagScreen(self.recent_tags), lambda state: self._tag(stamp, state))

    def _tag(self, stamp: str, state: str | None) -> None:
        if not state or not self._posted(EventKind.TAG, stamp, state=state, source="keyboard"):
            return
        self.recent_tags = [state, *(t for t in self.recent_tags if t != state)][:10]
        self.notify("back to the heuristic" if state == "auto" else f"tagged {inert(state)}", timeout=2,
                    markup=False)  # typed text, shown as typed

    def _posted(self, kind: str, stamp: str, **fields: Any) -> bool:
        """Post an event to the source; False, said on screen, when the source could not keep it."""
        try:
            self.source.post(kind, stamp, **fields)
        except InputError as error:
            self.notify(str(error), severity="error", timeout=8, markup=False)
            return False
        return True

    def action_preset(self, key: str) -> None:
        preset = self.presets.get(key)
        if preset is None:
            self.notify(f"no preset on {key}", severity="warning")
            return
        kind, value = preset
        stamp = self.source.now_iso()
        if kind == EventKind.TAG:
            self._tag(stamp, value)
        elif self._posted(EventKind.NOTE, stamp, text=value, source="keyboard"):
            self.notify(f"note: {value}", timeout=2, markup=False)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.redraw(force=True)

    def action_record(self) -> None:
        """Stop recording, or start a new session, once confirmed: one stray `r` must not split a run."""
        recording = self.source.recording()
        if recording and recording.get("session"):
            question = ("Stop recording?", f"{recording['session']} is closed; r again starts a new session.")
        else:
            question = ("Start recording?", "Into a new session; the events pane starts afresh.")

        def answer(yes: bool | None) -> None:
            if yes:
                self.notify("switching recording…")
                self.run_worker(self._toggle_recording, thread=True, exclusive=True, group="recording")

        self.app.push_screen(ConfirmScreen(*question), answer)

    def _toggle_recording(self) -> None:
        message = self.source.toggle_recording()
        self.app.call_from_thread(self.notify, message)

    def action_window(self, step: int) -> None:
        self.window_index = max(0, min(len(WINDOWS_S) - 1, self.window_index + step))
        self.redraw(force=True)

    def action_open_session(self) -> None:
        self.app.open_session_picker()  # type: ignore[attr-defined]

    def action_details(self) -> None:
        """Every value of the focused device; the last page is rigscope's own cost (`self_*`), thread by thread."""
        prefixes = [device.prefix for device in self.source.devices]
        focused = next((i for i, p in enumerate(prefixes) if self.query_one(f"#panel-{p}").has_focus), 0)
        self.app.push_screen(DeviceScreen([*prefixes, "self"], self.source.feed.snapshot(0, ()).frame, focused))

    def action_overlay(self) -> None:
        """Lay the next custom metric over the RLE sparklines: none, then each metric by name, then none."""
        names = list(self.source.feed.snapshot(0, ()).metrics.series)
        if not names and self.overlay is None:
            self.notify("no custom metrics yet: a workload sends them with rigscope.metric(name, value)", timeout=4)
            return
        cycle: list[str | None] = [None, *names]
        self.overlay = cycle[(cycle.index(self.overlay) + 1) % len(cycle)] if self.overlay in cycle else None
        self.notify(f"{self.overlay} over the RLE sparklines" if self.overlay else "overlay off", timeout=2)
        self.redraw(force=True)

    def action_processes(self) -> None:
        """The processes view in place of the device panels, or back."""
        show = not self.showing_processes
        self.query_one("#processes").display = show
        self.query_one("#devices").display = not show
        self._layout_for(self.app.size.width, self.app.size.height)
        if show:
            self.query_one(ProcessesPane).focus()
            self.query_one(ProcessesPane).show(self.source.processes(), force=True)
        else:
            self.query_one(f"#panel-{self.source.devices[0].prefix}").focus()

    def kill_selected(self, row: dict[str, Any] | None) -> None:
        """`k` in the processes view: SIGTERM to the row's process, after a confirmation."""
        control = self.source.process_control
        reason = why_not(row, self.options.readonly, control)
        if reason is not None or row is None or control is None:
            self.notify(reason or "no process selected", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.notify(control.terminate(int(row["pid"]), row.get("user"), listed_at(row)), markup=False)

        self.app.push_screen(KillScreen(row), answer)

    def action_kill_off(self) -> None:
        """`k` in the processes view where it can end nothing: say why (the footer does not offer it)."""
        reason = off_here(self.options.readonly, self.source.process_control)
        if self.showing_processes and reason is not None:
            self.notify(reason, severity="warning")

    @property
    def kill_is_off(self) -> bool:
        """`k` can end nothing here: a replay, or --readonly."""
        return off_here(self.options.readonly, self.source.process_control) is not None

    def action_help(self) -> None:
        keys: list[tuple[str, str]] = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):  # every one is; a (key, action) tuple would have no help
                continue
            if binding.action.startswith("preset"):
                if binding.key == "1":
                    keys.append(("1-9", f"presets, at once (no dialog): {preset_words(self.presets)}"))
            elif not binding.key.startswith("ctrl+c") and binding.action != "kill_off":
                keys.append((key_names(binding.key), binding.tooltip or binding.description))
        keys += [(key_names(b.key), f"{b.description} (processes view)") for b in ProcessesPane.BINDINGS
                 if isinstance(b, Binding) and b.show and not (b.action == "kill" and self.kill_is_off)]
        self.app.push_screen(HelpScreen(keys))

    async def action_quit(self) -> None:
        await self.app.action_quit()

    def commands(self) -> Iterator[Command]:
        """This screen's entries in the command palette (ctrl+p)."""
        yield from (
            (self.action_note, "Note", "Write a note into the session"),
            (self.action_tag, "Tag phase", "Tag the workload phase (auto returns to the heuristic)"),
            (self.action_pause, "Pause display", "Freeze the screen; sampling and recording go on"),
            (self.action_record, "Recording on/off", "Stop recording, or start a new session"),
            (lambda: self.action_window(1), "Longer window", "Sparklines over a longer time"),
            (lambda: self.action_window(-1), "Shorter window", "Sparklines over a shorter time"),
            (self.action_open_session, "Open a session", "Replay a recorded session; the live one goes on"),
            (self.action_details, "Device details", "Every value of one device"),
            (self.action_overlay, "Metric overlay", "Lay the next custom metric over the RLE sparklines"),
            (self.action_processes, "Processes", PROCESSES_HELP),
            (self.action_help, "Keys", "Every key of the dashboard"),
        )
