"""`ls`, `export` and `import`: the catalog of sessions, and sessions out of and into other formats."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from recordings.session import resolve_session, sessions_dir

LS_COLUMNS = ("id", "start", "duration", "host", "tier", "device", "samples", "Hz", "collapses", "max °C",
              "spans", "status", "notes")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _cells(row: dict[str, Any]) -> list[str]:
    def text(value: Any, fmt: str = "{}") -> str:
        return "—" if value is None else fmt.format(value)

    status = row["status"] + (f" ({row['error']})" if row["status"] == "corrupt" else "")
    return [row["id"], text(row["start"])[:19].replace("T", " "), _clock(row["duration_s"]), text(row["host"]),
            text(row["tier"]), text(row["device_type"]), text(row["samples"]), text(row["hz"], "{:.1f}"),
            text(row["collapses"]), text(row["max_temp_c"], "{:.0f}"), text(row["spans"]), status,
            text(row["notes"])]


def ls(args: argparse.Namespace) -> int:
    from recordings.catalog import catalog

    rows = catalog(sessions_dir(args.dir))
    if args.json:
        json.dump(rows, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if not rows:
        print(f"no sessions in {sessions_dir(args.dir)}", file=sys.stderr)
        return 0
    table = [list(LS_COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(LS_COLUMNS) - 1)]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1])
    return 0


def export(args: argparse.Namespace) -> int:
    from recordings.export import export_session

    session = resolve_session(args.session, sessions_dir(args.dir))
    path, rows = export_session(session, args.to, Path(args.out) if args.out else None)
    print(f"{session.name}: {rows} rows written to {path} ({args.to})")
    return 0


class Progress:
    """A one-line bar on stderr when it is a terminal; nothing when piped."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream, self.shown = total, stream, stream.isatty()

    def step(self, done: int, label: str) -> None:
        if self.shown:
            filled = round(30 * done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} {label[:40]:<40}")
            self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def import_files(args: argparse.Namespace) -> int:
    from recordings.importers import import_file

    root = sessions_dir(args.dir)
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    progress = Progress(len(args.files))
    try:
        for done, name in enumerate(args.files):
            progress.step(done, Path(name).name)
            session, item = import_file(Path(name), root, fields)
            progress.step(done + 1, Path(name).name)
            count = f"{item.samples.height} samples" if item.samples is not None else f"{len(item.spans)} spans"
            progress.close()
            print(f"{name}: {item.layout}, {count} -> {session}")
            for note in (*item.dropped, *item.warnings):
                print(f"  {note}")
    finally:
        progress.close()
    return 0


COMMANDS = {"ls": ls, "export": export, "import": import_files}


def add_parsers(commands: Any, examples: dict[str, str], add_dir: Any) -> None:
    """The three subcommands on the main parser."""
    listing = commands.add_parser("ls", help="list the sessions, newest first", epilog=examples["ls"])
    listing.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_dir(listing)
    out = commands.add_parser("export", help="a session's samples as csv, parquet, json lines or the RLE lab's long CSV",
                              epilog=examples["export"])
    out.add_argument("session", help="session id, prefix, path or latest")
    out.add_argument("--to", required=True, choices=["csv", "parquet", "json", "long-csv"])
    out.add_argument("--out", help="output file (default: SESSION_ID.csv|.parquet|.jsonl|.long.csv here)")
    add_dir(out)
    into = commands.add_parser("import", help="RLE lab CSVs, TTS request CSVs and nvidia-smi logs as sessions",
                               epilog=examples["import"])
    into.add_argument("files", nargs="+", metavar="FILE")
    into.add_argument("--fields", help="the --query-gpu fields of an nvidia-smi CSV without a header")
    add_dir(into)


def run(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
