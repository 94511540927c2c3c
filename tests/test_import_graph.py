"""The package's import graph has no circle and no arrow back up the floors.

The graph is built statically (``ast``) from every ``import`` and ``from ... import`` in
``bayesinv/`` — at module level and inside functions alike, since a function-level import is
an arrow too (it only defers the circle to run time). ``from pkg import name`` is an arrow to
the submodule ``pkg.name`` when that is a module, else to ``pkg`` (its ``__init__``); the
implicit import of a parent package is not an arrow (as in import-linter). The floors are the
ones documented in ``docs/architecture.md`` ("Floors"): a module may import from its own floor
or those below, never from a floor above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: bottom to top; a module's floor is that of its longest matching prefix (docs/architecture.md)
FLOORS = (
    ("foundations", ("bayesinv._version", "bayesinv._validation", "bayesinv._files",
                     "bayesinv._rowwise", "bayesinv._nodal", "bayesinv._mpi_env",
                     "bayesinv._process", "bayesinv.errors", "bayesinv.seeds",
                     "bayesinv.protocols", "bayesinv.fields")),
    ("numerics and kernels", ("bayesinv.linalg", "bayesinv.links", "bayesinv.fem",
                              "bayesinv.forward", "bayesinv.samplers.kernels")),
    ("results bridge", ("bayesinv.space_record", "bayesinv.arviz_io",
                        "bayesinv.diagnostics.space_record", "bayesinv.diagnostics.arviz_io")),
    ("modelling", ("bayesinv.priors", "bayesinv.likelihood", "bayesinv.likelihoods",
                   "bayesinv.hierarchical", "bayesinv.posterior", "bayesinv.lowrank",
                   "bayesinv.optimize", "bayesinv.laplace", "bayesinv.xray",
                   "bayesinv.linear_gaussian")),
    ("samplers", ("bayesinv.samplers",)),
    ("diagnostics", ("bayesinv.diagnostics", "bayesinv.io", "bayesinv.plotting")),
    ("synthetic experiments", ("bayesinv.synthetic",)),
    ("coverage studies", ("bayesinv.coverage",)),
    ("problems", ("bayesinv.testing", "bayesinv.experiments", "bayesinv.xray.problems")),
    ("applications", ("bayesinv.hpc", "bayesinv.cli", "bayesinv.__main__")),
    ("public API", ("bayesinv",)),
)

def modules(root: Path) -> dict[str, Path]:
    """{dotted name: path} of every module of the package under ``root``."""
    out = {}
    for path in sorted((root / "bayesinv").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(name: str, is_package: bool, node, known) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix
            for a in node.names]


def _is_type_checking_block(node) -> bool:
    """``if TYPE_CHECKING:`` — imports for annotations only, never executed: not an arrow."""
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the package modules it imports} (static, function-level imports included)."""
    known = modules(root)
    graph = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        arrows = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(inner) for block in ast.walk(tree) if _is_type_checking_block(block)
                       for stmt in block.body for inner in ast.walk(stmt)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only:
                arrows.update(t for t in _targets(name, is_package, node, known)
                              if t in known and t != name)
        graph[name] = arrows
    return graph


def floor(module: str) -> int:
    best = None
    for level, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > len(best[1])):
                best = (level, prefix)
    if best is None:
        raise AssertionError(f"{module} is on no floor: add it to FLOORS (and the docs)")
    return best[0]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def upward_arrows(graph) -> list[str]:
    return [f"{m} ({FLOORS[floor(m)][0]}) imports {t} ({FLOORS[floor(t)][0]})"
            for m, ts in sorted(graph.items()) for t in sorted(ts) if floor(t) > floor(m)]


def test_every_module_is_on_a_floor():
    for module in modules(ROOT):
        floor(module)


def test_no_import_circle():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_back_up_the_floors():
    bad = upward_arrows(import_graph())
    assert not bad, "imports back up the floors:\n" + "\n".join(bad)


@pytest.mark.parametrize("arrow", [("bayesinv.samplers.exact", "bayesinv.coverage.study"),
                                   ("bayesinv.coverage.store", "bayesinv.hpc.study")])
def test_the_checks_catch_a_planted_arrow(arrow):
    """An arrow up the floors (and, with its way back, a circle) is found."""
    graph = import_graph()
    graph[arrow[0]] = graph[arrow[0]] | {arrow[1]}
    assert any(arrow[0] in line.split(" (")[0] for line in upward_arrows(graph))
    graph[arrow[1]] = graph[arrow[1]] | {arrow[0]}
    assert any(arrow[0] in c and arrow[1] in c for c in circles(graph))


def test_function_level_and_relative_imports_are_arrows(tmp_path):
    pkg = tmp_path / "bayesinv"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from ..errors import X\n"
                                      "    from . import b\n")
    (pkg / "sub" / "b.py").write_text("import bayesinv.sub.a\n")
    graph = import_graph(tmp_path)
    assert graph["bayesinv.sub"] == {"bayesinv.sub.a"}
    assert graph["bayesinv.sub.a"] == {"bayesinv.errors", "bayesinv.sub.b"}
    assert graph["bayesinv.sub.b"] == {"bayesinv.sub.a"}
    assert circles(graph) == [["bayesinv.sub.a", "bayesinv.sub.b"]]
