"""The package's shape: no import cycles, and nothing below the switch imports it.

Imports inside functions count too: a deferred import still ties the two modules
together, it only hides the cycle from start-up. Imports for annotations only (under
``if TYPE_CHECKING:``) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import eventlog_instrument

PACKAGE = Path(eventlog_instrument.__file__).parent
ABOVE_THE_SWITCH = {"eventlog_instrument", "eventlog_instrument.bootstrap",
                    "eventlog_instrument.launcher", "eventlog_instrument.auto.sitecustomize"}
"""The entry points that may import the switch: the package's front door and the launcher."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, less the blocks under ``if TYPE_CHECKING:`` (imports for annotations)."""
    nodes, pending = [], [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def imports() -> dict[str, set[str]]:
    """Each package module and the package modules it imports, anywhere in its body."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1],
                                     *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without_package_front_door(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A submodule importing ``eventlog_instrument`` itself only loads the package; the
    front door's lazy exports are no cycle of the code."""
    return {name: targets - {"eventlog_instrument"} for name, targets in graph.items()}


def test_the_package_has_no_import_cycle():
    assert cycles(without_package_front_door(imports())) == []


def test_no_module_below_the_switch_imports_it():
    importers = sorted(name for name, targets in imports().items()
                       if "eventlog_instrument.switch" in targets and name not in ABOVE_THE_SWITCH)
    assert importers == []
