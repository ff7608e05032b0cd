"""Column names have one home (collectors/schema.py): no module builds a device's column with an f-string."""

from __future__ import annotations

import ast

from collectors.schema import DERIVED_COLUMN_TEMPLATE, GPM_COLUMN_TEMPLATE, GPU_COLUMN_TEMPLATE
from tests.conftest import REPO

FIELDS = {name.removeprefix("{p}_") for template in (GPU_COLUMN_TEMPLATE, GPM_COLUMN_TEMPLATE, DERIVED_COLUMN_TEMPLATE)
          for name in template}


def _field_after_prefix(text: str, more: bool) -> bool:
    """`_power_w`, or the start of a field when more of the f-string follows (`_violation_` of `{kind}_s`)."""
    field = text.removeprefix("_")
    if not text.startswith("_") or not field:
        return False
    return field in FIELDS or (more and any(known.startswith(field) for known in FIELDS))


PREFIX_NAMES = {"p", "prefix", "device"}  # what a device's prefix is called where it is joined to any field


def _is_prefix(node: ast.AST) -> bool:
    value = node.value if isinstance(node, ast.FormattedValue) else None
    return (isinstance(value, ast.Name) and value.id in PREFIX_NAMES) or \
        (isinstance(value, ast.Attribute) and value.attr == "prefix")


def built_columns(tree: ast.AST) -> list[tuple[int, str]]:
    """f-strings that put a device's field after a prefix: `f"{p}_power_w"`, `f"gpu{i}_temp_c{suffix}"`,
    `f"{prefix}_{suffix}"`."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        pieces = node.values
        if len(pieces) == 3 and _is_prefix(pieces[0]) and isinstance(pieces[1], ast.Constant) \
                and pieces[1].value == "_" and isinstance(pieces[2], ast.FormattedValue):
            found.append((node.lineno, "_"))
            continue
        for at, (before, piece) in enumerate(zip(pieces, pieces[1:]), start=1):
            if isinstance(before, ast.FormattedValue) and isinstance(piece, ast.Constant) \
                    and isinstance(piece.value, str) and _field_after_prefix(piece.value, at + 1 < len(pieces)):
                found.append((node.lineno, piece.value[1:]))
    return found


def test_no_module_builds_a_device_column_by_hand():
    built = []
    for package in ("collectors", "recordings", "tui", "rigscope"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.relative_to(REPO).as_posix() == "collectors/schema.py":
                continue
            built += [f"{path.relative_to(REPO)}:{line} {field}"
                      for line, field in built_columns(ast.parse(path.read_text(encoding="utf-8")))]
    assert built == []  # use collectors.schema.column(prefix, field) or gpu_column(index, field)


def test_the_check_sees_each_way_of_building_a_column():
    code = ('a = f"{p}_power_w"\nb = f"gpu{i}_temp_c"\nc = f"{prefix}_energy_j{STEP}"\n'
            'd = f"{p}_violation_{kind}_s"\ne = f"{q}_duration_s"\nf = f"{key}_bytes"\ng = f"{a}_{b}"\n'
            'h = f"{p}_{suffix}"\ni = f"{self.prefix}_{name}"\n')
    assert built_columns(ast.parse(code)) == [(1, "power_w"), (2, "temp_c"), (3, "energy_j"), (4, "violation_"),
                                              (8, "_"), (9, "_")]
