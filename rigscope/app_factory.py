"""The one place the dashboard app is put together: the command line, the tests and the benchmarks call it.

`build_app(source, ...)` is the app `rigscope`, `rigscope demo` and `rigscope replay` run: the
live dashboard (or, with `replay=True`, the replay screen) on any source (a `LiveSource`, a
`ReplaySource`, a test's frozen one), with `o` opening sessions from `sessions_dir`.  Tests and
benchmarks inject the source, its clock and the sessions directory; everything else is as users get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import RigscopeApp
    from tui.source import DashboardSource


def build_app(source: DashboardSource, *, replay: bool = False, fps: float = 2.0, ascii_only: bool = False,
              presets: dict[str, tuple[str, str]] | None = None, sessions_dir: Path | None = None,
              readonly: bool = False, window_s: float = 120.0) -> RigscopeApp:
    """The app on `source`; `presets` None keeps the default keys 1-9, `sessions_dir` None: `o` opens nothing;
    `window_s`: the seconds the sparklines span."""
    from recordings.repair import compact_if_abandoned
    from tui.app import RigscopeApp
    from tui.replay_app import ReplayApp
    from tui.replay_source import SessionDirectory

    sessions = SessionDirectory(sessions_dir, compact_if_abandoned) if sessions_dir is not None else None
    kind = ReplayApp if replay else RigscopeApp
    return kind(source, fps=fps, ascii_only=ascii_only, presets=presets, sessions=sessions, readonly=readonly,
                window_s=window_s)
