"""One journal line per frame: the JSON object of a session's columns, as `json` writes it, for less.

The recorder writes 10 to 100 such lines a second, each of some 200 columns.  Encoding a dict built
for every row (`JSONEncoder(separators=(",", ":")).encode(dict(zip(names, values)))`) builds that
dict and encodes the same keys again every time.  Here the keys are encoded once, into a
%-template; a row's values are encoded together by the same C encoder as one list, whose item
encodings are those it writes for a dict's values, and split at its commas.  A list column (whose
encoding has commas of its own) is encoded on its own; a row where any other value's encoding holds
a comma (a text with one) is encoded the plain way.  The line is byte for byte the plain way's.

NaN and ±inf are written as null (no reading), in a list too: json would write bare `NaN` and
`Infinity`, which are no JSON and stop every reader of the journal.  json writes these words
only for such floats or inside a text, so only a line holding one is encoded again, its
non-finite floats as None.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii
from typing import Any

from collectors.schema import ColumnTypes

_encode = json.JSONEncoder(separators=(",", ":")).encode


class RowEncoder:
    """The journal line (with its newline) of a frame, for the columns given, in their order."""

    def __init__(self, columns: ColumnTypes) -> None:
        self._names = tuple(columns)
        self._lists = tuple(i for i, kind in enumerate(columns.values()) if kind.startswith("list"))
        keys = (encode_basestring_ascii(name).replace("%", "%%") for name in self._names)
        self._template = "{" + ",".join(f"{key}:%s" for key in keys) + "}\n"

    def line(self, frame: dict[str, Any]) -> str:
        line = self._line(frame)
        return self._line(_finite(frame)) if _may_be_non_finite(line) else line

    def _line(self, frame: dict[str, Any]) -> str:
        values = list(map(frame.get, self._names))
        apart = [(i, _encode(values[i])) for i in self._lists]
        for i, _ in apart:
            values[i] = None
        pieces = _encode(values)[1:-1].split(",")
        if len(pieces) != len(values):
            return plain_line(self._names, frame)
        for i, text in apart:
            pieces[i] = text
        return self._template % tuple(pieces)


def plain_line(names: tuple[str, ...], frame: dict[str, Any]) -> str:
    """The journal line of `frame` the plain way: the JSON object of its values of `names` (null when absent
    or not finite)."""
    return object_line(dict(zip(names, map(frame.get, names))))


def object_line(row: dict[str, Any]) -> str:
    """`row` as one JSON line (with its newline), NaN and ±inf as null."""
    line = _encode(row) + "\n"
    return _encode(_finite(row)) + "\n" if _may_be_non_finite(line) else line


def _may_be_non_finite(line: str) -> bool:
    # A capital's search first: one character is searched some 50 times faster than a word (0.06 against 3-5 µs
    # on a line of 10 kB), and a line seldom holds a capital N or I at all.
    return ("N" in line and "NaN" in line) or ("I" in line and "Infinity" in line)


def _finite(frame: dict[str, Any]) -> dict[str, Any]:
    return {name: _finite_value(value) for name, value in frame.items()}


def _finite_value(value: Any) -> Any:
    """`value` with NaN and ±inf as None, in lists, tuples and dicts too (json encodes them as it does lists)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_finite_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite_value(item) for key, item in value.items()}
    return value
