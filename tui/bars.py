"""The one-line bars around the device panels: header, workload state, host strip, and the events pane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.widget import Widget

from recordings.inert import inert
from tui import format as fmt
from tui import repaints
from tui.feed import Snapshot
from tui.strips import StripText

STATE_STYLES = {"idle": "grey50", "data_prep": "blue", "io": "yellow", "compute": "green"}
TAG_STYLE = "magenta"


@dataclass(frozen=True)
class SessionLabel:
    """What the header says about the session, besides live numbers."""

    host: str
    tier: str
    session_id: str | None  # None: not recording
    mode: str = "LIVE"  # LIVE, DEMO, REPLAY


def host_words(host: dict[str, Any]) -> tuple[str, str]:
    """(hostname, hardware tier) of a session's host facts as the header says them: a hostname nobody knew (null
    in an imported session's meta.json) reads `unknown host`, an unknown tier is left out; never `None`."""
    name, tier = host.get("hostname"), host.get("hardware_tier")
    return (str(name) if name not in (None, "") else "unknown host"), (str(tier) if tier not in (None, "") else "")


class TextBar(StripText):
    """A bar showing one Text, redrawn only when the text changes."""

    DEFAULT_CSS = "TextBar { height: 1; }"

    def set_text(self, text: Text) -> None:
        """Show `text`; the same text again keeps its strip, unless the bar was resized since."""
        if "\n" in text.plain:
            self.show_text(text)
        else:  # one line already: what splitting it would give, without the copy
            self._show([text], None)


def header_text(label: SessionLabel, snapshot: Snapshot, recording: dict[str, Any] | None,
                paused: bool, width: int) -> Text:
    """Whole pieces, in order; where they do not fit, the least important go first (never a word cut in two)."""
    frame = snapshot.frame
    pieces: list[tuple[int, Text]] = [(0, Text(f" rigscope {label.mode} ", style="bold reverse"))]  # (rank, piece)
    if paused:
        pieces.append((0, Text(" ❚❚ PAUSED ", style="bold reverse yellow")))
    pieces.append((1, Text(f" {fmt.clock(snapshot.clock_s)}")))
    hz = recording.get("achieved_hz") if recording else None
    if hz:
        pieces.append((6, Text(f" {hz:.1f} Hz")))
    if recording and recording.get("error"):  # in place of REC, until a new recording starts
        pieces.append((0, Text.assemble(" │ ", (f" ✖ {recording['error']} ", "bold reverse red"))))
    elif recording and recording.get("session"):
        pieces += [(0, Text.assemble(" │ ", ("● REC", "bold red"))), (3, Text(f" {recording['session']}")),
                   (4, Text(f" {recording.get('samples', 0)} samples {fmt.size(recording.get('bytes'))}"))]
        flushed = recording.get("flush_age_s")
        if flushed is not None:
            pieces.append((8, Text(f" flushed {flushed:.0f}s ago")))
    else:
        pieces.append((0, Text.assemble(" │ ", ("not recording", "dim"))))
    # what a monitor costs matters more than which session it writes to
    pieces.append((2, Text(f" │ self {fmt.num(frame.get('self_cpu_pct'), '%', 1)} "
                           f"{fmt.size(frame.get('self_rss_bytes'))}")))
    where = " · ".join(part for part in (label.host, label.tier) if part)
    if where:
        pieces.append((5, Text(f" │ {where}")))
    return fitted(pieces, width)


def fitted(pieces: list[tuple[int, Text]], width: int) -> Text:
    """The pieces, (rank, text) in order, joined; where they do not fit, the highest ranks go first, whole (the
    last piece of a rank before the others), down to rank 0, which is cut only where nothing else is left."""
    pieces = list(pieces)
    while len(pieces) > 1 and sum(piece.cell_len for _, piece in pieces) > width:
        least = max(rank for rank, _ in pieces)
        if least == 0:
            break
        pieces.remove(next(item for item in reversed(pieces) if item[0] == least))
    text = Text().join(piece for _, piece in pieces)
    text.truncate(width)
    return text


def workload_text(snapshot: Snapshot, width: int, ascii_only: bool, window_s: float) -> Text:
    frame = snapshot.frame
    state = frame.get("workload_state") or "—"
    source = frame.get("workload_source") or "heuristic"
    style = STATE_STYLES.get(state, TAG_STYLE)
    text = Text(" state ")
    text.append(f" {inert(state).upper()} ", style=f"bold reverse {style}")
    history = snapshot.state_history
    since = history[-1][0] if history else 0.0
    held = snapshot.clock_s
    text.append(f" {source} · {fmt.clock(held - since)}")
    text.append(f" │ window {window_label(window_s)}")
    if held < window_s:  # a long window over a short run: the sparklines stretch what there is
        text.append(f" ({span_label(held)} of data)", style="dim")
    text.append(" │ ")
    strip_w = max(0, width - len(text.plain) - 1)
    text.append(state_strip(history, held, strip_w, ascii_only))
    return text


