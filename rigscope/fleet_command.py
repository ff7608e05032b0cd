"""`rigscope fleet`: many nodes on one screen, from a Prometheus server or their `/metrics` pages.

`--once` reads the fleet one time and prints the table (`--json`: the model as JSON)
for scripts and cron (strict JSON: an unknown number is null, never NaN or Infinity);
without it the fleet screen opens.  Exit 1 when the source
gave nothing (Prometheus unreachable, refusing the credentials, answering 503); 2 for a
source that cannot work as given (a malformed URL or target, a --job that is no regex).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from collectors.fleet.http import Auth, url_problem, without_credentials
from recordings.errors import InputError
from recordings.inert import inert


class UsageError(Exception):
    """A flag's value that cannot work: its message is the one line to print (exit 2)."""


def _check_url(flag: str, url: str, given: str) -> None:
    problem = url_problem(url)
    if not problem and flag == "--prometheus" and ("?" in url or "#" in url):  # the API's paths go after it
        problem = "a query or fragment has no place in the server's base URL"
    if problem:
        raise UsageError(f"{flag}: '{inert(without_credentials(given))}' is not a URL to read ({problem})")


def make_source(args: argparse.Namespace) -> Any:
    if args.prometheus:
        from collectors.fleet.prom_client import PrometheusFleet

        _check_url("--prometheus", args.prometheus, args.prometheus)
        if args.job is not None:
            try:
                re.compile(args.job)
            except re.error as error:
                raise UsageError(f"--job: '{inert(args.job)}' is not a regular expression ({error})") from None
        return PrometheusFleet(args.prometheus, Auth.from_env(args.token, args.basic_auth), args.timeout,
                               args.window, args.job)
    from collectors.fleet.scrape import ScrapeFleet, parse_targets, target_url

    text = args.targets
    if args.targets_file:
        try:
            text = Path(args.targets_file).read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise InputError(f"cannot read --targets-file {args.targets_file}: {error.strerror or error}") from None
    targets = parse_targets(text or "")
    if not targets:
        raise InputError("no targets given (HOST:PORT, separated by commas)")
    for target in targets:
        _check_url("--targets-file" if args.targets_file else "--targets", target_url(target), target)
    return ScrapeFleet(targets, args.timeout, args.window, interval_s=args.refresh)


def print_once(model: Any, as_json: bool) -> None:
    if as_json:
        from rigscope.serve.reports import finite  # NaN and ±inf as null: strict JSON whatever a source left

        print(json.dumps(finite(model.as_json()), indent=1, allow_nan=False))
        return
    from recordings.inert import inert
    from tui import fleet_columns as columns

    print(columns.totals_line(model.totals))
    print(columns.header())
    for row in model.rows:
        print(columns.row_line(row))
    for error in model.errors:
        print(f"error: {inert(error)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.json and not args.once:
        print("rigscope fleet: error: --json goes with --once (the screen is not JSON)", file=sys.stderr)
        return 2
    try:
        source = make_source(args)
    except UsageError as error:
        print(f"rigscope fleet: error: {error}", file=sys.stderr)
        return 2
    try:
        if args.once:
            model = source.refresh()
            print_once(model, args.json)
            return 1 if model.errors and not model.rows else 0
        from rigscope.terminal import check_terminal
        from tui.fleet import FleetApp

        check_terminal()
        FleetApp(source, refresh_s=args.refresh).run()
        return 0
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
