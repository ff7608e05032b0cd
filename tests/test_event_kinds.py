"""Event kinds have one home (collectors/event_kinds.py): no module spells a kind as a string of its own."""

from __future__ import annotations

import ast

from collectors.event_kinds import SENT, EventKind
from collectors.wire import REQUIRED
from tests.conftest import REPO

KINDS = {value for name, value in vars(EventKind).items() if name.isupper()}


def _is_kind_read(node: ast.AST) -> bool:
    """`kind`, `event["kind"]` or `event.get("kind")`."""
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "kind"
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "kind")


def _literal_kinds(node: ast.AST) -> list[str]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [v.value for v in values if isinstance(v, ast.Constant) and v.value in KINDS]


def spelled_kinds(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and _is_kind_read(node.left):
            found += [(node.lineno, kind) for other in node.comparators for kind in _literal_kinds(other)]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, value.value) for key, value in zip(node.keys, node.values)
                      if isinstance(key, ast.Constant) and key.value == "kind" and isinstance(value, ast.Constant)
                      and value.value in KINDS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("events_of", "post"):
            found += [(node.lineno, kind) for arg in node.args[:2] for kind in _literal_kinds(arg)]
    return found


def test_no_module_spells_an_event_kind_itself():
    spelled = []
    for package in ("collectors", "recordings", "tui", "rigscope"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "event_kinds.py":
                continue
            spelled += [f"{path.relative_to(REPO)}:{line} {kind}"
                        for line, kind in spelled_kinds(ast.parse(path.read_text(encoding="utf-8")))]
    assert spelled == []


def test_the_check_sees_each_way_of_spelling_a_kind():
    code = ('if kind == "note": pass\nif e.get("kind") in ("tag", "x"): pass\nd = {"kind": "alert"}\n'
            'data.events_of("clock_step")\nmonitor.post("tag", state="run")\n')
    assert [kind for _, kind in spelled_kinds(ast.parse(code))] == ["note", "tag", "alert", "clock_step", "tag"]


def test_what_may_be_sent_has_its_required_fields():
    assert set(REQUIRED) == SENT and SENT <= KINDS
