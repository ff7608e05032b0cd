"""An nvidia-smi log imported in one piece and in pieces of 9 lines, for tests that the two give one session."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from recordings.importers import import_file, nvidia_smi
from recordings.importers.times import TimeOptions


def whole_and_pieces(source: Path, root: Path, columns: list[str],
                     monkeypatch: pytest.MonkeyPatch) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`columns` of the session `source` makes read whole, and read 9 lines at a time."""
    tables = []
    for chunk in (100_000, 9):
        monkeypatch.setattr(nvidia_smi, "CHUNK_LINES", chunk)
        session, _ = import_file(source, root / f"s{chunk}", times=TimeOptions(tz="UTC"))
        tables.append(pl.read_parquet(session / "samples.parquet").select(columns))
    return tables[0], tables[1]
