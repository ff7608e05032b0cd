"""A device's panel: sparklines of utilization, temperature, power, memory and RLE, with the current values
(and, on a GPU with GPM, SM activity under utilization: util says a kernel ran, SM how much of the chip worked).

One widget draws the whole panel as text, so eight GPUs cost eight cheap
renders, and it re-renders only when what it shows changed.  In compact mode
a device takes one row (two where the terminal has the rows: memory and RLE sparklines below).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from collectors.schema import column
from recordings.inert import inert
from tui import format as fmt
from tui.feed import Snapshot
from tui.overlay import TIME, collapse_column, overlay_line, overlay_names
from tui.sparkline import sparkline
from tui.strips import NULL, Row, StripText, runs_row

LABEL_W = 6
FULL_LINES = 7  # title, five sparklines, status
GPM_LINES = FULL_LINES + 1  # and the SM activity sparkline
WARM_UP_S = 60.0
VALUE_W = 18


@dataclass(frozen=True)
class Device:
    prefix: str  # cpu, gpu0, ...
    title: str  # "CPU AMD EPYC", "GPU0 NVIDIA H100"
    gpm: bool = False  # a GPU whose SM activity (NVML GPM) is sampled: its panel has an SM row

    @property
    def is_gpu(self) -> bool:
        return self.prefix.startswith("gpu")

    def series_names(self) -> list[str]:
        p = self.prefix
        memory = column(p, "mem_used_bytes") if self.is_gpu else "mem_util_pct"
        sm = [column(p, "sm_active_pct")] if self.gpm else []
        return [column(p, "util_pct"), *sm, column(p, "temp_c"), column(p, "power_w"), memory, column(p, "rle_smoothed")]


def panel_lines(devices: Sequence[Device]) -> int:
    """Rows of a full panel: one more for the SM row when a device has it (panels share a grid)."""
    return GPM_LINES if any(device.gpm for device in devices) else FULL_LINES


def feed_columns(devices: Sequence[Device]) -> list[str]:
    """Every series the feed keeps: the panels' sparklines, then what a metric overlay lines up with."""
    return [name for device in devices for name in device.series_names()] + overlay_names(
        [device.prefix for device in devices])


@dataclass(frozen=True)
class View:
    window_s: float = 120.0
    ascii_only: bool = False
    compact: bool = False
    overlay: str | None = None  # a custom metric laid over the RLE sparklines
    no_color: bool = False  # NO_COLOR: severities as marks (`!`), not colours
    compact_rows: int = 1  # compact: 2 adds a row of memory and RLE sparklines where the rows allow
    lines: int = FULL_LINES  # rows of a full panel (`panel_lines`): a shorter panel has blank rows above its status


def _value(frame: dict[str, Any], name: str) -> Any:
    value = frame.get(name)
    return value if isinstance(value, (int, float)) else None


SEVERITY_STYLES = {"warning": "bold yellow", "critical": "bold red"}
SEVERITY_MARKS = {"warning": "!", "critical": "!!"}  # NO_COLOR: a mark instead of a colour


def severity(value: Any, limit: Any, warn_at: float = 0.9, critical_at: float = 1.0) -> str | None:
    """How close a reading is to the device's own limit: None (fine, or no limit known), warning, critical."""
    if not isinstance(value, (int, float)) or not isinstance(limit, (int, float)) or limit <= 0:
        return None
    share = value / limit
    return "critical" if share >= critical_at else "warning" if share >= warn_at else None


@dataclass(frozen=True, slots=True)
class Shown:
    """A value as a panel shows it: its characters, and the style its severity gives it ("" when fine)."""

    plain: str
    style: str = ""

    @property
    def cell_len(self) -> int:
        return cell_len(self.plain)

    def text(self) -> Text:
        return Text(self.plain, style=self.style)


def flagged(text: str, level: str | None, no_color: bool) -> Shown:
    """A value coloured by its severity, or marked with `!`/`!!` where colour is off."""
    if level is None:
        return Shown(text)
    return Shown(text + SEVERITY_MARKS[level]) if no_color else Shown(text, SEVERITY_STYLES[level])


def _against(value: Any, limit: Any, unit: str) -> str:
    text = fmt.num(value, "", 0)
    return f"{text}/{fmt.num(limit, unit, 0)}" if limit is not None else fmt.num(value, unit, 0)


def rjust(text: Text, width: int) -> Text:
    return Text(" " * max(0, width - text.cell_len)) + text


