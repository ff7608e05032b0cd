"""The processes pane: who uses the GPUs (GPU, pid, user, container, GPU memory, SM %, CPU %, RSS, command).

Its own view, switched with `p` in place of the device panels (as nvitop keeps
its process list apart), so eight panels still fit at 160x50.  It sorts
(`s` next column, `i` inverts the order), filters as one types after `/` (any of user,
command, container, pid), moves a selection with the arrows, and `k` asks to
send SIGTERM to the selected process.  It draws through the strip cache, and
only when the rows, the sort, the filter, the selection or the width changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input

from recordings.inert import inert
from tui import format as fmt
from tui.filter_line import TABLE_BINDINGS, TABLE_HIDDEN_BINDINGS, FilterLine
from tui.strips import StripText

NOT_VISIBLE = "not visible from this namespace"
# (title, width, key of a row to sort by); the command takes what is left.
# Numbers sort as shown (sizes to 0.1 of their unit, whole percents): values that look the same tie, and ties keep the pid order,
# so rows do not swap places every refresh over a difference nobody sees.
COLUMNS: tuple[tuple[str, int, Callable[[dict[str, Any]], Any]], ...] = (
    ("GPU", 4, lambda r: -1 if r.get("gpu") is None else r["gpu"]),
    ("PID", 8, lambda r: r.get("pid") or 0),
    ("USER", 10, lambda r: r.get("user") or ""),
    ("CONTAINER", 19, lambda r: r.get("container") or ""),
    ("GPU MEM", 8, lambda r: fmt.size_rank(r.get("gpu_mem_bytes"))),
    ("SM%", 4, lambda r: round(r.get("sm_pct") or 0.0)),
    ("CPU%", 6, lambda r: round(r.get("cpu_pct") or 0.0)),
    ("RSS", 7, lambda r: fmt.size_rank(r.get("rss_bytes"))),
    ("COMMAND", 0, lambda r: r.get("command") or ""),
)
DEFAULT_SORT = 4  # GPU memory, largest first
CPU_SORT = 6  # what the default gives way to when no row has GPU memory (host processes of --proc-top)
NO_GPU_HINT = "--proc-top N lists the N busiest host processes too"
NARROW = 110  # below this width the container and RSS columns give their room to the command
NARROW_DROPS = ("CONTAINER", "RSS")


def _cells(row: dict[str, Any]) -> list[str]:
    gpu = row.get("gpu")
    command = inert(row.get("command") or ("" if row.get("visible") else NOT_VISIBLE))  # argv is anyone's text
    return ["host" if gpu is None else str(gpu), str(row.get("pid")), inert(row.get("user") or "—"),
            inert(row.get("container") or "—"), fmt.size(row.get("gpu_mem_bytes")), fmt.num(row.get("sm_pct")),
            fmt.num(row.get("cpu_pct"), "", 1), fmt.size(row.get("rss_bytes")), command]


def matches(row: dict[str, Any], needle: str) -> bool:
    if not needle:
        return True
    haystack = " ".join(str(row.get(k) or "") for k in ("user", "command", "container", "pid", "kind"))
    return needle.lower() in (haystack + ("" if row.get("visible") else " " + NOT_VISIBLE)).lower()


def _line(cells: list[str], width: int, style: str) -> Text:
    parts = []
    for (title, w, _), cell in zip(COLUMNS, cells):
        if width < NARROW and title in NARROW_DROPS:
            continue
        if w:
            cell = cell if len(cell) <= w else cell[: w - 1] + "…"
            parts.append(cell.rjust(w) if title in ("PID", "GPU MEM", "SM%", "CPU%", "RSS") else cell.ljust(w))
        else:
            parts.append(cell)
    line = Text(" ".join(parts), style=style)
    line.truncate(width, pad=bool(style))
    return line


def column_at(x: int, width: int) -> int | None:
    """The index in COLUMNS of the column drawn at cell `x` of a line `width` wide (as `_line` lays them out)."""
    left = 0
    for index, (title, w, _) in enumerate(COLUMNS):
        if width < NARROW and title in NARROW_DROPS:
            continue
        if not w:
            return index if x >= left else None
        if left <= x < left + w:
            return index
        left += w + 1
    return None


STALE_S = 10  # a process list this old (5 of the tier's default intervals) says its age


class ProcessesPane(StripText, can_focus=True):
    DEFAULT_CSS = "ProcessesPane { height: 1fr; padding: 0 1; } ProcessesPane:focus { background: $boost 30%; }"
    BINDINGS = [*TABLE_BINDINGS, Binding("k", "kill", "Kill"), *TABLE_HIDDEN_BINDINGS]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sort_index = DEFAULT_SORT
        self.sort_chosen = False  # s or a click on a column chose the sort: it stays
        self.descending = True
        self.needle = ""
        self.selected_pid: int | None = None
        self.rows: list[dict[str, Any]] = []  # the shown rows, sorted and filtered
        self.simulated = False
        self._snapshot: Any = None
        self._drawn: tuple[Any, ...] | None = None
        self._top = 0  # the first row shown (the list scrolls with the selection)
        self._age_s: int | None = None  # seconds since the list shown was taken, by the frame on screen

    # -- data ----------------------------------------------------------------
    def show(self, snapshot: Any, force: bool = False, now_us: int | None = None) -> None:
        """Draw `snapshot` (a ProcessSnapshot, None without a process tier) if anything shown changed.  `now_us`: the
        time of the frame on screen; a list older than STALE_S by it says how old (a process tier held up)."""
        self._snapshot = snapshot
        listed_at = getattr(snapshot, "ts", None)
        self._age_s = (now_us - listed_at) // 1_000_000 if isinstance(now_us, int) and isinstance(listed_at, int) \
            else None
        key = (getattr(snapshot, "version", None), id(snapshot), self.sort_index, self.descending, self.needle,
               self.selected_pid, self.content_region.width, self.content_region.height, self._stale_s)
        if key == self._drawn and not force:
            return
        self._drawn = key
        all_rows = list(snapshot.rows) if snapshot is not None else []
        self.simulated = any(r.get("simulated") for r in all_rows)
        if self.sort_index == DEFAULT_SORT and not self.sort_chosen and all_rows \
                and not any(r.get("gpu_mem_bytes") for r in all_rows):
            self.sort_index = CPU_SORT  # GPU memory is — in every row: the busiest by CPU first
        title, _, sort_key = COLUMNS[self.sort_index]
        rows = [r for r in all_rows if matches(r, self.needle)]
        rows.sort(key=lambda r: (sort_key(r), r.get("pid") or 0), reverse=self.descending)
        self.rows = rows
        if rows and self.selected_pid not in {r.get("pid") for r in rows}:
            self.selected_pid = rows[0].get("pid")
        self.show_text(self._content(snapshot, len(all_rows), title), self.content_region.width or None)

    @property
    def _stale_s(self) -> int | None:
        """Seconds since the list shown was taken, when that is STALE_S or more."""
        return self._age_s if self._age_s is not None and self._age_s >= STALE_S else None

    @property
    def selected(self) -> dict[str, Any] | None:
        return next((r for r in self.rows if r.get("pid") == self.selected_pid), None)

    def _content(self, snapshot: Any, total: int, sort_title: str) -> Text:
        width = max(20, self.content_region.width or 100)
        head = Text("Processes", style="bold")
        if self.simulated:
            head.append("  SIMULATED (made-up pids)", style="yellow")
        gpus = {r.get("gpu") for r in self.rows if r.get("gpu") is not None}
        window = self._window()
        head.append(f"  {len(self.rows)}/{total} shown")
        if len(window) < len(self.rows):
            head.append(f" · rows {self._top + 1}-{self._top + len(window)} (↑/↓)", style="bold")
        head.append(f" · {len(gpus)} GPU{'s' * (len(gpus) != 1)} · sort {sort_title} {'↓' if self.descending else '↑'}")
        if self.needle:
            head.append(f" · filter “{self.needle}”", style="bold cyan")
        if self._stale_s is not None:
            head.append(f" · listed {self._stale_s} s ago", style="bold yellow")
        lines = [head, _line([c[0] for c in COLUMNS], width, "bold reverse")]
        if snapshot is None:
            lines.append(Text(f"no process list here (no GPU, or this session recorded none); {NO_GPU_HINT}",
                              style="dim"))
        elif not self.rows:
            lines.append(Text("no process matches" if self.needle else f"no process on the GPUs; {NO_GPU_HINT}",
                              style="dim"))
        for row in window:
            style = "reverse" if row.get("pid") == self.selected_pid else ("dim" if not row.get("visible") else "")
            lines.append(_line(_cells(row), width, style))
        return Text("\n").join(lines)

    def _fits(self) -> int:
        return max(1, (self.content_region.height or 30) - 2)  # below the title and the column names

    def _window(self) -> list[dict[str, Any]]:
        """The rows that fit, scrolled so the selection stays in view."""
        fits, pids = self._fits(), [r.get("pid") for r in self.rows]
        here = pids.index(self.selected_pid) if self.selected_pid in pids else 0
        self._top = max(0, min(self._top, here, len(pids) - fits))
        if here >= self._top + fits:
            self._top = here - fits + 1
        return self.rows[self._top: self._top + fits]

    # -- actions --------------------------------------------------------------
    def refresh_rows(self) -> None:
        self.show(self._snapshot)

    def action_sort(self) -> None:
        self.sort_by((self.sort_index + 1) % len(COLUMNS))

    def sort_by(self, index: int) -> None:
        self.sort_index, self.sort_chosen = index, True
        self.descending = COLUMNS[index][0] not in ("USER", "CONTAINER", "COMMAND", "GPU", "PID")
        self.refresh_rows()

    def on_click(self, event: Any) -> None:
        """A click on a column's title sorts by it; on the column sorted by already, reverses the order."""
        if event.y - self.styles.padding.top != 1:  # the row of column titles, below the heading
            return
        index = column_at(event.x - self.styles.padding.left, self.content_region.width or 100)
        if index is None:
            return
        if index == self.sort_index:
            self.action_order()
        else:
            self.sort_by(index)

    def action_order(self) -> None:
        self.descending = not self.descending
        self.refresh_rows()

    def action_move(self, step: int) -> None:
        pids = [r.get("pid") for r in self.rows]
        if not pids:
            return
        here = pids.index(self.selected_pid) if self.selected_pid in pids else 0
        self.selected_pid = pids[max(0, min(len(pids) - 1, here + step))]
        self.refresh_rows()

    def action_filter(self) -> None:
        box = self.parent.query_one("#proc-filter", Input)  # type: ignore[union-attr]
        box.display = True
        box.value = self.needle
        box.focus()

    def action_clear(self) -> None:
        if not self.needle:  # nothing to clear: Escape goes on to the screen (back from an opened replay)
            raise SkipAction()
        self.needle = ""
        self.refresh_rows()

    def action_kill(self) -> None:
        self.screen.kill_selected(self.selected)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`k` is not offered where it can end nothing (--readonly, a replay): the footer leaves it out, and the
        key goes on to the screen, which says why."""
        return not (action == "kill" and getattr(self.screen, "kill_is_off", False))

    def set_filter(self, needle: str) -> None:
        self.needle = needle.strip()
        self.refresh_rows()


class ProcessesView(FilterLine, Vertical):
    """The pane and its filter line (shown while typing after `/`)."""

    DEFAULT_CSS = "ProcessesView { height: 1fr; } ProcessesView #proc-filter { display: none; }"
    FILTER_ID = "proc-filter"

    def compose(self) -> ComposeResult:
        yield ProcessesPane(id="proc-pane")
        yield Input(placeholder="filter: user, command, container or pid (Enter keeps it, Escape clears)",
                    id="proc-filter")

    def filtered_table(self) -> ProcessesPane:
        return self.query_one(ProcessesPane)
