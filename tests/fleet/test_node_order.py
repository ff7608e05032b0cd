"""Nodes in the order a person counts them: gpu2 before gpu10, 10.0.0.9 before 10.0.0.10."""

from __future__ import annotations

from collectors.fleet.model import NodeReading, build
from tests.waiting import run
from tui import fleet_columns as columns
from tui.fleet import FleetApp, FleetTable

NAMES = ["gpu10", "gpu2", "gpu1", "10.0.0.10", "10.0.0.9", "gpu-b2", "gpu-a10"]
COUNTED = ["10.0.0.9", "10.0.0.10", "gpu1", "gpu2", "gpu10", "gpu-a10", "gpu-b2"]


def _model():
    return build([NodeReading(n, up=True, exporters=("dcgm",)) for n in NAMES], [], 4, 0.0, 0.0, 600.0)


def test_rows_and_the_node_column_count_numbers_as_numbers():
    model = _model()
    assert [r["node"] for r in model.rows] == COUNTED  # gpu10 before gpu2 before, in --once and --json too
    key = columns.COLUMNS[columns.DEFAULT_SORT][3]
    assert sorted(model.rows, key=key) == model.rows


class _Once:
    def refresh(self):
        return _model()


def test_the_screen_counts_them_so_both_ways():
    async def body() -> None:
        app = FleetApp(_Once(), refresh_s=30)
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.pause()
            table = app.fleet.query_one(FleetTable)
            assert [r["node"] for r in table.rows] == COUNTED
            await pilot.press("i")
            assert [r["node"] for r in table.rows] == COUNTED[::-1]

    run(body)
