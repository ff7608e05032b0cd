"""Pass/fail checks over a session summary: `gpu0.max_temp_c < 85 and collapses == 0`.

A hand-written tokenizer and recursive-descent parser (never Python's eval):

    expr  := and ('or' and)*
    and   := not ('and' not)*
    not   := 'not' not | '(' expr ')' | value OP value
    value := NAME | NUMBER        OP := < <= > >= == !=

Names come from the summary (SIGNALS.md §6 plus `spans`): `samples`, `duration_s`, the other
numeric top-level keys, `collapses` (events summed over devices), `DEVICE.KEY` (`gpu0.max_temp_c`),
`throttle.GPU.KEY`, `spans.KEY` and `workload.STATE_s` (seconds in that state; any state name,
since tags are the user's words). A comparison with a null reading is unknown, and an
unknown check fails (three-valued logic for and/or/not). A name the session's source never
measured (the summary's `not_measured`, e.g. an imported log without a throttle column) is an
error that says so, not a pass.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recordings.errors import InputError
from recordings.inert import inert

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
KEYWORDS = ("and", "or", "not")
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op><=|>=|==|!=|<|>)|(?P<paren>[()]))")
_WORKLOAD = re.compile(r"workload\.([A-Za-z0-9_]+)_s")
NOT_MEASURED = "not_measured"  # summary key: a name or its head (cpu, throttle.gpu0, gpu0.collapse) -> why absent


class CheckError(InputError):
    """A malformed expression or an unknown name; the text names the column (1-based)."""


@dataclass(frozen=True)
class Token:
    kind: str  # number | name | op | paren | keyword | end
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            tokens.append(Token("end", "", position + 1))
            return tokens
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise CheckError(f"unexpected '{inert(text[position])}' at column {position + 1}")
        kind, word = match.lastgroup, match.group(match.lastgroup)
        start = match.start(kind)
        if kind == "number" and match.end() < len(text) and (text[match.end()].isalpha() or text[match.end()] == "_"):
            raise CheckError(f"unexpected '{inert(text[match.end()])}' at column {match.end() + 1}")
        tokens.append(Token("keyword" if word in KEYWORDS else kind, word, start + 1))
        position = match.end()


# An expression tree: ("num", float) | ("name", str, column) | ("cmp", op, left, right)
# | ("not", node) | ("and", left, right) | ("or", left, right)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token, wanted: str = "") -> CheckError:
        found = "end of expression" if token.kind == "end" else f"'{token.text}'"
        return CheckError(f"unexpected {found} at column {token.column}" + (f" (expected {wanted})" if wanted else ""))

    def parse(self) -> Node:
        node = self.expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "and, or, or the end")
        return node

    def expr(self) -> Node:
        node = self.conjunction()
        while self.peek().text == "or" and self.peek().kind == "keyword":
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek().text == "and" and self.peek().kind == "keyword":
            self.take()
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        token = self.peek()
        if token.kind == "keyword" and token.text == "not":
            self.take()
            return ("not", self.negation())
        if token.text == "(":
            self.take()
            node = self.expr()
            if self.peek().text != ")":
                raise self.fail(self.peek(), "')'")
            self.take()
            return node
        left = self.value()
        if self.peek().kind != "op":
            raise self.fail(self.peek(), "a comparison: < <= > >= == !=")
        op = self.take().text
        return ("cmp", op, left, self.value())

    def value(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return ("num", float(token.text))
        if token.kind == "name":
            return ("name", token.text, token.column)
        raise self.fail(token, "a name or a number")


def _names(node: Node) -> list[tuple[str, int]]:
    if node[0] == "name":
        return [(node[1], node[2])]
    if node[0] == "num":
        return []
    return [name for child in node[1:] if isinstance(child, tuple) for name in _names(child)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summary_names(summary: dict[str, Any]) -> dict[str, float | None]:
    """Every name a check may use, with its value in this summary (None: not measured)."""
    values: dict[str, float | None] = {}
    for key, value in summary.items():
        if value is None or _is_number(value):
            values[key] = value
    devices: dict[str, dict[str, Any]] = summary.get("devices") or {}
    counts = [entry.get("collapse_events") for entry in devices.values()]
    values["collapses"] = None if None in counts else sum(count for count in counts if count is not None)
    for prefix, entry in devices.items():
        for key, value in entry.items():
            if value is None or _is_number(value):
                values[f"{prefix}.{key}"] = value
        for key, value in (entry.get("throttle") or {}).items():
            values[f"throttle.{prefix}.{key}"] = value
    for key, value in (summary.get("spans") or {}).items():
        if value is None or _is_number(value):
            values[f"spans.{key}"] = value
    for state, seconds in (summary.get("workload_seconds") or {}).items():
        values[f"workload.{state}_s"] = seconds
    return values


def _lookup(name: str, values: dict[str, float | None]) -> tuple[bool, float | None]:
    if name in values:
        return True, values[name]
    if _WORKLOAD.fullmatch(name):  # a state the session never entered: no seconds in it
        return True, 0.0
    return False, None


@dataclass(frozen=True)
class Check:
    expression: str
    tree: Node

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in _names(self.tree)))

    def validate(self, schema: dict[str, Any]) -> None:
        """Raise CheckError for a name this session's summary will not have (`schema`: a summary, values unused)."""
        values = summary_names(schema)
        for name, column in _names(self.tree):
            _refuse_not_measured(name, schema)
            if not _lookup(name, values)[0]:
                close = difflib.get_close_matches(name, list(values), n=1)
                hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(_families(values))})"
                raise CheckError(f"unknown name '{name}' at column {column}{hint}")

    def evaluate(self, summary: dict[str, Any]) -> dict[str, Any]:
        """{"expression", "value", "passed", "values"}: `value` is the name's value when the check has one name."""
        for name in self.names:
            _refuse_not_measured(name, summary)
        values = {name: _lookup(name, summary_names(summary))[1] for name in self.names}
        outcome = _evaluate(self.tree, values)
        single = values[self.names[0]] if len(self.names) == 1 else None
        return {"expression": self.expression, "value": single, "passed": outcome is True, "values": values}


