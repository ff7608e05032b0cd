"""What a box without GPUs shows below its CPU panel: a bar per core, the load average, the busiest processes.

Without it the dashboard of a CPU-only machine is one panel and empty rows. It draws
from the frame (`cpu_core_util_pct`), the source's load average and its process rows
(host processes are listed with `--proc-top N`); it reads nothing itself.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from recordings.inert import inert
from tui import format as fmt
from tui.strips import StripText

CELL_W = 18  # ` 7 ██████▌    82%` and a space
BAR_W = 10
PROC_TOP_HINT = "busiest processes: --proc-top N lists them here"
EIGHTHS = " ▏▎▍▌▋▊▉█"


def core_bar(percent: float | None, width: int, ascii_only: bool) -> str:
    if percent is None:
        return "—".ljust(width)
    filled = max(0.0, min(1.0, percent / 100.0)) * width
    if ascii_only:
        return ("#" * round(filled)).ljust(width, ".")
    whole = int(filled)
    part = EIGHTHS[int((filled - whole) * 8)] if whole < width else ""
    return ("█" * whole + part).ljust(width)


def core_lines(cores: list[Any], width: int, ascii_only: bool) -> list[Text]:
    """The cores in as many columns as fit, numbered down the columns."""
    columns = max(1, width // (CELL_W + 1))
    rows = -(-len(cores) // columns)
    lines = []
    for row in range(rows):
        line = Text()
        for index in range(row, len(cores), rows):
            value = cores[index] if isinstance(cores[index], (int, float)) else None
            style = "bold red" if value is not None and value >= 90 else "green"
            line.append(f"{index:>3} ")
            line.append(core_bar(value, BAR_W, ascii_only), style=style)
            line.append(f"{fmt.num(value, '%', 0):>5} ")
        lines.append(line)
    return lines


def host_lines(frame: dict[str, Any], load: tuple[float, float, float] | None, processes: Any, width: int,
               height: int, ascii_only: bool) -> list[Text]:
    """Cores, load average and as many of the busiest processes as `height` lines leave room for."""
    cores = frame.get("cpu_core_util_pct")
    cores = list(cores) if isinstance(cores, (list, tuple)) else []
    lines = [Text(f"cores ({len(cores)})", style="bold")]
    lines += core_lines(cores, width, ascii_only) if cores else [Text("no per-core reading yet", style="dim")]
    if load is not None:
        lines.append(Text.assemble(("load average ", "bold"), " ".join(f"{v:.2f}" for v in load),
                                   ("  (1, 5, 15 min", "dim"),
                                   (f"; {len(cores)} cores)" if cores else ")", "dim")))
    rows = [r for r in (getattr(processes, "rows", None) or ()) if isinstance(r.get("cpu_pct"), (int, float))]
    if not rows:
        lines.append(Text(PROC_TOP_HINT, style="dim"))
        return lines
    lines.append(Text("busiest processes      PID USER        CPU%     RSS COMMAND", style="bold"))
    for row in sorted(rows, key=lambda r: (-r["cpu_pct"], r.get("pid") or 0))[:max(1, height - len(lines))]:
        lines.append(Text(f"{'':<18}{row.get('pid')!s:>7} {inert(row.get('user') or '—')[:10]:<10} "
                          f"{row['cpu_pct']:>6.1f} {fmt.size(row.get('rss_bytes')):>7} {inert(row.get('command') or '—')}"))
    return lines


class HostPanel(StripText):
    """Per-core bars, load average and the busiest processes, for a box without GPUs."""

    DEFAULT_CSS = "HostPanel { padding: 0 1; }"

    def show(self, frame: dict[str, Any], load: tuple[float, float, float] | None, processes: Any,
             ascii_only: bool) -> None:
        width = max(20, self.content_region.width or 78)
        lines = host_lines(frame, load, processes, width, self.content_region.height or 10, ascii_only)
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        self.show_lines(lines, width)
