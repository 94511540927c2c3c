"""How much of bayesinv's public API is fully annotated.

The public API is every name in the ``__all__`` of ``bayesinv/__init__.py`` and of each
subpackage's ``__init__.py``. An exported function counts once; an exported class counts each
of its public methods (names without a leading underscore, plus ``__init__`` and ``__call__``)
defined in its own body. A function is *fully annotated* when every parameter other than
``self``/``cls`` has an annotation and it has a return annotation (``__init__`` needs none).

The script reads the sources (it imports nothing, so it needs neither dolfinx nor numba) and
follows ``from .x import name`` re-exports to the definition; each definition counts once.

    python tools/annotation_coverage.py            # the percentage, per package
    python tools/annotation_coverage.py --missing  # and each function that is not
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bayesinv"
SPECIAL = {"__init__", "__call__"}


@dataclass(frozen=True)
class Function:
    path: Path
    qualname: str
    line: int
    missing: tuple[str, ...]

    @property
    def annotated(self) -> bool:
        return not self.missing


def module_path(module: str) -> Path | None:
    """The source file of a dotted module name under the package, or None."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def exported_names(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return []


def absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The module an ``ImportFrom`` in ``module`` refers to."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def missing_annotations(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    args = fn.args
    positional = args.posonlyargs + args.args
    if method and positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    missing = [a.arg for a in positional + args.kwonlyargs if a.annotation is None]
    for star in (args.vararg, args.kwarg):
        if star is not None and star.annotation is None:
            missing.append(star.arg)
    if fn.returns is None and fn.name != "__init__":
        missing.append("return")
    return missing


def resolve(module: str, name: str, seen: set[tuple[str, str]]) -> tuple[Path, ast.AST] | None:
    """The definition (file and AST node) that ``module.name`` refers to."""
    if (module, name) in seen:
        return None
    seen.add((module, name))
    path = module_path(module)
    if path is None:
        return None
    tree = parse(path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            return path, node
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = absolute(module, node, path.name == "__init__.py")
                    if not source.startswith("bayesinv"):
                        return None
                    # (`from . import kernels` names a submodule: resolves to None)
                    return resolve(source, alias.name, seen)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name \
                and isinstance(node.value, ast.Name):
            return resolve(module, node.value.id, seen)
    return None


def functions_of(path: Path, node: ast.AST) -> list[Function]:
    rel = path.relative_to(ROOT)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [Function(rel, node.name, node.lineno,
                         tuple(missing_annotations(node, method=False)))]
    out = []
    assert isinstance(node, ast.ClassDef)
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                not item.name.startswith("_") or item.name in SPECIAL):
            out.append(Function(rel, f"{node.name}.{item.name}", item.lineno,
                                tuple(missing_annotations(item, method=True))))
    return out


def public_functions() -> list[Function]:
    inits = sorted(PACKAGE.rglob("__init__.py"))
    found: dict[tuple[Path, str], Function] = {}
    for init in inits:
        package = ".".join(init.parent.relative_to(ROOT).parts)
        for name in exported_names(parse(init)):
            target = resolve(package, name, set())
            if target is None:
                continue
            for fn in functions_of(*target):
                found[(fn.path, fn.qualname)] = fn
    return sorted(found.values(), key=lambda f: (str(f.path), f.line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true",
                        help="list each public function that is not fully annotated")
    args = parser.parse_args(argv)
    functions = public_functions()
    by_package: dict[str, list[Function]] = {}
    for fn in functions:
        parts = fn.path.parts
        key = parts[1] if len(parts) > 2 else parts[1].removesuffix(".py")
        by_package.setdefault(key, []).append(fn)
    for key, fns in sorted(by_package.items()):
        done = sum(f.annotated for f in fns)
        print(f"{key:<14} {done:4d}/{len(fns):<4d} {100 * done / len(fns):5.1f}%")
    done = sum(f.annotated for f in functions)
    print(f"{'total':<14} {done:4d}/{len(functions):<4d} {100 * done / len(functions):5.1f}%")
    if args.missing:
        for fn in functions:
            if not fn.annotated:
                print(f"{fn.path}:{fn.line}: {fn.qualname} ({', '.join(fn.missing)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
