"""The dashboard in replay: the same screen on a recording, with playback keys and a timeline of the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Click

from recordings.replay import ReplayReader
from tui import format as fmt
from tui.bars import STATE_STYLES, TAG_STYLE, TextBar, fitted
from tui.dashboard import Command, DashboardScreen, ViewOptions
from tui.feed import Snapshot
from tui.screens import GotoScreen

MARKERS = {"collapse_start": ("C", "bold red"), "note": ("n", "cyan"), "tag": ("T", "magenta"),
           "alert": ("!", "yellow")}


class Player(Protocol):
    """What ReplayScreen needs beyond a DashboardSource (tui.replay_source.ReplaySource)."""

    position: int
    playing: bool
    reader: ReplayReader

    @property
    def speed(self) -> float | None: ...
    def toggle_play(self) -> None: ...
    def change_speed(self, step: int) -> None: ...
    def seek_index(self, index: int) -> None: ...
    def seek_elapsed(self, elapsed_s: float) -> None: ...
    def step(self, rows: int) -> None: ...
    def step_seconds(self, seconds: float) -> None: ...
    def jump(self, kinds: tuple[str, ...], forward: bool) -> bool: ...


class Timeline(TextBar):
    """Markers for notes, tags, collapses and alerts over the whole session, the position, and the state band."""

    DEFAULT_CSS = "Timeline { height: 2; }"
    _cached: tuple[tuple[int, int, int], list[tuple[str, str]], Text] | None = None

    def draw(self, player: Player) -> None:
        reader = player.reader
        width = max(10, self.size.width or 80)
        marks, band = self._layers(player, width)
        here = min(width - 1, int((reader.elapsed[player.position] - reader.elapsed[0])
                                  / max(reader.duration_s, 1e-9) * width))
        text = Text()
        for cell, (mark, style) in enumerate(marks):
            if cell == here:  # the position: reversed, keeping a marker that stands there
                text.append("▲" if mark == " " else mark, style="bold reverse")
            else:
                text.append(mark, style=style)
        text.append("\n")
        text.append_text(band)
        self.set_text(text)

    def _layers(self, player: Player, width: int) -> tuple[list[tuple[str, str]], Text]:
        """The markers and the state band: drawn again only when the width, the events or the rows changed."""
        reader = player.reader
        key = (width, len(reader.events), len(reader))
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1], self._cached[2]
        start, span = reader.elapsed[0], max(reader.duration_s, 1e-9)
        marks = [(" ", "")] * width
        for event, us in zip(reader.events, reader.event_us):
            marker = MARKERS.get(event.get("kind", ""))
            if marker:
                marks[min(width - 1, int((reader.elapsed[reader.index_at_ts(us)] - start) / span * width))] = marker
        band = Text()
        for cell in range(width):
            state = reader.states[reader.index_at(start + span * (cell + 0.5) / width)]
            if state is None:  # not recorded (an imported session without derived columns): no band
                band.append(" ")
            else:
                band.append("▀", style=STATE_STYLES.get(state, TAG_STYLE))
        self._cached = (key, marks, band)
        return marks, band

    def on_click(self, event: Click) -> None:
        self.screen.seek_fraction(event.x / max(1, self.size.width))  # type: ignore[attr-defined]


class ReplayScreen(DashboardScreen, inherit_bindings=False):
    """Only its own keys: the live keys for tags, presets and recording mean nothing in a replay."""

    BINDINGS = [
        Binding("space", "play", "Play/Pause"),
        Binding("plus,equals_sign", "speed(1)", "Faster"),
        Binding("minus", "speed(-1)", "Slower"),
        Binding("left", "step(-1)", "-1 tick"),
        Binding("right", "step(1)", "+1 tick"),
        Binding("shift+left", "seconds(-10)", "-10 s", show=False),
        Binding("shift+right", "seconds(10)", "+10 s", show=False),
        Binding("ctrl+left", "seconds(-60)", "-1 min", show=False),
        Binding("ctrl+right", "seconds(60)", "+1 min", show=False),
        Binding("home", "edge(0)", "Start", show=False),
        Binding("end", "edge(1)", "End", show=False),
        Binding("g", "goto", "Go to"),
        Binding("right_square_bracket", "jump_collapse(1)", "Next collapse"),
        Binding("left_square_bracket", "jump_collapse(0)", "Prev collapse", show=False),
        Binding("right_curly_bracket", "jump_note(1)", "Next note", show=False),
        Binding("left_curly_bracket", "jump_note(0)", "Prev note", show=False),
        Binding("n", "note", "Note"),
        Binding("o", "open_session", "Open", tooltip="Open another recorded session in replay"),
        Binding("d", "details", "Details"),
        Binding("m", "overlay", "Overlay"),
        Binding("p", "processes", "Processes"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c,ctrl+q", "app.quit", "Quit", show=False),
        Binding("k", "kill_off", show=False),  # the processes view does not offer k here: this says why
    ]
    CHROME_ROWS = DashboardScreen.CHROME_ROWS + 2  # and the timeline
    embedded = False
    events_hint = "none up to here: n adds a note at this time"

    def __init__(self, source: Any, options: ViewOptions | None = None) -> None:
        super().__init__(source, options)
        self.player: Player = source

    def compose_above_host(self) -> ComposeResult:
        yield Timeline(id="timeline")

    def redraw(self, force: bool = False) -> None:
        super().redraw(force=True)

    def _draw(self, snapshot: Snapshot, force: bool) -> None:
        """The dashboard's widgets and the timeline, painted together."""
        super()._draw(snapshot, force)
        self.query_one(Timeline).draw(self.player)

    def _draw_header(self, snapshot: Snapshot, second: int, width: int, force: bool) -> None:
        """The replay's position, speed and play state in place of the live header (its clock moves with the
        position, so it is laid out at every redraw; an unchanged text keeps its strips)."""
        player = self.player
        reader = player.reader
        position = fmt.clock(reader.elapsed[player.position] - reader.elapsed[0])
        pieces = [(0, Text(" rigscope REPLAY ", style="bold reverse")),  # (rank, piece): as the live header
                  (0, Text(" ▶ " if player.playing else " ❚❚ ", style="bold")),
                  (0, Text(f"{speed_text(player.speed)}  {position} / {fmt.clock(reader.duration_s)}")),
                  (1, Text(f"  {self.source.now_iso()[:19].replace('T', ' ')} UTC"))]
        if reader.growing:
            pieces.append((0, Text(" ● recording", style="bold red")))
        if self.embedded:
            pieces.append((0, Text(" │ q back", style="bold")))
        label = self.source.label
        pieces.append((2, Text(f" │ {label.session_id}")))
        where = " · ".join(part for part in (label.host, label.tier) if part)
        if where:
            pieces.append((3, Text(f" · {where}")))
        self.drawn.header.set_text(fitted(pieces, width))

    def commands(self) -> Iterator[Command]:
        yield from (
            (self.action_play, "Play/Pause", "Play or pause the replay"),
            (lambda: self.action_speed(1), "Faster", "Play faster (up to x1000 and max)"),
            (lambda: self.action_speed(-1), "Slower", "Play slower (down to x0.25)"),
            (self.action_goto, "Go to", "A time (HH:MM:SS UTC) or an offset (+15m, -30s)"),
            (lambda: self.action_jump_collapse(1), "Next collapse", "Jump to the next collapse"),
            (lambda: self.action_jump_note(1), "Next note", "Jump to the next note or tag"),
            (self.action_note, "Note", "Write a note at the replay time"),
            (self.action_open_session, "Open a session", "Replay another recorded session"),
            (self.action_details, "Device details", "Every value of one device"),
            (self.action_overlay, "Metric overlay", "Lay the next custom metric over the RLE sparklines"),
            (self.action_processes, "Processes", "The processes recorded at this time: sort with s/i, filter with /"),
            (self.action_help, "Keys", "Every key of the replay"),
        )

    # -- playback actions ---------------------------------------------------
    def action_play(self) -> None:
        self.player.toggle_play()

    def action_speed(self, step: int) -> None:
        self.player.change_speed(step)
        self.notify(f"speed {speed_text(self.player.speed)}", timeout=1.5)

    def action_step(self, rows: int) -> None:
        self.player.step(rows)

    def action_seconds(self, seconds: float) -> None:
        self.player.step_seconds(seconds)

    def action_edge(self, end: int) -> None:
        self.player.seek_index(len(self.player.reader) - 1 if end else 0)

    def seek_fraction(self, fraction: float) -> None:
        reader = self.player.reader
        self.player.seek_elapsed(reader.elapsed[0] + max(0.0, min(1.0, fraction)) * reader.duration_s)

    def action_goto(self) -> None:
        self.app.push_screen(GotoScreen(), self._goto)

    def _goto(self, answer: str | None) -> None:
        if not answer:
            return
        reader = self.player.reader
        try:
            index, past_end = reader.goto(answer, self.player.position)
        except ValueError as error:
            self.notify(str(error), severity="error")
            return
        if past_end:
            self.notify(f"{answer} is past the end ({fmt.clock(reader.duration_s)}): at the end", timeout=4)
        self.player.seek_index(index)

    def action_jump_collapse(self, forward: int) -> None:
        if not self.player.jump(("collapse_start",), bool(forward)):
            self.notify("no more collapses that way", timeout=2)

    def action_jump_note(self, forward: int) -> None:
        if not self.player.jump(("note", "tag"), bool(forward)):
            self.notify("no more notes or tags that way", timeout=2)


class EmbeddedReplayScreen(ReplayScreen, inherit_bindings=False):
    """A replay opened with `o` over another dashboard: Escape and `q` close it and return there."""

    BINDINGS = [*(b for b in ReplayScreen.BINDINGS if isinstance(b, Binding) and b.key != "q"),
                Binding("escape", "back", "Back", show=False), Binding("q", "back", "Back")]
    embedded = True

    def commands(self) -> Iterator[Command]:
        yield from super().commands()
        yield self.action_back, "Back", "Close the replay and return"

    def action_back(self) -> None:
        self.dismiss(None)


def speed_text(speed: float | None) -> str:
    return "max" if speed is None else f"x{speed:g}"
