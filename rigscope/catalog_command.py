"""`ls`, `export` and `import`: the catalog of sessions, and sessions out of and into other formats."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import Any

from recordings.inert import inert
from recordings.session import dir_template, resolve_session, sessions_dir
from rigscope.terminal_progress import progress_bar

LS_COLUMNS = ("id", "start", "duration", "host", "tier", "device", "samples", "Hz", "collapses", "max °C",
              "spans", "status", "notes")
HOST_WIDTH = 20
NOTE_ROOM = 30  # the notes keep this much of a narrow terminal before the other columns give way
# What a narrow terminal loses first (the id carries the start time; the rest is in --json).
NARROW_DROPS = ("start", "device", "spans", "Hz", "tier", "max °C", "host", "duration")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _rate(hz: float | None) -> str:
    """Samples a second: one decimal, and two significant digits below 1 Hz (a log of one line a minute
    is 0.017, not 0.0)."""
    return "—" if hz is None else f"{hz:.1f}" if hz >= 1 else f"{hz:.2g}"


def _cells(row: dict[str, Any]) -> list[str]:
    def text(value: Any, fmt: str = "{}") -> str:
        return "—" if value is None else fmt.format(value)

    note = f"({row['error']})" if row["status"] == "corrupt" else text(row["notes"])
    if row.get("demo"):  # simulated readings: said first, before any note
        note = "demo" if note == "—" else f"demo · {note}"
    host = text(row["host"])
    cells = [row["id"], text(row["start"])[:19].replace("T", " "), _clock(row["duration_s"]),
             host if len(host) <= HOST_WIDTH else host[:HOST_WIDTH - 1] + "…",
             text(row["tier"]), text(row["device_type"]), text(row["samples"]), _rate(row["hz"]),
             text(row["collapses"]), text(row["max_temp_c"], "{:.0f}"), text(row["spans"]), row["status"], note]
    return [inert(cell) for cell in cells]  # notes and labels may come from anyone (an imported file)


def compact_abandoned(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The catalog with its interrupted sessions compacted (SESSION_FORMAT: the next `ls` that finds one does it),
    each said on stderr; see `compact_if_abandoned` for which."""
    from recordings.catalog import catalog_row
    from recordings.repair import compact_if_abandoned

    for index, row in enumerate(rows):
        if row["status"] in ("interrupted", "repaired"):  # a repaired one may hold what a killed repair left
            name = inert(row["id"])
            said = compact_if_abandoned(Path(row["path"]), partial(
                print, f"rigscope: {name}: its recorder is gone; compacting it", file=sys.stderr, flush=True))
            if said:
                print(f"rigscope: {name}: {said}", file=sys.stderr)
                rows[index] = catalog_row(Path(row["path"]))
    return rows


