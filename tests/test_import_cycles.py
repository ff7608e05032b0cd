"""No import cycles: between the four packages, and between the modules of the code base.

The source is parsed (ast), not imported, so an import inside a function (lazy) counts as
much as one at the top: a cycle that only works because one side imports late is still a cycle.
An import under `if TYPE_CHECKING:` counts too: a cycle the type checker must follow is one a
reader must follow (a module that needs another's type only names a protocol of its own).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("collectors", "recordings", "tui", "rigscope")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST) -> Iterator[str]:
    """Every module name an import statement anywhere in `tree` names (`from a import b`: `a` and `a.b`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        yield from imported_names(node)


def import_graph(packages_only: bool) -> dict[str, set[str]]:
    sources = {module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            while name and name not in sources:  # `from a.b import function`: the module a.b
                name = name.rpartition(".")[0]
            if not name or module.startswith(f"{name}."):  # a package's own __init__ is no cycle
                continue
            source, target = (module.split(".")[0], name.split(".")[0]) if packages_only else (module, name)
            if source != target:
                graph.setdefault(source, set()).add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_packages_import_each_other_one_way_only():
    graph = import_graph(packages_only=True)
    assert cycles(graph) == []
    assert graph["rigscope"] >= {"tui", "recordings", "collectors"}  # the graph is real, not empty


def test_no_module_imports_itself_round_about_not_even_lazily_nor_for_the_type_checker():
    assert cycles(import_graph(packages_only=False)) == []


def test_a_lazy_or_type_only_import_cycle_is_found(tmp_path):
    lazy = ast.parse("import os\n\ndef later():\n    from b import thing\n")
    assert "b" in set(imported_names(lazy))
    typed = ast.parse("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from c import Thing\n")
    assert "c" in set(imported_names(typed))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
