"""Text from outside made inert before it is printed: no control character reaches a terminal or a file.

Notes, tags, span names, attributes and errors come from any sender.  Wherever they are shown
(reports in markdown or on a terminal, `ls`, status lines, the TUI), control characters (C0, DEL,
C1: ESC starts every terminal escape sequence) and the bidirectional overrides that reorder what
a reader sees are written as visible escapes (`\\x1b`, `\\u202e`), so the text reads as sent and does
nothing; a lone surrogate (a byte that was no UTF-8, in a host name or a command line, as Python reads it),
which no UTF-8 file or terminal takes, is U+FFFD.  Stored files keep the text as it came.
"""

from __future__ import annotations

import re

from collectors.wire import encodable

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object) -> str:
    """`str(text)` with every control character written as an escape (line breaks too)."""
    return encodable(_UNSAFE.sub(_visible, str(text)))


def inert_document(text: str) -> str:
    """A whole document (a report) with its line breaks and tabs kept, any other control character escaped."""
    return encodable(_UNSAFE_KEEP_LINES.sub(_visible, text))
