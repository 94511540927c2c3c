"""Production code does not import test equipment: no module of ``bayesinv`` outside
``bayesinv/testing`` and ``bayesinv/experiments`` imports either of them (statically, at any
level, relative or absolute; issue 20, item 6)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "bayesinv"
EQUIPMENT = ("bayesinv.testing", "bayesinv.experiments")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path):
    """(line, absolute module name) of every import statement in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # from bayesinv import testing
                yield node.lineno, f"{module}.{alias.name}"


def is_equipment(module: str) -> bool:
    return any(module == e or module.startswith(e + ".") for e in EQUIPMENT)


def test_production_modules_do_not_import_testing_or_experiments():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if is_equipment(module_name(path)):
            continue
        offenders += [f"{path.relative_to(ROOT.parent)}:{line} imports {module}"
                      for line, module in imported_modules(path) if is_equipment(module)]
    assert not offenders, "\n".join(offenders)


def test_the_check_resolves_relative_and_function_level_imports():
    # on this very package: the equipment's own relative imports resolve, and the
    # function-level imports of a production module are seen
    found = [m for _, m in imported_modules(ROOT / "testing" / "__init__.py")]
    assert "bayesinv.testing.checks" in found
    found = [m for _, m in imported_modules(ROOT / "testing" / "linear_gaussian.py")]
    assert "bayesinv.linear_gaussian" in found
    found = [m for _, m in imported_modules(ROOT / "hpc" / "problems.py")]
    assert "bayesinv.fem" in found  # imported inside build_domain