def _refuse_not_measured(name: str, summary: dict[str, Any]) -> None:
    """CheckError when `name` is of what the session's source never measured (`cpu`, `throttle.gpu0` ...)."""
    absent = found if isinstance(found := summary.get(NOT_MEASURED), dict) else {}
    for key, why in absent.items():
        if name == key or name.startswith((f"{key}.", f"{key}_")):
            raise CheckError(f"{key} is not in this session: {why}")


def _families(values: dict[str, float | None]) -> list[str]:
    """A short list of name shapes for an error: `collapses`, `gpu0.*`, `spans.*`, `workload.STATE_s` ..."""
    shapes = [name if "." not in name else name.rsplit(".", 1)[0] + ".*" for name in values]
    return list(dict.fromkeys(shapes + ["workload.STATE_s"]))


def _evaluate(node: Node, values: dict[str, float | None]) -> Any:
    """A number, None (unknown) or a bool."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return values[node[1]]
    if kind == "cmp":
        left, right = _evaluate(node[2], values), _evaluate(node[3], values)
        return None if left is None or right is None else OPERATORS[node[1]](left, right)
    if kind == "not":
        inner = _evaluate(node[1], values)
        return None if inner is None else not inner
    left, right = _evaluate(node[1], values), _evaluate(node[2], values)
    if kind == "and":
        return False if left is False or right is False else (None if left is None or right is None else True)
    return True if left is True or right is True else (None if left is None or right is None else False)


def parse_check(expression: str) -> Check:
    """The parsed check; CheckError "--check 'EXPR': unexpected ... at column N" when malformed."""
    try:
        return Check(expression, _Parser(expression).parse())
    except CheckError as error:
        raise CheckError(f"--check '{inert(expression)}': {error}") from None


def validate_checks(checks: list[Check], schema: dict[str, Any]) -> None:
    for check in checks:
        try:
            check.validate(schema)
        except CheckError as error:
            raise CheckError(f"--check '{inert(check.expression)}': {error}") from None


def checks_table(results: list[dict[str, Any]]) -> str:
    """A plain-text pass/fail table: one row per check, with its value(s)."""
    rows = [("result", "check", "value")]
    for result in results:
        shown = ", ".join(f"{name}={_fmt(value)}" for name, value in result.get("values", {}).items())
        rows.append(("PASS" if result["passed"] else "FAIL", inert(result["expression"]), shown or _fmt(result["value"])))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip() for row in rows)


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value:.6g}"
