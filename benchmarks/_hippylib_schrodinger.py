"""hIPPYlib side of ``function_space.py``: the same Schrödinger posterior in legacy FEniCS.

Run by ``function_space.py`` in a separate interpreter that has legacy FEniCS (Debian's
``python3-dolfin``) and ``pip install hippylib`` (numpy < 2): ``python _hippylib_schrodinger.py
problem.npz out.npz``. ``problem.npz`` holds the mesh size, design, data, σ, γ, δ, the grid
points at which θ draws are recorded and the chain settings; ``out.npz`` gets, per sampler, the
θ values at the grid points (chain, draw, point), wall time, acceptance and solve counts, and the
set-up (MAP by hIPPYlib's inexact Newton–CG, Gauss–Newton low-rank Hessian by ``doublePassG``).
Step sizes (hIPPYlib does not adapt them) are chosen by short pilot runs on a grid, aiming at
acceptance 0.25 (pCN, gpCN) and 0.574 (∞-MALA); the pilots are timed apart. This file imports
nothing from bayesinv.
"""

from __future__ import annotations

import json
import sys
import time

import dolfin as dl
import hippylib as hp
import hippylib.mcmc.kernels as hk
import numpy as np
import ufl

dl.set_log_level(dl.LogLevel.ERROR)


class GridTracer:
    """Records θ at the grid dofs (and the misfit cost) of every kept sample."""

    def __init__(self, n, dofs):
        self.values = np.zeros((n, len(dofs)))
        self.dofs = dofs
        self.i = 0

    def append(self, current, q):
        self.values[self.i] = current.m.get_local()[self.dofs]
        self.i += 1


def build(cfg):
    n = int(cfg["mesh"])
    mesh = dl.UnitSquareMesh(n, n)  # diagonal "right", as bayesinv.fem.unit_square
    V = dl.FunctionSpace(mesh, "Lagrange", 1)
    Vh = [V, V, V]

    def boundary(x, on_boundary):
        return on_boundary

    bc = dl.DirichletBC(V, dl.Constant(1.0), boundary)
    bc0 = dl.DirichletBC(V, dl.Constant(0.0), boundary)

    def varf(u, m, p):  # the zero source keeps the right-hand side a valid (empty) form
        return (0.5 * ufl.inner(ufl.grad(u), ufl.grad(p)) * ufl.dx
                + ufl.exp(m) * u * p * ufl.dx - dl.Constant(0.0) * p * ufl.dx)

    pde = hp.PDEVariationalProblem(Vh, varf, bc, bc0, is_fwd_linear=True)
    prior = hp.BiLaplacianPrior(V, float(cfg["gamma"]), float(cfg["delta"]), robin_bc=True)
    misfit = hp.DiscreteStateObservation(
        hp.assemblePointwiseObservation(V, np.asarray(cfg["design"])))
    misfit.d.set_local(np.asarray(cfg["data"]))
    misfit.noise_variance = float(cfg["sigma"]) ** 2
    model = hp.Model(pde, prior, misfit)
    coords = V.tabulate_dof_coordinates()
    grid = np.asarray(cfg["grid"])
    dofs = np.array([int(np.argmin(((coords - p) ** 2).sum(axis=1))) for p in grid])
    return model, prior, dofs


def solves(model):
    return model.n_fwd_solve + model.n_adj_solve + model.n_inc_solve


