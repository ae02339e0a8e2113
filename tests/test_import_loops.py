"""No import loop between the project's modules (issue 18): every import points one way, so a module can be
understood, tested and moved with what it imports, never with what imports it. The graph is grimp's (the library
import-linter checks the floors with), over governance, registry and audits, imports inside functions included."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every set of modules that import each other round a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root, children_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children_of_root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def test_tarjan_finds_a_loop_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d"]]


def test_no_import_loop_between_the_projects_modules() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        imports = grimp.build_graph("governance", "registry", "audits", "obligations", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    graph = {module: set(imports.find_modules_directly_imported_by(module)) for module in imports.modules}
    loops = [component for component in strongly_connected(graph) if len(component) > 1]
    assert loops == [], "modules that import each other round a loop: " + "; ".join(", ".join(c) for c in loops)
