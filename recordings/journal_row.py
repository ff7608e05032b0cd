"""One journal line per frame: the JSON object of a session's columns, as `json` writes it, for less.

The recorder writes 10 to 100 such lines a second, each of some 200 columns.  Encoding a dict built
for every row (`JSONEncoder(separators=(",", ":")).encode(dict(zip(names, values)))`) builds that
dict and encodes the same keys again every time.  Here the keys are encoded once, into a
%-template; a row's values are encoded together by the same C encoder as one list, whose item
encodings are those it writes for a dict's values, and split at its commas.  A list column (whose
encoding has commas of its own) is encoded on its own; a row where any other value's encoding holds
a comma (a text with one) is encoded the plain way.  The line is byte for byte the plain way's.
"""

from __future__ import annotations

import json
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
    """The journal line of `frame` the plain way: the JSON object of its values of `names` (null when absent)."""
    return _encode(dict(zip(names, map(frame.get, names)))) + "\n"
