"""A progress bar on stderr for long work, shown only when stderr is a terminal (nothing when piped)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
Update = Callable[..., None]  # update(completed, description=None)


@contextmanager
def progress_bar(label: str, total: float | None) -> Iterator[Update]:
    """Yield `update(completed, description=None)`, drawing a transient rich bar on a terminal's stderr."""
    if not sys.stderr.isatty():
        yield lambda completed, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def update(completed: float, description: str | None = None) -> None:
            if description:
                bar.update(task, completed=completed, description=description)
            else:
                bar.update(task, completed=completed)

        yield update


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Yield `items`, advancing a progress bar after each."""
    count = total if total is not None else len(items) if isinstance(items, Sized) else None
    with progress_bar(label, count) as update:
        for done, item in enumerate(items, 1):
            yield item
            update(done)
