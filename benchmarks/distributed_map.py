"""Strong scaling of one gradient step of a distributed forward map, 1 → 2 MPI ranks.

The Schrödinger problem ½Δu = e^θ u, u = 1 on ∂O, on the unit square with n² × 2 P1 triangles
(n = 256: 66 049 dofs), N = 1000 design points, as
:class:`bayesinv.fem.DistributedVariationalMap` on ``MPI.COMM_WORLD`` under ``mpirun -n 1`` and
``-n 2``, with the default parallel direct solver (MUMPS LU) and with CG + BoomerAMG (hypre,
rtol 1e-10). One *gradient step* is a forward solve (assembly + factorisation + solve), the
gathered outputs, and one pullback (adjoint solve + gradient assembly + gather): what a
Langevin sampler pays per step. Reported: the median over repeats of the slowest rank's time,
the set-up time, and the peak resident memory of each rank (``ru_maxrss``); and, for comparison,
the serial fast affine path (:class:`bayesinv.fem.SchrodingerMap`, precomputed coefficient
tensor, PETSc Cholesky) on the same mesh in this process. The ranks run one BLAS/OpenMP thread
each, and Open MPI's waiting ranks yield the core (``mpi_yield_when_idle``), which matters on
a machine with as many busy processes as cores.

The machine is shared (2 cores, other jobs running): the load average before and after is
recorded next to the timings, which are only comparable within one run.

Run: ``python benchmarks/distributed_map.py`` (``--quick``: n = 16, one repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOLVERS = ("mumps", "cg+hypre")


def residual(u, m, v):
    import ufl

    return (0.5 * ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.exp(m) * u * v) * ufl.dx


def design(num: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 1.0, size=(num, 2))


def worker(n: int, num_points: int, solver: str, repeats: int) -> dict:
    """Run under mpirun: time gradient steps on COMM_WORLD; the report (on every rank)."""
    import dolfinx.mesh
    from mpi4py import MPI

    from bayesinv import fem

    comm = MPI.COMM_WORLD
    config = None if solver == "mumps" else fem.PETScSolver("cg", "hypre", rtol=1e-10)
    t0 = time.perf_counter()
    mesh = dolfinx.mesh.create_unit_square(comm, n, n)
    G = fem.DistributedVariationalMap(residual, mesh, design(num_points),
                                      bcs=[fem.DirichletBC(1.0)], solver=config)
    setup = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    x = G.parameter_coordinates
    theta = 0.5 * np.sin(2 * np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])
    w = np.ones(G.output_dim)
    times = []
    for _ in range(repeats + 1):  # the first round warms caches
        comm.Barrier()
        t = time.perf_counter()
        _, pullback = G.value_and_pullback(theta)
        grad = pullback(w)
        times.append(comm.allreduce(time.perf_counter() - t, op=MPI.MAX))
    rss = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, root=0)
    return {"ranks": comm.size, "solver": solver, "dofs": G.input_dim, "setup_s": setup,
            "step_s": float(np.median(times[1:])), "max_rss_mb": rss,
            "grad_norm": float(np.linalg.norm(grad))}


def run_ranks(ranks: int, n: int, num_points: int, solver: str, repeats: int) -> dict:
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl="self,vader",
               OMPI_MCA_mpi_yield_when_idle="1",  # waiting ranks yield the core
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")  # one thread per rank
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = ["mpirun", "-n", str(ranks), "--allow-run-as-root", "-x", "PYTHONPATH", "-x",
               "OMPI_MCA_btl", sys.executable, str(Path(__file__).resolve()), "--worker",
               "--n", str(n), "--points", str(num_points), "--solver", solver,
               "--repeats", str(repeats), "--json", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"mpirun failed: {proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def serial_fast_path(n: int, num_points: int, repeats: int) -> dict:
    from bayesinv import fem

    t0 = time.perf_counter()
    domain = fem.unit_square(n)
    G = fem.SchrodingerMap(domain, design(num_points))
    setup = time.perf_counter() - t0
    x = domain.space(1).coordinates
    theta = 0.5 * np.sin(2 * np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])
    w = np.ones(G.output_dim)
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        _, pullback = G.value_and_pullback(theta)
        pullback(w)
        times.append(time.perf_counter() - t)
    return {"ranks": 1, "solver": "serial fast affine (PETSc Cholesky)", "dofs": G.input_dim,
            "setup_s": setup, "step_s": float(np.median(times[1:])),
            "max_rss_mb": [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0]}


def table(rows, n, load_before, load_after) -> str:
    lines = [
        f"# One gradient step on a distributed mesh: {n}² P1 ({rows[0]['dofs']} dofs)",
        "",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after} "
        f"(2 cores shared with other jobs). Generated by `benchmarks/distributed_map.py`.",
        "",
        "| path | ranks | set-up (s) | gradient step (s) | speed-up vs 1 rank | "
        "peak memory per rank (MB) |",
        "|---|---|---|---|---|---|",
    ]
    base = {r["solver"]: r["step_s"] for r in rows if r["ranks"] == 1}
    for r in rows:
        speed = base[r["solver"]] / r["step_s"]
        mem = ", ".join(f"{m:.0f}" for m in r["max_rss_mb"])
        lines.append(f"| {r['solver']} | {r['ranks']} | {r['setup_s']:.2f} | "
                     f"{r['step_s']:.3f} | {speed:.2f} | {mem} |")
    lines += [
        "",
        "Gradient step = forward solve + gathered outputs + one pullback (median of repeats, "
        "slowest rank). Weak scaling on a cluster (on paper): assembly and point evaluation "
        "are local (work ∝ dofs per rank, communication ∝ the partition boundary); MUMPS' "
        "factorisation of 2-d problems grows like (dofs)^{3/2} with fill and its parallel "
        "efficiency falls beyond tens of ranks, so large 3-d problems should use a Krylov "
        "solver with algebraic multigrid (CG + BoomerAMG: O(dofs) per solve, "
        "near-constant iteration counts under refinement). The sampler state ξ is replicated "
        "and costs O(latent dimension) per rank.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(HERE / "results"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="mumps", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        report = worker(args.n, args.points, args.solver, args.repeats)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            Path(args.json).write_text(json.dumps(report))
        return report
    n, repeats = (16, 1) if args.quick else (args.n, args.repeats)
    points = min(args.points, 100) if args.quick else args.points
    load_before = tuple(round(v, 2) for v in os.getloadavg())
    rows = [run_ranks(ranks, n, points, solver, repeats)
            for solver in SOLVERS for ranks in (1, 2)]
    rows.append(serial_fast_path(n, points, repeats))
    load_after = tuple(round(v, 2) for v in os.getloadavg())
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "distributed_map.json").write_text(json.dumps(
        {"n": n, "points": points, "load_before": load_before, "load_after": load_after,
         "rows": rows}, indent=2))
    text = table(rows, n, load_before, load_after)
    (out / "distributed_map.md").write_text(text)
    print(text)
    return rows


if __name__ == "__main__":
    main()
