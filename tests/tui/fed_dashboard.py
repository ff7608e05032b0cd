"""A dashboard fed by the test itself: the frames it is handed and nothing else, drawn steady, for the tests of
what a redraw repaints and how."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rigscope.app_factory import build_app
from tui.bars import SessionLabel
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed

GPUS = 4
HZ = 1.0


class FedSource:
    """A dashboard source whose frames the test hands to the feed itself: nothing moves unless told."""

    def __init__(self) -> None:
        self.label = SessionLabel("box", "test", None, "DEMO")
        self.devices = [Device("cpu", "CPU test")] + [Device(f"gpu{i}", f"GPU{i} test") for i in range(GPUS)]
        self.feed = DashboardFeed(None, feed_columns(self.devices), HZ)

    def now_iso(self) -> str:
        return "2026-01-01T00:00:00Z"

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        pass

    def recording(self) -> None:
        return None

    def toggle_recording(self) -> str:
        return ""

    def processes(self) -> None:
        return None

    def notices(self) -> list[str]:
        return []

    def close(self) -> str:
        return ""


def frame(second: int, gpu_util: dict[int, float] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"elapsed_s": float(second), "cpu_util_pct": 20.0, "mem_util_pct": 30.0}
    for i in range(GPUS):
        row.update({f"gpu{i}_util_pct": (gpu_util or {}).get(i, 50.0), f"gpu{i}_temp_c": 60.0,
                    f"gpu{i}_power_w": 200.0, f"gpu{i}_mem_used_bytes": 1 << 30})
    return row


@asynccontextmanager
async def drawn_steady(size: tuple[int, int] = (160, 50)) -> AsyncIterator[tuple[FedSource, Any, Any]]:
    """(source, dashboard screen, pilot) of an app fed a window's worth of the same readings, ending on a whole
    second (the clock in the header and the per-second means stay put while the last second fills), drawn once;
    its timer stays out of the way: the test redraws."""
    source = FedSource()
    for second in range(200):
        source.feed.add(frame(second))
    app = build_app(source, fps=0.2, window_s=30.0)
    async with app.run_test(size=size) as pilot:
        app.dashboard.redraw(force=True)
        await pilot.pause()
        yield source, app.dashboard, pilot
