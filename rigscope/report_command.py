"""`rigscope report SESSION [--out FILE] [--plots DIR] [--terminal-plots] [--check EXPR]`, or `report --group GROUP_ID`.

The markdown goes to stdout (or FILE), rendered (tables drawn) on a terminal, where the plots follow it as
text charts. `--check` evaluates pass/fail expressions over the session's summary (the table on stderr,
exit 1 if one fails).
`--group` hands over to the reproducibility report of a group of runs.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
from pathlib import Path

from recordings.checks import Check, CheckError, checks_table, parse_check, validate_checks
from recordings.errors import InputError
from recordings.out_paths import overwrite_risk, write_output
from recordings.report import render
from recordings.report.data import load_session
from recordings.report.plot_files import write_plots
from recordings.report.plots import PNG_EXTRA, plot_data, text_plots
from recordings.session import resolve_session, sessions_dir
from rigscope.terminal_progress import progress


def _usage(message: str) -> int:
    print(f"rigscope report: error: {message}", file=sys.stderr)
    return 2


def _require_samples(checks: list[Check], samples: int, name: str) -> None:
    """A check of a session without samples would pass on nothing: an error, unless it reads spans alone
    (an imported span log has spans and no samples)."""
    for check in checks:
        if not samples and any(not word.startswith("spans.") for word in check.names):
            raise InputError(f"--check '{check.expression}': {name} has no samples, so there is nothing to check")


def run(args: argparse.Namespace) -> int:
    if bool(args.session) == bool(args.group):
        return _usage("give a SESSION or --group GROUP_ID (one of them)")
    if args.group:
        from rigscope.group_report_command import run as run_group

        if args.check or args.plots or args.terminal_plots:  # never a check silently not made
            return _usage("--check, --plots and --terminal-plots go with a SESSION, not --group")

        return run_group(args)
    if args.latex or args.json:
        return _usage("--latex and --json go with --group GROUP_ID")
    try:
        checks = [parse_check(expression) for expression in args.check or []]
    except CheckError as error:  # the command line is wrong (exit 2), not a check that failed (exit 1)
        return _usage(str(error))
    session = resolve_session(args.session, sessions_dir(args.dir))
    refused = overwrite_risk([session], [Path(args.out)]) if args.out else None
    if refused:
        return _usage(refused)
    data = load_session(session)
    _require_samples(checks, data.total_samples, session.name)
    validate_checks(checks, data.summary)  # an unknown name, or one the source never measured: an error
    results = [check.evaluate(data.summary) for check in checks]
    text = render(data, functools.partial(progress, label=f"report {session.name}"))
    if args.out:
        write_output(Path(args.out), text)
        print(f"report written to {args.out}", file=sys.stderr)
    elif sys.stdout.isatty():  # a person reads it: tables drawn, headings set, as rich renders markdown
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    if args.plots:
        try:
            paths, with_png = write_plots(data, Path(args.plots))
        except OSError as error:
            raise InputError(f"cannot write plots to {args.plots}: {error.strerror or error}") from None
        print(f"plots written to {args.plots}: {', '.join(p.name for p in paths)}", file=sys.stderr)
        if not with_png:
            print(f"rigscope: {PNG_EXTRA}", file=sys.stderr)
    terminal = sys.stdout.isatty()
    if terminal or args.terminal_plots:
        width = min(shutil.get_terminal_size((100, 24)).columns, 160)
        for chart in text_plots(plot_data(data), width=width, colorless=not terminal).values():
            print(chart)
    if results:
        print(checks_table(results), file=sys.stderr)
    return 1 if any(not result["passed"] for result in results) else 0
