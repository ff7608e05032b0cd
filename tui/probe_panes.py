"""The panes of instrumented workloads: recent spans with their totals, and a sparkline per custom metric.

Both draw through the strip cache (`StripText`) and rebuild their text only when
their view's serial, their size or what they are told changes; with nothing to
show they are hidden and take no room.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from recordings.inert import inert
from tui import format as fmt
from tui.probe_data import RECENT_SPANS, MetricsView, SpansView
from tui.sparkline import sparkline
from tui.strips import StripText

# (header, width) of the number columns of a span row, after its name
SPAN_COLUMNS = (("dur", 6), ("rtf", 4), ("tok/s", 5), ("gpu", 5), ("J", 5))
TIME_FROM_W = 64  # from this width a span row starts with its end time
MIN_NAME_W, MAX_NAME_W = 6, 24  # what a wide row has beyond that goes to a failed span's error
VALUE_W = 8
STEP_FROM_W = 50  # from this width a metric line shows the step of its latest point
METRIC_STYLE = "magenta"


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 10 else f"{minutes}m"


def _short(value: Any, digits: int = 0) -> str:
    """A number in at most 5 characters: 0.47, 362, 1.2k, 12k."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k" if abs(value) < 10_000 else f"{value / 1000:.0f}k"
    return f"{value:.{digits}f}"


def energy(joules: Any) -> str:
    if not isinstance(joules, (int, float)):
        return "—"
    for scale, unit in ((1e6, "MJ"), (1e3, "kJ")):
        if joules >= scale:
            return f"{joules / scale:.1f}{unit}" if joules < 10 * scale else f"{joules / scale:.0f}{unit}"
    return f"{joules:.1f}J" if joules < 10 else f"{joules:.0f}J"


def gpu_memory(mb: Any) -> str:
    if not isinstance(mb, (int, float)):
        return "—"
    if mb < 1024:
        return f"{mb:.0f}M"
    return f"{mb / 1024:.1f}G" if mb < 100 * 1024 else f"{mb / 1024:.0f}G"


NAME_LINES = 3  # span names with their own totals in the pane, most frequent first


def totals_lines(view: SpansView, width: int) -> list[Text]:
    """Per top-level span name `name N · ok R% (F failed)` and `p50 … p95 … p99 …` (one line when it fits,
    else two), and how many nested spans are left out of them. Only nested spans so far: theirs."""
    top = [entry for entry in view.names if not entry["nested"]]
    lines: list[Text] = []
    for entry in (top or list(view.names))[:NAME_LINES]:
        lines += _name_lines(entry, width)
    nested = sum(entry["total"] for entry in view.names if entry["nested"]) if top else 0
    if nested:
        lines.append(Text(f"+{nested} nested spans, not in these totals", style="dim"))
    return lines


def _name_lines(entry: dict[str, Any], width: int) -> list[Text]:
    head = Text(inert(str(entry["name"])), style="bold")  # a span name comes from the workload
    total, failed = entry["total"], entry["failed"]
    head.append(f" {total}")
    head.append(" · ok ")
    head.append(fmt.num((total - failed) / total * 100 if total else None, "%", 1),
                style="bold red" if failed else "green")
    if failed:
        head.append(f" ({failed} failed)", style="red")
    head.truncate(width, overflow="ellipsis")
    quantiles = Text(" ".join(f"p{q} {duration(entry.get(f'p{q}_duration_s'))}" for q in (50, 95, 99)))
    if head.cell_len + 3 + quantiles.cell_len <= width:
        return [Text(" · ").join([head, quantiles])]
    return [head, quantiles]


def _name_width(width: int) -> int:
    fixed = sum(w + 1 for _, w in SPAN_COLUMNS) + 3 + (9 if width >= TIME_FROM_W else 0)
    return max(MIN_NAME_W, min(MAX_NAME_W, width - fixed))


def span_row(row: dict[str, Any], width: int, ascii_only: bool) -> Text:
    name_w = _name_width(width)
    cells = [duration(row.get("total_duration_s")), _short(row.get("rtf"), digits=2),
             _short(row.get("tokens_per_second")), gpu_memory(row.get("peak_gpu_memory_mb")),
             energy(row.get("energy_j"))]
    text = Text()
    if width >= TIME_FROM_W:
        end = row.get("end_time")
        text.append(f"{end[11:19] if isinstance(end, str) else '--:--:--'} ", style="dim")
    name = inert(row.get("name") or row.get("request_id") or "?")
    text.append(f"{name[:name_w]:<{name_w}}")
    for (_, cell_w), cell in zip(SPAN_COLUMNS, cells):
        text.append(f" {cell:>{cell_w}}")
    ok = bool(row.get("success"))
    text.append(f"  {('+' if ascii_only else '✓') if ok else ('x' if ascii_only else '✗')}",
                style="green" if ok else "bold red")
    room = width - text.cell_len - 1
    if not ok and row.get("error_message") and room >= 4:  # the mark stays; the error takes what is left
        error = Text(inert(row["error_message"]), style="red")
        error.truncate(room, overflow="ellipsis")
        text.append(" ")
        text.append_text(error)
    text.truncate(width)
    return text


