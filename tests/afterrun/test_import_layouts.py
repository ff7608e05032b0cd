"""The layouts `rigscope import` accepts are one list, documented with an example of each that reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.importers import read_file
from recordings.importers.layouts import LAYOUTS, detect
from tests.afterrun.conftest import samples_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "session-format.md"
FIELDS = ["timestamp", "index", "utilization.gpu [%]", "temperature.gpu", "power.draw [W]"]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_each_documented_example_is_its_layout_and_reads(tmp_path, layout):
    docs = DOCS.read_text()
    assert f"**{layout.name}**" in docs
    assert all(f"   {line}\n" in docs for line in layout.example.splitlines())
    assert detect(layout.example.splitlines()[0]) is layout
    source = tmp_path / "example.csv"
    source.write_text(layout.example)
    item = read_file(source, FIELDS if "--fields" in layout.name else None)
    assert (samples_of(item).height if item.has_samples else len(item.spans)) == 1
