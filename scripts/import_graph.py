"""The package's import graph and its layering contracts, read from the source (nothing is imported).

Every import of one of our modules counts: at the top of a module, inside a function (marked
`fn`), under `if TYPE_CHECKING:` (marked `type`), and `importlib.import_module("posture_agent…")`
(marked `importlib`, and refused: a plain import says what depends on what). Run
`python scripts/import_graph.py` to print the graph, its circles and any broken contract (exit 1);
tests/test_import_contracts.py checks the same contracts in the test command.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "posture_agent"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    kind: str  # "top", "fn", "type" or "importlib"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (migration scripts excepted:
    Alembic loads them by path)."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in: itself, else its longest known prefix."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.module, self.is_package, self.modules = module, is_package, modules
        self.depth = 0
        self.type_only = 0
        self.edges: list[Edge] = []

    def _add(self, name: str, line: int, kind: str | None = None) -> None:
        if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
            return
        target = _resolve(name, self.modules)
        if target is None or target == self.module:
            return
        if kind is None:
            kind = "type" if self.type_only else "fn" if self.depth else "top"
        self.edges.append(Edge(self.module, target, line, kind))

    def _scoped(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guard = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not guard:
            self.generic_visit(node)
            return
        self.type_only += 1
        for child in node.body:
            self.visit(child)
        self.type_only -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.module.split(".")
            if not self.is_package:
                anchor.pop()
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            self._add(full if full in self.modules else base, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(arg.value, node.lineno, "importlib")
            elif isinstance(arg, ast.JoinedStr):  # f"{__name__}.{x}": any module of this package
                for child in self.modules:
                    if child.rpartition(".")[0] == self.module:
                        self._add(child, node.lineno, "importlib")
        self.generic_visit(node)


def import_edges(root: Path = ROOT) -> list[Edge]:
    modules = module_files(root)
    edges: list[Edge] = []
    for name, path in modules.items():
        collector = _Collector(name, path.name == "__init__.py", modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges += collector.edges
    return edges


def circles(edges: list[Edge]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _within(module: str, *layers: str) -> bool:
    return any(module == f"{PACKAGE}.{layer}" or module.startswith(f"{PACKAGE}.{layer}.") for layer in layers)


FORBIDDEN = (
    # (who, which layers they must not import, why)
    ("domain", ("*",), "domain is pure: it imports nothing of ours but itself"),
    ("ui", ("store", "agent", "journal"), "the UI takes data and callbacks, never the data itself or the agent"),
    ("store", ("ui", "agent", "report", "journal", "importers", "commands", "cli", "app"),
     "the store is the bottom layer"),
)
APP_IMPORTERS = {f"{PACKAGE}.commands.agent"}
"""Only the start command imports app.py (the one module that knows agent, tray and windows)."""


OPENCV_MODULES = {f"{PACKAGE}.camera.vision": {f"{PACKAGE}.camera.probe"},
                  f"{PACKAGE}.camera.probe": {f"{PACKAGE}.camera.__main__", f"{PACKAGE}.cli"}}
"""The modules that import OpenCV, and who may import them: only the camera check's child process
(`python -m posture_agent.camera`, or the program started with --camera-process), never the resident."""


def broken_contracts(edges: list[Edge]) -> Iterator[str]:
    for e in edges:
        where = f"{e.source} line {e.line}: imports {e.target}"
        if e.kind == "importlib":
            yield f"{where} through importlib (a plain import says what depends on what)"
        for who, layers, why in FORBIDDEN:
            if not _within(e.source, who):
                continue
            bad = not _within(e.target, who) if layers == ("*",) else _within(e.target, *layers)
            if bad:
                yield f"{where} ({why})"
        if e.target == f"{PACKAGE}.app" and e.source not in APP_IMPORTERS:
            yield f"{where} (only the start command imports app)"
        if e.target in OPENCV_MODULES and e.source not in OPENCV_MODULES[e.target]:
            yield f"{where} (OpenCV is imported by the camera check's child process alone)"
    for group in circles(edges):
        yield "circle: " + " <-> ".join(group)


def _short(module: str) -> str:
    return module.removeprefix(PACKAGE + ".") or PACKAGE


def main() -> int:
    edges = import_edges()
    by_source: dict[str, list[Edge]] = {}
    for e in edges:
        by_source.setdefault(e.source, []).append(e)
    for source in sorted(module_files()):
        shown = sorted({(_short(e.target), e.kind) for e in by_source.get(source, [])})
        names = ", ".join(t if k == "top" else f"{t} ({k})" for t, k in shown)
        print(f"{_short(source)} -> {names or '-'}")
    found = circles(edges)
    print(f"\n{len(found)} circle(s)")
    for group in found:
        print("  " + " <-> ".join(_short(m) for m in group))
    broken = list(broken_contracts(edges))
    print(f"\n{len(broken)} broken contract(s)")
    for line in broken:
        print("  " + line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
