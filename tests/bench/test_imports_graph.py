"""bench/imports_graph.py: the import graph is acyclic and respects the layers, and the
checker itself sees a cycle, an upward import and an import inside a function."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent.parent / "bench" / "imports_graph.py"
spec = importlib.util.spec_from_file_location("imports_graph", SCRIPT)
graph = importlib.util.module_from_spec(spec)
sys.modules["imports_graph"] = graph  # dataclasses look their module up
spec.loader.exec_module(graph)


def test_the_project_has_no_cycle_no_upward_import_and_no_import_in_a_function():
    files, edges = graph.build_graph()
    assert graph.problems(files, edges) == []
    assert len(files) > 50 and any(e.in_function == "ready" for e in edges)


def test_the_checker_reports_each_kind_of_problem():
    E = graph.Edge
    files = {m: graph.ROOT / (m.replace(".", "/") + ".py")
             for m in ["usage.ingest", "usage.tasks", "usage.rollups", "billing.budgets"]}
    edges = [E("usage.ingest", "usage.rollups", 1, None), E("usage.rollups", "usage.ingest", 2, None),
             E("usage.ingest", "billing.budgets", 3, None), E("usage.tasks", "usage.rollups", 4, "status")]
    found = graph.problems(files, edges)
    assert found[0] == "import cycle: usage.ingest -> usage.rollups"
    assert any("usage.ingest (write side) imports billing.budgets (budgets), a higher layer" in p for p in found)
    assert any("import of usage.rollups inside status()" in p for p in found)
    assert graph.layer("usage.tasks") == graph.LAYERS.index("interfaces")
    assert graph.layer("costwatch.tenant.access") < graph.layer("billing.pricing.rates") < graph.layer("usage.ingest")
