"""SVG snapshots of the dashboard on the simulated source: fixed seed, frozen clock, nothing from this machine.

Regenerate after a deliberate change of the look with `pytest tests/tui/test_snapshots.py --snapshot-update`
and review the SVGs; Textual is pinned exactly in pyproject.toml so its rendering does not move under us.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from collectors.processes import ProcessControl
from collectors.signals import SignalPipeline
from collectors.simulated import SimulatedCollector
from collectors.timeutil import iso_from_us
from rigscope.app_factory import build_app
from tui.bars import SessionLabel
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed

pytest.importorskip("pytest_textual_snapshot")

START_US = 1_800_000_000_000_000  # a fixed wall clock
HZ = 2.0


class FrozenSource:
    """A finished simulated run held still: what the screen shows depends on nothing but the seed."""

    def __init__(self, gpus: int, seconds: float,
                 workload: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None) -> None:
        """`workload(frame)`: events an instrumented workload sends at that frame (metrics, spans)."""
        collector = SimulatedCollector(gpu_count=gpus, seed=7)
        signals = SignalPipeline(list(range(gpus)))
        info = collector.info()
        self.devices = [Device("cpu", f"CPU {info['host']['cpu_model']}")] + [
            Device(f"gpu{g['index']}", f"GPU{g['index']} {g['name'].replace('NVIDIA ', '')}") for g in info["gpus"]]
        self.label = SessionLabel("sim-rig", "nvidia_h100", "20270115-080000-sim-rig", "DEMO")
        self.process_control = ProcessControl()  # as the live demo's: k is in the help
        self.feed = DashboardFeed(None, feed_columns(self.devices), HZ)
        for k in range(int(seconds * HZ)):
            t = k / HZ
            frame: dict[str, Any] = {"ts": START_US + int(t * 1e6), "elapsed_s": t, "sample_lag_ms": 0.0,
                                     "self_cpu_pct": 1.5, "self_rss_bytes": 80 * 2**20, **collector.read(t)}
            self.feed.add(frame, signals.process(frame) + (workload(frame) if workload else []))
        self._now = iso_from_us(START_US + int(seconds * 1e6))

    def now_iso(self) -> str:
        return self._now

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        self.feed.add(None, [{"ts": ts, "kind": kind, **fields}])

    def recording(self) -> dict[str, Any]:
        return {"session": self.label.session_id, "samples": 680, "bytes": 2_500_000, "flush_age_s": 0.4,
                "achieved_hz": HZ, "error": None}

    def toggle_recording(self) -> str:
        return "recording stopped"

    def notices(self) -> list[str]:
        return []

    def close(self) -> str:
        return "closed"


@pytest.mark.parametrize(("gpus", "size"), [(1, (120, 40)), (8, (160, 50)), (2, (80, 24))],
                         ids=["1gpu-120x40", "8gpus-160x50", "2gpus-80x24"])
def test_dashboard_looks_the_same(snap_compare, gpus, size):
    app = build_app(FrozenSource(gpus, seconds=340.0))  # inside the thermal collapse of the scenario

    async def settle(pilot: Any) -> None:
        await pilot.pause()
        app.dashboard.redraw(force=True)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)