def window_label(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m" if seconds >= 60 else f"{seconds:g}s"


def span_label(seconds: float) -> str:
    """`45s`, `1m40s`, `1h05m`: how much data a window holds."""
    seconds = int(max(0.0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def state_strip(history: tuple[tuple[float, str], ...], now_s: float, width: int, ascii_only: bool) -> Text:
    """The recent states, oldest left, one cell per slice of time; a state's first letter marks it."""
    strip = Text()
    if not history or width <= 0:
        return strip
    start = max(history[0][0], now_s - 600.0)
    span = max(now_s - start, 1e-9)
    index = 0
    cells: list[str] = []
    for cell in range(width):
        moment = start + span * (cell + 0.5) / width
        while index + 1 < len(history) and history[index + 1][0] <= moment:
            index += 1
        cells.append(history[index][1])
    run_start = 0
    for cell in range(1, width + 1):  # one append per run of the same state
        if cell == width or cells[cell] != cells[run_start]:
            state = cells[run_start]
            glyph = state[0] if ascii_only else "▆"
            strip.append(glyph * (cell - run_start), style=STATE_STYLES.get(state, TAG_STYLE))
            run_start = cell
    return strip


HOST_FIELDS = ("mem_used_bytes", "mem_total_bytes", "mem_util_pct", "swap_used_bytes", "disk_read_bps",
               "disk_write_bps", "net_recv_bps", "net_sent_bps")  # what the host strip shows


def host_text(frame: dict[str, Any], width: int) -> Text:
    """Memory, swap, disk and network: the labels bold, the values plain; where they do not fit, swap goes
    first, then disk, then network, each whole (a value cut short would read as another number)."""
    pieces = [(0, Text.assemble((" MEM ", "bold"), f"{fmt.size(frame.get('mem_used_bytes'))}/"
                                f"{fmt.size(frame.get('mem_total_bytes'))} {fmt.num(frame.get('mem_util_pct'), '%')}")),
              (3, Text.assemble(("  SWAP ", "bold"), fmt.size(frame.get("swap_used_bytes")))),
              (2, Text.assemble(("  DISK ", "bold"), f"r {fmt.rate(frame.get('disk_read_bps'))} "
                                f"w {fmt.rate(frame.get('disk_write_bps'))}")),
              (1, Text.assemble(("  NET ", "bold"), f"rx {fmt.rate(frame.get('net_recv_bps'))} "
                                f"tx {fmt.rate(frame.get('net_sent_bps'))}"))]
    return fitted(pieces, width)


class EventsPane(Widget):
    """The latest notes, tags, collapses and alerts, newest at the bottom."""

    DEFAULT_CSS = "EventsPane { height: 1fr; padding: 0 1; }"
    STYLES = {"note": "cyan", "tag": "magenta", "collapse_start": "bold red", "collapse_end": "red",
              "alert": "yellow", "notice": "yellow"}

    def __init__(self, hint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hint = hint  # what an empty pane says
        self._events: tuple[dict[str, Any], ...] = ()
        self._origin_us: int | None = None
        self._key: tuple[int, int, int, int] | None = None

    def show(self, events: tuple[dict[str, Any], ...], origin_us: int | None = None) -> None:
        """`origin_us`: the session's elapsed 0 (`fmt.session_origin_us`), which places collapses at their start."""
        key = (len(events), id(events[-1]) if events else 0, self.size.height, self.size.width)
        if key != self._key:
            self._key = key
            self._origin_us = origin_us
            self._events = tuple(e for e in events if e.get("kind") in self.STYLES)
            repaints.refresh(self)

    def render(self) -> Text:
        text = Text("events", style="bold underline")
        lines = newest_lines(self._events, self.STYLES, max(1, self.content_region.width),
                             max(0, self.content_region.height - 1), self._origin_us)
        for line in lines:
            text.append("\n")
            text.append_text(line)
        if not self._events:
            text.append(f"\n{self.hint}", style="dim")
        return text


def newest_lines(events: tuple[dict[str, Any], ...], styles: dict[str, str], width: int, rows: int,
                 origin_us: int | None = None) -> list[Text]:
    """The last `rows` screen lines of the events, wrapped at `width`: the newest event is always shown
    (its first lines when it alone is longer than the pane), however long the notes before it."""
    lines: list[Text] = []
    for event in reversed(events):
        if len(lines) >= rows:
            break
        wrapped = list(Text(fmt.event_line(event, origin_us), style=styles.get(event.get("kind", ""), "")).wrap(
            _CONSOLE, width))
        lines[:0] = wrapped if lines or len(wrapped) <= rows else wrapped[:rows]
    return lines[-rows:] if rows else []


_CONSOLE = Console(width=10_000, color_system=None)  # only to measure text when wrapping it
