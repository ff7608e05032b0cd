"""The markdown report of one session, built from a list of sections.

A section is a function that takes the loaded `SessionData` and returns markdown
(starting with a `## ` heading) or None to be left out.  Adding a section is one
line in `SECTIONS`.  `write_session_report` writes the report into the session
as `report.md` (at close, and by `rigscope repair`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from recordings.inert import inert_document
from recordings.report import sections_processes
from recordings.report import sections_session as about
from recordings.report import sections_signals as signals
from recordings.report.data import SessionData, load_session
from recordings.report.markdown import escape
from recordings.report.sections_session import REPORT_FILE
from recordings.session import replacing

Section = Callable[[SessionData], str | None]

SECTIONS: list[Section] = [
    about.configuration,
    about.hardware,
    about.checks,
    signals.devices,
    signals.workload,
    signals.throttle,
    signals.collapses,
    sections_processes.processes,
    about.timeline,
    signals.spans,
    signals.alerts,
    about.files,
]


def render(data: SessionData, each: Callable[[list[Section]], Iterable[Section]] = iter) -> str:
    """The report's markdown: a title, then every section that has something to say; no control
    character of a sender's text (a note, a span name) reaches the file or the terminal.

    `each` wraps the list of sections, e.g. in a progress bar."""
    title = f"# rigscope report: {escape(str(data.meta.get('session_id') or data.path.name))}"
    parts = [title] + [text for build in each(SECTIONS) if (text := build(data))]
    return inert_document("\n\n".join(parts) + "\n")


def build_report(session: Path, warn: bool = True) -> str:
    return render(load_session(session, warn=warn))


def write_session_report(session_dir: Path) -> Path:
    """Write `report.md` into the session (a temp name renamed over the old one) and return its path."""
    text = build_report(session_dir, warn=False)
    target = session_dir / REPORT_FILE
    with replacing(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target