def setup(model, prior, rank, oversampling):
    t0, s0 = time.perf_counter(), solves(model)
    m = prior.mean.copy()
    solver = hp.ReducedSpaceNewtonCG(model)
    solver.parameters["rel_tolerance"] = 1e-8
    solver.parameters["abs_tolerance"] = 1e-10
    solver.parameters["max_iter"] = 50
    solver.parameters["GN_iter"] = 50  # Gauss–Newton throughout, as bayesinv's newton-cg
    solver.parameters["print_level"] = -1
    x = solver.solve([None, m, None])
    map_s, map_solves = time.perf_counter() - t0, solves(model) - s0
    t0, s0 = time.perf_counter(), solves(model)
    model.setPointForHessianEvaluations(x, gauss_newton_approx=True)
    H = hp.ReducedHessian(model, misfit_only=True)
    Omega = hp.MultiVector(x[hp.PARAMETER], rank + oversampling)
    hp.parRandom.normal(1.0, Omega)
    d, U = hp.doublePassG(H, prior.R, prior.Rsolver, Omega, rank, s=1, check=False)
    nu = hp.GaussianLRPosterior(prior, d, U)
    nu.mean = x[hp.PARAMETER]
    lap_s, lap_solves = time.perf_counter() - t0, solves(model) - s0
    info = {"map_seconds": map_s, "map_solves": map_solves, "map_converged": bool(solver.converged),
            "map_iterations": int(solver.it), "laplace_seconds": lap_s,
            "laplace_solves": lap_solves, "rank": int(rank),
            "lambda_max": float(np.max(d)), "lambda_min_kept": float(np.min(d))}
    return x, nu, info


def kernel_for(name, model, nu):
    if name == "gpcn":
        return hp.gpCNKernel(model, nu), "s"
    if name == "pcn":
        return hp.pCNKernel(model), "s"
    return hp.MALAKernel(model), "delta_t"


def run_chain(kernel, m0, burn_in, draws, dofs, seed):
    hk.parRandom = hp.Random(seed=seed)  # the kernels' noise stream
    np.random.seed(seed)  # noqa: NPY002 - hIPPYlib's kernels draw from the legacy global RNG
    chain = hp.MCMC(kernel)
    chain.parameters["number_of_samples"] = draws
    chain.parameters["burn_in"] = burn_in
    chain.parameters["print_level"] = -1
    tracer = GridTracer(draws, dofs)
    t0 = time.perf_counter()
    accepted = chain.run(m0, None, tracer)
    return tracer.values, accepted / draws, time.perf_counter() - t0


def pilot(name, model, nu, m0, grid_values, target, steps, dofs):
    """The grid value whose short-run acceptance is closest to ``target``."""
    best, best_gap = grid_values[0], np.inf
    for value in grid_values:
        kernel, pname = kernel_for(name, model, nu)
        kernel.parameters[pname] = value
        _, acc, _ = run_chain(kernel, m0, 0, steps, dofs, seed=99)
        if abs(acc - target) < best_gap:
            best, best_gap = value, abs(acc - target)
    return best


PILOT_GRIDS = {
    "gpcn": (np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]), 0.25),
    "pcn": (np.array([1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]), 0.25),
    "mala": (np.array([1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4]), 0.574),
}


def main(argv):
    cfg = dict(np.load(argv[1], allow_pickle=False))
    settings = json.loads(str(cfg.pop("settings")))
    model, prior, dofs = build(cfg)
    x, nu, info = setup(model, prior, settings["rank"], settings["oversampling"])
    m0 = x[hp.PARAMETER]
    out = {"setup": json.dumps(info)}
    for name in settings["samplers"]:
        t0 = time.perf_counter()
        grid, target = PILOT_GRIDS[name]
        value = pilot(name, model, nu, m0, grid, target, settings["pilot_steps"], dofs)
        pilot_s = time.perf_counter() - t0
        values, accs, secs = [], [], []
        s0 = solves(model)
        for c in range(settings["chains"]):
            kernel, pname = kernel_for(name, model, nu)
            kernel.parameters[pname] = float(value)
            v, acc, sec = run_chain(kernel, m0, settings["warmup"], settings["draws"], dofs,
                                    seed=1 + c)
            values.append(v)
            accs.append(acc)
            secs.append(sec)
        out[f"{name}.theta"] = np.stack(values)
        out[f"{name}.info"] = json.dumps({
            "parameter": float(value), "parameter_name": pname, "acceptance_rate": accs,
            "seconds": float(sum(secs)), "pilot_seconds": pilot_s,
            "pde_solves": int(solves(model) - s0)})
        print(f"hIPPYlib {name}: {pname}={value:g}, acceptance {np.mean(accs):.2f}, "
              f"{sum(secs):.1f} s", flush=True)
    np.savez(argv[2], **out)


if __name__ == "__main__":
    main(sys.argv)
