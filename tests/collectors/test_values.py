"""The one check for a reading: a real, finite number, or None; and the column names from collectors.schema."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from collectors.schema import column, device_prefixes, gpu_column, gpu_prefix, session_columns
from collectors.values import finite


@pytest.mark.parametrize("value", [None, True, False, float("nan"), float("inf"), -float("inf"), "1.5", b"1",
                                   [1.0], {"v": 1}, Decimal("1.5"), Fraction(1, 2), 10**400, object()])
def test_what_is_no_reading_is_none(value):
    assert finite(value) is None


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (-3, -3.0), (1.5, 1.5), (-0.0, 0.0), (2**63, 2.0**63),
                                                 (1e308, 1e308)])
def test_a_real_finite_number_is_a_float(value, expected):
    result = finite(value)
    assert result == expected and type(result) is float


def test_column_names_come_from_one_place():
    assert gpu_prefix(3) == "gpu3" and gpu_column(3, "temp_c") == "gpu3_temp_c" == column("gpu3", "temp_c")
    assert device_prefixes([0, 2]) == ["cpu", "gpu0", "gpu2"]
    assert gpu_column(1, "power_w") in session_columns([0, 1])
