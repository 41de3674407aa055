"""The import graph of costwatch's own modules, checked against the layers of docs/design.md.

Every `import` / `from … import` is counted, at the top of a file or inside a function, and
the script fails (exit 1) when:
- the graph has a cycle;
- a module imports one of a higher layer (layers bottom to top: core, tenant, pricing,
  write side, reports, budgets, interfaces);
- a project module is imported inside a function, except in AppConfig.ready() (where Django
  wants signal receivers connected) -- the rule is "every import at the top of its file";
- a migration imports project code other than its own app's models.

Run: python bench/imports_graph.py [-v]   (make test runs it first; no Django needed)
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["costwatch", "usage", "billing"]
LAYERS = ["core", "tenant", "pricing", "write side", "reports", "budgets", "interfaces"]
# "budgets" also holds usage/insights (read-only analyses over the reports and budgets)
# Module names (a last component, or any component for packages) that are interfaces:
# pages, API, commands, tasks, admin, app wiring.
INTERFACE_LEAVES = {"views", "api", "urls", "admin", "tasks", "apps", "forms", "charts",
                    "exports", "filters", "demo", "asgi", "wsgi"}
INTERFACE_PACKAGES = {"web", "management", "templatetags"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: str | None  # the enclosing function's name, None at module level


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if parts[-1] in INTERFACE_LEAVES or parts[-1].startswith("views_") \
            or INTERFACE_PACKAGES & set(parts):
        return LAYERS.index("interfaces")
    if module.startswith("costwatch.tenant"):
        return LAYERS.index("tenant")
    if module.startswith("billing.pricing"):
        return LAYERS.index("pricing")
    if module.startswith("usage.reports"):
        return LAYERS.index("reports")
    if module.startswith("usage.insights"):  # analyses that read the reports and budgets
        return LAYERS.index("budgets")
    if parts[0] == "usage":
        return LAYERS.index("write side")
    if parts[0] == "billing":
        return LAYERS.index("budgets")
    if module in {"costwatch.urls", "costwatch.api"}:
        return LAYERS.index("interfaces")
    return LAYERS.index("core")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(module, is_package, node)
        # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    out: list[str] = []
    for name in names:
        while name and name not in known:  # `import a.b.c` of a non-module attribute
            name = name.rpartition(".")[0]
        if name and name != module and name not in out:
            out.append(name)
    return out


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]):
        self.module, self.is_package, self.known = module, is_package, known
        self.function: list[str] = []
        self.edges: list[Edge] = []

    def _function(self, node):
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _import(self, node):
        for target in _targets(node, self.module, self.is_package, self.known):
            self.edges.append(Edge(self.module, target, node.lineno,
                                   self.function[-1] if self.function else None))

    visit_Import = visit_ImportFrom = _import


def build_graph() -> tuple[dict[str, Path], list[Edge]]:
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    known = set(files)
    edges: list[Edge] = []
    for module, path in files.items():
        visitor = _Visitor(module, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        edges += visitor.edges
    return files, edges


def find_cycles(nodes: list[str], edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {n: set() for n in nodes}
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def problems(files: dict[str, Path], edges: list[Edge]) -> list[str]:
    out = []
    for cycle in find_cycles(sorted(files), [e for e in edges if ".migrations." not in e.source]):
        out.append("import cycle: " + " -> ".join(cycle))
    for e in edges:
        where = f"{files[e.source].relative_to(ROOT)}:{e.line}"
        if ".migrations." in e.source:
            app = e.source.split(".migrations.")[0]
            if e.target != f"{app}.models":
                out.append(f"{where}: migration imports live code {e.target} (freeze what it needs)")
            continue
        if layer(e.target) > layer(e.source):
            out.append(f"{where}: {e.source} ({LAYERS[layer(e.source)]}) imports {e.target} "
                       f"({LAYERS[layer(e.target)]}), a higher layer")
        if e.in_function and not (e.source.endswith(".apps") and e.in_function == "ready"):
            out.append(f"{where}: import of {e.target} inside {e.in_function}() (imports go at the top)")
    return out


def main(argv: list[str]) -> int:
    files, edges = build_graph()
    found = problems(files, edges)
    if "-v" in argv:
        for i, name in enumerate(LAYERS):
            members = sorted(m for m in files if layer(m) == i and ".migrations." not in m)
            print(f"{i + 1}. {name} ({len(members)}): {', '.join(members)}")
    inside = sum(1 for e in edges if e.in_function)
    print(f"{len(files)} modules, {len(edges)} imports of project modules "
          f"({inside} inside functions): {'OK' if not found else f'{len(found)} problem(s)'}")
    for problem in found:
        print("  " + problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
