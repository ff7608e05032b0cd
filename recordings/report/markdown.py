"""Small markdown helpers shared by the report and compare: tables, numbers, durations, sizes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from recordings.inert import inert

NONE = "—"


def num(value: Any, digits: int = 1, unit: str = "") -> str:
    """A number with `digits` decimals and a unit; `—` for null, the text itself for a non-number."""
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    if value != value:  # NaN
        return NONE
    return f"{value:,.{digits}f}{unit}"


def pct(fraction: Any, digits: int = 1) -> str:
    """A fraction (0..1) as a percentage."""
    if isinstance(fraction, (int, float)) and not isinstance(fraction, bool):
        return num(100 * fraction, digits, " %")
    return num(fraction)


def energy(joules: Any) -> str:
    """Energy in the unit that reads best: `850.0 J`, `12.34 Wh`, `1.234 kWh` (1 Wh = 3600 J)."""
    if not isinstance(joules, (int, float)) or isinstance(joules, bool) or joules != joules:
        return NONE
    if abs(joules) < 3600:
        return num(joules, 1, " J")
    if abs(joules) < 3.6e6:
        return num(joules / 3600, 2, " Wh")
    return num(joules / 3.6e6, 3, " kWh")


def duration(seconds: Any) -> str:
    """`1 h 02 min 03 s`, `4 min 05 s`, `7.5 s`."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds != seconds:
        return NONE
    if round(abs(seconds), 1) < 60:  # 59.97 s is `1 min 00 s`, as 60 s is, not `60.0 s`
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def offset(seconds: Any) -> str:
    """`+HH:MM:SS` from the session start."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return NONE
    whole = int(seconds)
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


_MARKUP = re.compile(r"[\\`|<]|\](?=\()")  # a backslash, code, a cell's end, HTML, and the `](` of a link


def escape(text: str) -> str:
    """Text safe inside a table cell and read as written: markdown's markup characters backslash-escaped
    (the backslash first, so a sent `\\|` cannot end the cell), line breaks as spaces, other control
    characters inert."""
    return inert(_MARKUP.sub(r"\\\g<0>", text.replace("\r", " ").replace("\n", " ")))


def code(text: str) -> str:
    """Text as inline code in a table cell: fenced by more backticks than it holds, pipes escaped (GFM
    reads them first even in code), a backslash before a pipe spaced off it, control characters inert."""
    text = inert(text.replace("\r", " ").replace("\n", " ")).replace("\\|", "\\ |").replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[int] = ()) -> str:
    """A GitHub markdown table; columns in `right` are right-aligned (numbers)."""
    aligned = set(right)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i in aligned else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell if isinstance(cell, str) else num(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def section(title: str, *parts: str | None) -> str:
    """`## title` and the non-empty parts, separated by blank lines."""
    return "\n\n".join([f"## {title}", *(part for part in parts if part)])


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of named values (nulls shown as —)."""
    return table(("", "value"), ((name, value if isinstance(value, str) else num(value, 2)) for name, value in pairs))