def ls(args: argparse.Namespace) -> int:
    from recordings.catalog import catalog
    from recordings.importers.staging import leftovers

    root = sessions_dir(args.dir)
    rows = compact_abandoned(catalog(root))  # first: it says what an unreadable folder on the way is
    if root.exists() and not root.is_dir():
        print(f"rigscope: error: {root} is a file, not a sessions directory", file=sys.stderr)
        return 2
    for stage in leftovers(root):
        print(f"{stage}: an import that was killed before it finished (the next import removes it)", file=sys.stderr)
    if args.json:
        json.dump(rows, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if not rows:  # a missing directory is no error: there is none before the first recording
        print(f"no sessions in {root}" + ("" if root.is_dir() else " (it does not exist)"), file=sys.stderr)
        return 0
    table = [list(LS_COLUMNS), *(_cells(r) for r in rows)]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for line in _fit(table, width):
        print(line)
    return 0


def _fit(table: list[list[str]], width: int | None) -> list[str]:
    """Aligned lines, the notes (or a corrupt session's reason) last; on a terminal narrower than the
    table the least needed columns go first, and the notes are cut to the width."""
    keep = list(range(len(LS_COLUMNS) - 1))
    widths = [max(len(line[i]) for line in table) for i in keep]

    def total() -> int:
        return sum(widths[i] for i in keep) + 2 * len(keep)

    note_room = min(NOTE_ROOM, max(len(line[-1]) for line in table))
    for name in NARROW_DROPS:
        if width is None or total() + note_room <= width:
            break
        keep.remove(LS_COLUMNS.index(name))
    room = None if width is None else max(width - total(), 0)
    lines = []
    for line in table:
        note = line[-1] if room is None or len(line[-1]) <= room else line[-1][:max(room - 1, 0)] + "…"
        lines.append(("  ".join(line[i].ljust(widths[i]) for i in keep) + "  " + note).rstrip())
    return lines


def export(args: argparse.Namespace) -> int:
    from recordings.export import default_name, export_session
    from recordings.longcsv import sidecar
    from recordings.out_paths import overwrite_risk
    from recordings.timeline.write import KINDS, export_timeline, timeline_name

    timeline = args.to in KINDS
    if not timeline and (args.start or args.until or args.downsample):
        print("rigscope export: error: --from, --until and --downsample go with --to perfetto or chrome-trace",
              file=sys.stderr)
        return 2
    session = resolve_session(args.session, sessions_dir(args.dir))
    out = Path(args.out) if args.out else (timeline_name if timeline else default_name)(session, args.to)
    risk = overwrite_risk([session], [out, sidecar(out)] if args.to == "long-csv" else [out])
    if risk is not None:
        print(f"rigscope export: error: {risk}", file=sys.stderr)
        return 2
    if timeline:
        path, events = export_timeline(session, args.to, out, args.start, args.until, args.downsample)
        print(f"{session.name}: {events} events written to {path} ({args.to})")
        return 0
    path, rows = export_session(session, args.to, out)
    print(f"{session.name}: {rows} rows written to {path} ({args.to})")
    return 0


def import_files(args: argparse.Namespace) -> int:
    """Every file is tried and gets one line; exit 1 if any was refused."""
    from recordings.errors import InputError
    from recordings.importers import import_file
    from recordings.importers.staging import remove_leftovers
    from recordings.importers.times import TimeOptions, local_zone, zone

    into = dir_template(args.dir)
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    times = TimeOptions(tz=zone(args.tz) if args.tz else None, date_order=args.date_order)
    counts = dict.fromkeys(("imported", "skipped", "refused"), 0)
    cleaned: set[Path] = set()

    def clean(root: Path) -> None:
        """Remove the leftovers of killed imports in `root`, once (a templated --dir has one root per session)."""
        if root not in cleaned:
            cleaned.add(root)
            for stage in remove_leftovers(root):
                print(f"removed {stage}: an import that was killed before it finished")

    if "{host}" not in into and "{date}" not in into:
        clean(Path(into))
    zone_said = args.tz is not None
    with progress_bar("import", len(args.files)) as update:
        for done, name in enumerate(args.files):
            update(done, Path(name).name)
            def progress(part: float, done: int = done) -> None:
                update(done + part)

            try:
                session, item = import_file(Path(name), into, fields, progress, times, args.host)
            except InputError as error:
                counts["refused"] += 1
                print(f"rigscope: error: {error}", file=sys.stderr)
                continue
            clean(session.parent)
            if item is None:
                counts["skipped"] += 1
                print(f"{name}: imported before, as {session} (skipped)")
                continue
            counts["imported"] += 1
            count = f"{item.count} samples" if item.has_samples else f"{len(item.spans)} spans"
            print(f"{name}: {item.layout}, {count} -> {session}")
            if item.reading.get("naive_times_zone") and not zone_said:
                zone_said = True
                print(f"  times without a zone read as local time of {local_zone()} (this machine's; --tz ZONE to change)")
            for note in (*item.notes, *item.accounting(), *item.dropped, *item.warnings):
                print(f"  {note}")
    if len(args.files) > 1:
        print(f"{len(args.files)} files: {counts['imported']} imported, {counts['skipped']} skipped (imported before), "
              f"{counts['refused']} refused")
    return 1 if counts["refused"] else 0