def header_line(width: int) -> Text:
    name_w = _name_width(width)
    text = Text(("end      " if width >= TIME_FROM_W else "") + f"{'name':<{name_w}}", style="dim")
    for title, cell_w in SPAN_COLUMNS:
        text.append(f" {title:>{cell_w}}", style="dim")
    text.append(" ok", style="dim")
    return text


def spans_height(view: SpansView, width: int) -> int:
    """Lines the spans pane can fill (0: nothing to show): totals, the column header, the recent spans.

    As many as it will hold once `RECENT_SPANS` have ended, from the first one on: the layout changes
    when the pane appears, not with every span."""
    return len(totals_lines(view, width)) + 1 + RECENT_SPANS if view.total else 0


def spans_text(view: SpansView, width: int, lines: int, ascii_only: bool) -> Text:
    out = totals_lines(view, width)[:lines]
    if len(out) < lines:
        out.append(header_line(width))
    out += [span_row(row, width, ascii_only) for row in view.recent[:max(0, lines - len(out))]]
    return Text("\n").join(out)


def metrics_height(view: MetricsView) -> int:
    """Lines the metrics pane would fill (0: no metric yet): a title, then one line per metric."""
    return 1 + len(view.series) if view.series else 0


def probe_wants(spans: SpansView, metrics: MetricsView, width: int) -> tuple[int, int]:
    return spans_height(spans, width), metrics_height(metrics)


def pane_caps(narrow: bool, height: int) -> tuple[int, int]:
    """The rows the spans and metrics panes get first, each, before either gets more."""
    if narrow:
        return (6, 5) if height >= 30 else (4, 3)
    return (10, 9) if height >= 40 else (7, 5)


def share_rows(wants: tuple[int, int], caps: tuple[int, int], spare: int) -> tuple[int, int]:
    """`spare` rows to the panes: each up to its cap first (spans, then metrics), then what is left up to
    what they would fill, the metrics first (a line a metric) and then the spans (0 for a pane with
    nothing to show)."""
    spans = min(wants[0], caps[0], spare)
    metrics = min(wants[1], caps[1], spare - spans)
    spare -= spans + metrics
    more = min(wants[1] - metrics, spare)
    return spans + min(wants[0] - spans, spare - more), metrics + more


def metrics_text(view: MetricsView, width: int, lines: int, overlay: str | None, ascii_only: bool) -> Text:
    names = list(view.series)
    shown = names[:max(0, lines - 1)]
    if shown and overlay in names and overlay not in shown:  # the overlaid metric is always among those shown
        shown[-1] = overlay
    title = Text("metrics", style="bold")
    title.append(f" · {overlay} over RLE" if overlay else " · m: overlay on RLE",
                 style=f"bold {METRIC_STYLE}" if overlay else "dim")
    if len(shown) < len(names):
        title.append(f" · +{len(names) - len(shown)} more", style="dim")
    out = [title]
    name_w = min(14, max((len(name) for name in shown), default=4))
    step_w = 8 if width >= STEP_FROM_W else 0
    spark_w = max(4, width - name_w - VALUE_W - step_w - 2)
    for name in shown:
        points = view.series[name]
        values = view.values(name, spark_w)
        known = [v for v in values if v is not None]
        low, high = (min(known), max(known)) if known else (0.0, 1.0)
        line = Text(f"{inert(name)[:name_w]:<{name_w}} ", style="bold" if name == overlay else "")
        line.append(sparkline(values, spark_w, low, high if high > low else low + 1.0, ascii_only),
                    style=f"bold {METRIC_STYLE}" if name == overlay else METRIC_STYLE)
        line.append(f" {fmt.metric(points[-1][1] if points else None):>{VALUE_W}}")
        step = points[-1][2] if points else None
        if step_w:
            line.append(f" @{step}"[:step_w] if step is not None else "", style="dim")
        line.truncate(width)
        out.append(line)
    return Text("\n").join(out)


class SpansPane(StripText):
    DEFAULT_CSS = "SpansPane { height: 0; padding: 0 1; display: none; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key: tuple[Any, ...] | None = None

    def show(self, view: SpansView, lines: int, ascii_only: bool) -> None:
        width = self.content_region.width
        key = (view.serial, width, lines, ascii_only)
        if key != self._key and width and lines:
            self._key = key
            self.show_text(spans_text(view, width, lines, ascii_only), width)


class MetricsPane(StripText):
    DEFAULT_CSS = "MetricsPane { height: 0; padding: 0 1; display: none; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key: tuple[Any, ...] | None = None

    def show(self, view: MetricsView, lines: int, overlay: str | None, ascii_only: bool) -> None:
        width = self.content_region.width
        key = (view.serial, width, lines, overlay, ascii_only)
        if key != self._key and width and lines:
            self._key = key
            self.show_text(metrics_text(view, width, lines, overlay, ascii_only), width)
