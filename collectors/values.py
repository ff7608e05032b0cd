"""Readings as numbers: the one check for "a real, finite number, or None" (never a made-up 0).

A bool is no reading, NaN and the infinities are none either, and a value of any other type
(text, a list, null) is None.  Used wherever a frame's or an event's value is read as a number.
"""

from __future__ import annotations

from typing import Any


def finite(value: Any) -> float | None:
    """`value` as a float when it is a real, finite number (an int or a float, not a bool); else None."""
    if value.__class__ is float:  # the common case first: a reading
        return value if value - value == 0.0 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float's range
        return None
    return number if number - number == 0.0 else None
