"""A session's plot files: the text charts and, with matplotlib, the PNG figures, written into a folder."""

from __future__ import annotations

from pathlib import Path

from recordings.report.data import SessionData
from recordings.report.figures import session_figures
from recordings.report.plots import plot_data, png_available, text_plots


def write_plots(data: SessionData, directory: Path) -> tuple[list[Path], bool]:
    """Text charts (`*.txt`) and, with matplotlib, PNG figures into `directory`; the paths and whether PNGs were made."""
    directory.mkdir(parents=True, exist_ok=True)
    plots = plot_data(data)
    written = []
    for stem, text in text_plots(plots).items():
        path = directory / f"{stem}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    if not png_available():
        return written, False
    return written + session_figures(plots, directory), True
