"""`rigscope compare S1 S2 ... | --all [--by hardware_tier|host|session|user] [--out DIR]`: rich tables and plotext
charts on the terminal; with --out also CSV, JSON, markdown and PNG figures."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from recordings.compare.charts import png_charts, text_charts
from recordings.compare.collect import session_figures
from recordings.compare.groups import compare
from recordings.compare.tables import text_tables, write_outputs
from recordings.errors import InputError
from recordings.inert import inert
from recordings.report.plots import PNG_EXTRA, png_available
from recordings.session import sessions_dir
from rigscope.terminal_progress import progress

KEY_COLUMNS = ("group", "device", "state")  # repeated in each part of a table split to fit the terminal
LEFT_COLUMNS = ("state", "device", "hosts", "CPU", "GPUs")


def column_parts(headers: list[str], rows: list[list[str]], width: int) -> list[list[int]]:
    """The table's columns in parts that each fit `width` whole (key columns in every part), so a narrow
    terminal gets two tables one above the other rather than cells cut or wrapped mid-word."""
    natural = [max([len(header), *(len(row[i]) for row in rows)]) + 3 for i, header in enumerate(headers)]
    keys = [i for i, header in enumerate(headers) if header in KEY_COLUMNS]
    parts: list[list[int]] = []
    current = list(keys)
    for i in range(len(headers)):
        if i in keys:
            continue
        if current != keys and sum(natural[c] for c in current) + natural[i] + 1 > width:
            parts.append(current)
            current = list(keys)
        current.append(i)
    parts.append(current)
    return parts


def _print_tables(groups: list[dict], by: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    terminal = sys.stdout.isatty()
    console = Console(width=None if terminal else 1000)  # piped: as wide as the tables, never wrapped or cut
    for title, headers, rows in text_tables(groups, by):
        parts = column_parts(headers, rows, console.width) if terminal else [list(range(len(headers)))]
        for number, columns in enumerate(parts):
            view = Table(title=title if number == 0 else f"{title} (continued)", title_justify="left")
            for i in columns:
                view.add_column(headers[i], no_wrap=headers[i] in KEY_COLUMNS,
                                justify="left" if i == 0 or headers[i] in LEFT_COLUMNS else "right")
            for row in rows:
                view.add_row(*(Text(inert(row[i])) for i in columns))  # no markup, no escape sequence
            console.print(view)


def run(args: argparse.Namespace) -> int:
    from recordings.compare.targets import resolve_targets

    if bool(args.sessions) == args.all:
        print("rigscope compare: error: give sessions (or group ids) to compare, or --all", file=sys.stderr)
        return 2
    paths, warnings = resolve_targets(args.sessions, sessions_dir(args.dir), args.all, args.demo)
    for warning in warnings:
        print(f"rigscope: warning: {warning}", file=sys.stderr)
    figures = []
    for path in progress(paths, f"reading {len(paths)} sessions"):
        try:
            figures.append(session_figures(path))
            if figures[-1]["unfinished"]:
                print(f"rigscope: warning: {path.name} is {figures[-1]['status']} ({figures[-1]['unfinished']})",
                      file=sys.stderr)
        except InputError as error:
            if not args.all:  # a session the user named must be readable
                raise
            print(f"rigscope: warning: left out {path.name}: {error}", file=sys.stderr)
    if not figures:
        raise InputError("no readable session to compare")
    by = args.by or ("hardware_tier" if args.all else "session")  # named sessions: each its own column
    groups = compare(figures, by)
    _print_tables(groups, by)
    if sys.stdout.isatty():  # charts are for a person at a terminal; piped output is the tables only
        width = min(shutil.get_terminal_size((100, 24)).columns, 140)
        for chart in text_charts(groups, width, colorless=False):
            print(chart)
    if args.out:
        directory = Path(args.out)
        try:
            written = write_outputs(groups, by, directory)
            if png_available():
                written += png_charts(groups, directory)
        except OSError as error:
            raise InputError(f"cannot write to {directory}: {error.strerror or error}") from None
        print(f"written to {directory}: {', '.join(p.name for p in written)}", file=sys.stderr)
        if not png_available():
            print(f"rigscope: {PNG_EXTRA}", file=sys.stderr)
    return 0
