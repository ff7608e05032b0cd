"""`rigscope export SESSION --to perfetto|chrome-trace`: the session's timeline into one file.

The file is written to a temporary name and renamed, so a failed export leaves nothing behind; a pipe or a
device (`--out /dev/stdout`) is written into."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import polars as pl

from collectors.timeutil import iso_from_us
from recordings.errors import InputError, first_line, write_failure
from recordings.out_paths import whole_output
from recordings.timeline.chrome import ChromeWriter
from recordings.timeline.model import Instant, Slice, Timeline
from recordings.timeline.perfetto import PerfettoWriter, check_available
from recordings.timeline.spans import span_slices
from recordings.timeline.tracks import layout_of
from recordings.timeline.window import window_of

KINDS = {"perfetto": ".pftrace", "chrome-trace": ".trace.json"}


class Writer(Protocol):
    events: int

    def header(self) -> None: ...

    def counter(self, track: int, ts_us: int, value: float) -> None: ...

    def slice(self, item: Slice) -> None: ...

    def instant(self, item: Instant) -> None: ...

    def close(self) -> None: ...


def _counters(timeline: Timeline, writer: Writer, tracks: list[tuple[str, int]]) -> None:
    """Every measured value of every counter, tick by tick (a null is no point)."""
    for table in timeline.counter_slices():
        ts = table["ts_us"].to_list()
        columns = [(track, table[column].to_list()) for column, track in tracks]
        for i, ts_us in enumerate(ts):
            for track, values in columns:
                value = values[i]
                if value is not None and math.isfinite(value):
                    writer.counter(track, ts_us, float(value))


def timeline_name(session: Path, kind: str) -> Path:
    """Where a timeline goes without --out: `<id><ext>` here."""
    return Path(f"{session.name}{KINDS[kind]}")


def _missed(timeline: Timeline) -> str:
    """Why a window that holds nothing of the session is refused: the times the session has."""
    extent = timeline.extent()
    has = "it has no samples" if extent is None else \
        f"its samples run from {iso_from_us(extent[0])[:19]}Z to {iso_from_us(extent[1])[:19]}Z"
    return f"{timeline.session.name} has nothing between --from and --until ({has})"


def export_timeline(session: Path, kind: str, out: Path | None = None, start: str | None = None,
                    until: str | None = None, downsample_hz: float | None = None) -> tuple[Path, int]:
    """Write the session's timeline as `kind` to `out` (default `<id><ext>` here); the path and event count."""
    if kind == "perfetto":
        check_available()
    target = out or timeline_name(session, kind)
    try:
        timeline = Timeline(session)
        first = next(timeline.samples([]), None)
        timeline.window = window_of(start, until, downsample_hz, None if first is None else int(first["ts_us"][0]))
        spans = span_slices(session, timeline.window.start_us, timeline.window.end_us, timeline.clock.wall)
        instants = list(timeline.instants())
        metric_names = sorted({m.name for m in timeline.metric_points()})
        layout = layout_of(timeline, spans, instants, metric_names)
        if (start or until) and not (spans or instants or metric_names or next(timeline.samples([]), None) is not None):
            raise InputError(_missed(timeline))
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot read {session}: {first_line(error)}") from None
    try:
        with whole_output(target) as handle:
            writer: Writer = (PerfettoWriter if kind == "perfetto" else ChromeWriter)(handle, timeline, layout)
            writer.header()
            _counters(timeline, writer, list(layout.counters.items()))
            for item in timeline.runs():
                writer.slice(item)
            for item in spans:
                writer.slice(item)
            for instant in instants:
                writer.instant(instant)
            for point in timeline.metric_points():
                writer.counter(layout.metrics[point.name], point.ts_us, point.value)
            writer.close()
    except (OSError, pl.exceptions.PolarsError) as error:
        # our own writes fail with their errno (ENOSPC is a full disk); only a library's wrapped error needs the
        # disk's free space to tell (/proc has none to report, and takes no file for another reason)
        where = None if isinstance(error, OSError) and error.errno else target.parent
        raise InputError(f"cannot export {session.name} to {target}: {write_failure(error, where)}") from None
    return target, writer.events
