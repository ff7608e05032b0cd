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
from recordings.report.plots import PNG_EXTRA, png_available
from recordings.session import sessions_dir
from rigscope.terminal_progress import progress


def _print_tables(groups: list[dict], by: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)  # piped: wide enough not to wrap
    for title, headers, rows in text_tables(groups, by):
        view = Table(title=title, title_justify="left")
        for i, header in enumerate(headers):
            view.add_column(header, justify="left" if i == 0 or header in ("state", "device", "hosts", "CPU", "GPUs")
                            else "right")
        for row in rows:
            view.add_row(*row)
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
        except InputError as error:
            if not args.all:  # a session the user named must be readable
                raise
            print(f"rigscope: warning: left out {path.name}: {error}", file=sys.stderr)
    if not figures:
        raise InputError("no readable session to compare")
    by = args.by or ("hardware_tier" if args.all else "session")  # named sessions: each its own column
    groups = compare(figures, by)
    _print_tables(groups, by)
    width = min(shutil.get_terminal_size((100, 24)).columns, 140)
    for chart in text_charts(groups, width, colorless=not sys.stdout.isatty()):
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