def series_row(label: str, spark: str, style: str, shown: Shown, width: int, cells: int, console: Console) -> Row:
    """`util  ▂▃▅▇   57%`: the label, the sparkline in `style`, the value right-aligned after it."""
    value_style = console.get_style(shown.style, default=NULL) if shown.style else NULL
    runs = ((f"{label:<{LABEL_W}}", NULL), (spark, console.get_style(style, default=NULL)),
            (" " * max(0, VALUE_W + 1 - shown.cell_len), NULL), (shown.plain, value_style))
    return runs_row(runs, width, cells)


def title_row(runs: Sequence[tuple[str, str]], width: int, cells: int, console: Console) -> Row:
    """A panel's title row from its (characters, style name) runs."""
    return runs_row([(chars, console.get_style(style, default=NULL)) for chars, style in runs], width, cells)


def rle_missing(frame: dict[str, Any], prefix: str) -> str:
    """Why a device has no RLE (SIGNALS §2: it needs power and the rated power)."""
    if _value(frame, column(prefix, "power_w")) is None:
        return "no power reading"
    if _value(frame, column(prefix, "power_limit_w")) is None:
        return "no power limit"
    return "no data yet"


class DevicePanel(StripText, can_focus=True):
    DEFAULT_CSS = """
    DevicePanel { height: 7; padding: 0 1; }
    DevicePanel.collapse { border-left: thick $error; }
    DevicePanel:focus { background: $boost; }
    """

    def __init__(self, device: Device, **kwargs: Any) -> None:
        super().__init__(Text(device.title), id=f"panel-{device.prefix}", **kwargs)
        self.device = device
        self._name = inert(device.title)  # a GPU name comes from the driver (or a recording): no escape reaches the terminal
        self._key: tuple[Any, ...] | None = None
        self._rows: dict[int, tuple[Any, Row]] = {}  # row -> (what it was built from, the line)

    def show(self, snapshot: Snapshot, view: View) -> None:
        width = max(20, self.content_width - 2) if self.content_width else 78
        key = (snapshot.version, view, width)
        if key == self._key:
            return
        self._key = key
        lines: list[Row]
        if view.compact:
            lines = [self._compact(snapshot, view, width)]
            if view.compact_rows > 1:
                lines.append(self._compact_detail(snapshot, view, width))
        else:
            lines = self._full(snapshot, view, width)
        self.set_class(_value(snapshot.frame, column(self.device.prefix, "collapse")) == 1, "collapse")
        self.styles.height = len(lines) if view.compact else view.lines
        self.show_lines(lines, width)

    # -- content -----------------------------------------------------------
    def _lines(self, frame: dict[str, Any], no_color: bool = False) -> dict[str, Shown]:
        p = self.device.prefix
        mem_used, mem_total = _value(frame, column(p, "mem_used_bytes")), _value(frame, column(p, "mem_total_bytes"))
        if self.device.is_gpu:
            memory = flagged(f"{fmt.size(mem_used)}/{fmt.size(mem_total)}", severity(mem_used, mem_total, 0.9, 0.98),
                             no_color)
        else:
            host = _value(frame, "mem_util_pct")
            memory = flagged(f"{fmt.num(host, '%', 0)} host", severity(host, 100.0, 0.9, 0.98), no_color)
        temp, temp_limit = _value(frame, column(p, "temp_c")), _value(frame, column(p, "temp_limit_c"))
        power, power_limit = _value(frame, column(p, "power_w")), _value(frame, column(p, "power_limit_w"))
        rle = _value(frame, column(p, "rle_smoothed"))
        sm = {"SM": Shown(fmt.num(_value(frame, column(p, "sm_active_pct")), "%", 0))} if self.device.gpm else {}
        return {
            "util": Shown(fmt.num(_value(frame, column(p, "util_pct")), "%", 0)),
            **sm,
            "temp": flagged(_against(temp, temp_limit, "°C"), severity(temp, temp_limit, 0.95), no_color),
            "power": flagged(_against(power, power_limit, " W"), severity(power, power_limit, 0.95, 1.02), no_color),
            "mem": memory,
            "RLE": Shown(f"{fmt.num(rle, '', 2)} {self._peak(frame)}" if rle is not None
                         else f"— {rle_missing(frame, p)}"),
        }

    def _peak(self, frame: dict[str, Any]) -> str:
        if (frame.get("elapsed_s") or 0.0) < WARM_UP_S:
            return "warm-up"  # SIGNALS §3: no peak, no collapse in the first minute
        return f"peak {fmt.num(_value(frame, column(self.device.prefix, 'rolling_peak')), '', 2)}"

    def _limits(self, frame: dict[str, Any]) -> list[tuple[float, float | None]]:
        p = self.device.prefix
        mem_high = _value(frame, column(p, "mem_total_bytes")) if self.device.is_gpu else 100.0
        peak = _value(frame, column(p, "rolling_peak")) or 0.0
        sm = [(0, 100.0)] if self.device.gpm else []
        return [(0, 100.0), *sm, (20.0, _value(frame, column(p, "temp_limit_c"))),
                (0, _value(frame, column(p, "power_limit_w"))), (0, mem_high), (0, max(1.0, peak * 1.1))]

    def _status(self, frame: dict[str, Any], summary_counts: tuple[int | None, float]) -> Text:
        p = self.device.prefix
        events, seconds = summary_counts
        status = Text("collapses — (no RLE)" if events is None else f"collapses {events} ({seconds:.0f} s)")
        if _value(frame, column(p, "collapse")) == 1:
            status.append("  ● COLLAPSE", style="bold red")
        alerts = frame.get(column(p, "alerts"))
        if alerts:
            status.append(f"  ⚠ {alerts.replace('|', ' ')}", style="yellow")
        words = fmt.throttle_words(frame.get(column(p, "throttle_reasons")))
        if words:
            status.append(f"  throttle: {words}", style="bold yellow")
        return status

    def _title(self, frame: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        """The device's name and clocks, all bold, as (characters, style) runs; a GPU that gave no reading says so
        in red.  The runs are the title row's key: a clock that moved within the shown precision redraws nothing."""
        p = self.device.prefix
        if not self.device.is_gpu:
            return (f"{self._name}  {fmt.num(_value(frame, 'cpu_freq_mhz'), ' MHz')}", "bold"),
        pstate = frame.get(column(p, "pstate"))
        title = (f"{self._name}{f'  P{pstate}' if isinstance(pstate, int) else '  P—'}"
                 f"  SM {fmt.num(_value(frame, column(p, 'clock_sm_mhz')), ' MHz')}"
                 f"  mem {fmt.num(_value(frame, column(p, 'clock_mem_mhz')), ' MHz')}"
                 f"  fan {fmt.num(_value(frame, column(p, 'fan_pct')), '%')}")
        if frame.get(column(p, "util_pct"), 0) is None and frame.get(column(p, "temp_c"), 0) is None:
            return (title, "bold"), ("  no reading: GPU lost or stalled", "bold red")
        return (title, "bold"),

    def _row(self, index: int, key: Any, build: Callable[[], Row], width: int) -> Row:
        """Row `index` of a full panel: the line built before while `key` (what it is built from) is the same,
        so an unchanged row costs neither laying out nor comparing (StripText keeps its strip)."""
        cached = self._rows.get(index)
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        line = build()
        if isinstance(line, Text):
            line.truncate(width, overflow="ellipsis")
        self._rows[index] = (key, line)
        return line

    def _full(self, snapshot: Snapshot, view: View, width: int) -> list[Row]:
        frame = snapshot.frame
        p = self.device.prefix
        values = self._lines(frame, view.no_color)
        spark_w = max(4, width - LABEL_W - VALUE_W - 2)
        cells, console = self.line_cells(width), self.app.console
        title = self._title(frame)
        lines = [self._row(0, (width, title), partial(title_row, title, width, cells, console), width)]
        collapsed = _value(frame, column(p, "collapse")) == 1
        for row, ((label, shown), name, (low, high)) in enumerate(
                zip(values.items(), self.device.series_names(), self._limits(frame)), start=1):
            if label == "RLE" and view.overlay:
                lines.append(self._row(row, None, partial(self._overlay_row, snapshot, view, spark_w, high, shown),
                                       width))
                continue
            style = "red" if label == "RLE" and collapsed else str(shown.style) or "green"  # near a limit: its colour
            spark = sparkline(snapshot.series.get(name, ()), spark_w, low, high, view.ascii_only)
            key = (width, label, spark, style, shown.plain, shown.style)
            lines.append(self._row(row, key, partial(series_row, label, spark, style, shown, width, cells, console),
                                   width))
        blank = Text()
        lines += [blank for _ in range(view.lines - len(lines) - 1)]  # status rows line up across panels
        counts = self._counts(snapshot)
        status_key = (width, counts[0], f"{counts[1]:.0f}", collapsed, frame.get(column(p, "alerts")),
                      frame.get(column(p, "throttle_reasons")))
        lines.append(self._row(view.lines - 1, status_key, lambda: self._status(frame, counts), width))
        return lines

    def _overlay_row(self, snapshot: Snapshot, view: View, spark_w: int, high: float | None, shown: Shown) -> Text:
        """The RLE row with the custom metric laid over its sparkline, and the metric's latest value."""
        line = Text(f"{'RLE':<{LABEL_W}}")
        line.append_text(self._overlay(snapshot, view, spark_w, high or 1.0))
        rle, value = shown.plain.split()[0], metric_text(snapshot, view.overlay or "")
        overlay = view.overlay or ""
        line.append_text(rjust(Text(f"{rle} {overlay[:max(1, VALUE_W - len(rle) - len(value) - 2)]} {value}"),
                               VALUE_W + 1))
        return line

    def _compact(self, snapshot: Snapshot, view: View, width: int) -> Text:
        frame = snapshot.frame
        prefix = self.device.prefix
        values = self._lines(frame, view.no_color)
        events, seconds = self._counts(snapshot)
        rle = f"RLE {values['RLE'].plain.split()[0]:>4}"
        if view.overlay:  # one row has room for one sparkline: the overlay's, with what it shows
            tail = Text(f" {rle} {view.overlay[:9]} {metric_text(snapshot, view.overlay)} {_short_counts(events, seconds)}")
        else:
            tail = Text.assemble(rjust(values["util"].text(), 5), rjust(values["temp"].text(), 10),
                                 rjust(values["power"].text(), 12), rjust(values["mem"].text(), 14),
                                 f" {rle} {_short_counts(events, seconds)}")
        if _value(frame, column(prefix, "collapse")) == 1:
            tail.append(" ●", style="bold red")
        words = fmt.throttle_words(frame.get(column(prefix, "throttle_reasons")))
        if words and not view.overlay:
            tail.append(f" {words}", style="yellow")
        row = Text(f"{prefix.upper():<6}", style="bold")
        spark_w = max(4, min(60, width - 6 - len(tail.plain)))
        if view.overlay:
            row.append_text(self._overlay(snapshot, view, spark_w, self._limits(frame)[-1][1] or 1.0))
        else:
            row.append(sparkline(snapshot.series.get(column(prefix, "util_pct"), ()), spark_w, 0, 100, view.ascii_only),
                       style="green")
        row.append_text(tail)
        row.truncate(width, overflow="ellipsis")
        return row

    def _compact_detail(self, snapshot: Snapshot, view: View, width: int) -> Text:
        """The second row of a compact panel: memory and RLE sparklines (their values are on the first row),
        and the RLE's peak, warm-up or why there is none."""
        frame = snapshot.frame
        values = self._lines(frame, view.no_color)
        names, limits = self.device.series_names(), self._limits(frame)
        rle_words = values["RLE"].plain.split(" ", 1)[1] if " " in values["RLE"].plain else ""
        spark_w = max(4, (width - 6 - len(" mem ") - len("  RLE ") - 1 - len(rle_words)) // 2)
        row = Text(" " * 5)
        collapsed = "red" if _value(frame, column(self.device.prefix, "collapse")) == 1 else ""
        for label, index, style in ((" mem ", 3, str(values["mem"].style)), ("  RLE ", 4, collapsed)):
            low, high = limits[index]
            row.append(label, style="dim")
            row.append(sparkline(snapshot.series.get(names[index], ()), spark_w, low, high, view.ascii_only),
                       style=style or "green")
        row.append(f" {rle_words}", style="dim")
        row.truncate(width, overflow="ellipsis")
        return row

    def _overlay(self, snapshot: Snapshot, view: View, width: int, high: float) -> Text:
        p, series = self.device.prefix, snapshot.series
        return overlay_line(series.get(column(p, "rle_smoothed"), ()), series.get(TIME, ()),
                            series.get(collapse_column(p), ()), snapshot.metrics, view.overlay or "", width, high,
                            view.ascii_only)

    def _counts(self, snapshot: Snapshot) -> tuple[int | None, float]:
        """Collapse events and seconds; the count is None (unknown, not 0) while the device has shown no RLE
        (no power reading, or no power limit): no collapse is looked for without one."""
        count = snapshot.collapses.get(self.device.prefix)
        if count:
            return count.events, count.seconds(snapshot.frame.get("elapsed_s") or 0.0)
        rle = column(self.device.prefix, "rle_smoothed")
        if _value(snapshot.frame, rle) is None and all(value is None for value in snapshot.series.get(rle, ())):
            return None, 0.0
        return 0, 0.0


def _short_counts(events: int | None, seconds: float) -> str:
    """The collapse counts of a compact row: C2/14s, or C— where they are unknown."""
    return "C—" if events is None else f"C{events}/{seconds:.0f}s"


def metric_text(snapshot: Snapshot, name: str) -> str:
    """A metric's latest value, short."""
    points = snapshot.metrics.series.get(name)
    return fmt.metric(points[-1][1]) if points else "—"
