"""What the FEM timing benchmarks share: interleaved timing, the machine record, the command
line, the report files and the two UFL residuals they time.

``forward_maps.py``, ``variational_maps.py`` and ``full_hessian.py`` each time several methods
round by round (so the load of a shared machine affects all alike), record the machine and its
load around the run, take ``--sizes``/``--num-points``/``--rounds``/``--output``/``--quick``
and write ``<output>/<name>.json`` and ``<output>/<name>.md``. Each is a standalone script
(``python benchmarks/x.py``) that imports this module after putting its folder on
``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import benchmark_parser, record_run, write_report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ufl

RESULTS = Path(__file__).resolve().parent / "results"


def darcy(u, m, v):
    """The Darcy residual m ∇u·∇v + v (affine in m: the probed path of a variational map)."""
    return m * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + 1.0 * v * ufl.dx


def nonlinear(u, m, v):
    """−∇·(e^m ∇u) + u³ = 1 in weak form (Newton's method)."""
    return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + u ** 3 * v - v) * ufl.dx


def calls_per_sample(fn: Callable[[], Any], target_seconds: float) -> int:
    """How many calls of ``fn`` take about ``target_seconds`` (1 to 200)."""
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    return int(np.clip(target_seconds / one, 1, 200))


def interleaved_samples(methods: dict[str, Callable[[], Any]], rounds: int,
                        target_seconds: float) -> dict[str, list[float]]:
    """Seconds per call of each method, 5 samples per round; each round times every method in
    turn, after two warm-up calls each (numba, PETSc set-up, caches)."""
    for fn in methods.values():
        fn()
        fn()
    per = {name: calls_per_sample(fn, target_seconds / 5) for name, fn in methods.items()}
    samples: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(per[name]):
                    fn()
                samples[name].append((time.perf_counter() - t0) / per[name])
    return samples


def machine_info() -> dict[str, Any]:
    """Python, platform, CPUs, the bayesinv, dolfinx and PETSc versions, and the load now."""
    from petsc4py import PETSc

    from bayesinv import __version__
    from bayesinv.fem import _dolfinx

    return {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpus": os.cpu_count(), "bayesinv": __version__,
        "dolfinx": _dolfinx.DOLFINX_VERSION, "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "load_average_start": os.getloadavg(),
    }


def benchmark_parser(doc: str, *, sizes: list[int], rounds: int) -> argparse.ArgumentParser:
    """A parser described by the first line of ``doc`` with ``--sizes`` (n of the n × n unit
    square), ``--num-points`` (N, default 200), ``--rounds``, ``--output`` and ``--quick``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sizes)
    parser.add_argument("--num-points", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="a smoke run (8², 1 round)")
    return parser


def record_run(run: Callable[[], dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """``run()``'s report with the machine (and its load before and after), ``fields`` and
    the date added."""
    info = machine_info()
    report = run()
    info["load_average_end"] = os.getloadavg()
    report.update(machine=info, **fields, date=time.strftime("%Y-%m-%d %H:%M"))
    return report


def write_report(report: dict[str, Any], output: Path, name: str,
                 markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write ``<output>/<name>.json`` (the report) and ``<output>/<name>.md`` (its table)."""
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{name}.json").write_text(json.dumps(report, indent=2))
    (output / f"{name}.md").write_text(markdown(report))
