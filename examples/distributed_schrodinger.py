"""One PDE on many MPI ranks: the Schrödinger problem ½Δu = f u, u = g on ∂O, on a mesh
distributed over ``MPI.COMM_WORLD``, sampled with pCN-Langevin.

Run it serially or under MPI; the results are the same (to the solver's round-off):

    python examples/distributed_schrodinger.py --quick
    mpirun -n 2 python examples/distributed_schrodinger.py --quick
    mpirun -n 4 python examples/distributed_schrodinger.py --chains 2 --ranks-per-chain 2

(the last: 2 chains × 2 ranks from one ``mpirun``, :class:`bayesinv.hpc.groups.GroupExecutor`;
any layout gives the same chains).

The forward map is :class:`bayesinv.fem.DistributedVariationalMap` (parallel assembly, MUMPS
LU, each design point observed by one rank, outputs and gradients gathered so that every rank
holds the same arrays). f = e^θ, θ has the series prior
θ = s Σ_{j,k ≤ K} (π²(j² + k²))^{−α/2} ξ_jk · 2 sin(jπx) sin(kπy) (the exact Dirichlet
eigenpairs of −Δ on the unit square, evaluated at the mesh nodes in input order, so θ and ξ do
not depend on the number of ranks). The chain state ξ is replicated on every rank and every rank
draws the same random numbers (same seed): the accept/reject decisions agree because their
inputs are identical bit for bit (checked at the end: the ranks' draws are gathered and
compared). Rank 0 writes ``summary.json`` and ``draws.npz`` to ``--output``, and the
``--checkpoint`` file of a resumable run (SIGTERM to ``mpirun`` stops all ranks at the same
step; the run resumes under any number of ranks, since ξ, the random streams and the map's
fingerprint do not depend on it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import ufl

import bayesinv
from bayesinv import fem
from bayesinv.samplers import Persistence

FULL = {"mesh": 32, "N": 200, "modes": 5, "draws": 1000, "warmup": 300}
QUICK = {"mesh": 12, "N": 60, "modes": 3, "draws": 60, "warmup": 40}


def residual(u, m, v):
    """½∇u·∇v + e^m u v (the weak form of −½Δu + f u = 0, f = e^m)."""
    return (0.5 * ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.exp(m) * u * v) * ufl.dx


def series_prior(coordinates, modes: int, alpha: float = 2.0, scale: float = 3.0):
    """The Dirichlet-Laplacian series prior on the nodes ``coordinates`` (input order)."""
    x, y = coordinates[:, 0], coordinates[:, 1]
    columns = []
    for j in range(1, modes + 1):
        for k in range(1, modes + 1):
            weight = (np.pi ** 2 * (j * j + k * k)) ** (-alpha / 2)
            columns.append(scale * weight * 2 * np.sin(j * np.pi * x) * np.sin(k * np.pi * y))
    return bayesinv.GaussianPrior(np.column_stack(columns))


def run_chain(chain: int, comm, cfg: dict, args) -> dict:
    """Chain ``chain`` on the ranks of ``comm`` (collectively); its draws and statistics.

    The data and the chain's seed depend on ``--seed`` and the chain index only, never on the
    ranks, so every layout of chains × ranks draws the same chains."""
    import dolfinx.mesh

    mesh = dolfinx.mesh.create_unit_square(comm, cfg["mesh"], cfg["mesh"])
    rng = np.random.default_rng(args.seed)            # the same stream on every rank
    design = rng.uniform(0.0, 1.0, size=(cfg["N"], 2))
    G = fem.DistributedVariationalMap(residual, mesh, design,
                                      bcs=[fem.DirichletBC(lambda x: 1.0 + x[0] * x[1])])
    prior = series_prior(G.parameter_coordinates, cfg["modes"])
    truth = prior.to_physical(rng.standard_normal(prior.latent_dim))
    clean = G(truth)
    # data and noise level recorded in single precision, as measurements are: the solver's
    # round-off (which differs between rank counts) then leaves them unchanged, and so does
    # the problem fingerprint that ties a checkpoint to its data
    noise = float(np.float32(0.01 * np.abs(clean).max()))
    data = (clean + noise * rng.standard_normal(clean.shape)).astype(np.float32).astype(float)
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, data, noise))
    checkpoint = None
    if args.checkpoint is not None:
        path = Path(args.checkpoint)
        checkpoint = path.with_name(f"{path.stem}.chain{chain}{path.suffix}")
    seed = np.random.SeedSequence(args.seed + 1).spawn(args.chains)[chain]
    idata = bayesinv.sample(posterior, "pcnl", draws=cfg["draws"], warmup=cfg["warmup"],
                            chains=1, seed=seed, init=np.zeros(prior.latent_dim),
                            progress=False, diagnostics=False,
                            persistence=Persistence(
                                checkpoint=checkpoint,
                                checkpoint_interval=args.checkpoint_interval))
    xi = np.ascontiguousarray(idata.posterior["xi"].values[0])
    everyone = comm.gather(xi, root=0)
    return {"xi": xi, "theta": idata.posterior["theta"].values[0], "truth": truth,
            "design": design, "dofs": G.input_dim, "observations": G.output_dim,
            "identical": comm.rank != 0 or all(np.array_equal(xi, x) for x in everyone),
            "acceptance_rate": float(idata.sample_stats["acceptance_rate"].values.mean()),
            "forward_solves": G.counts.forward, "adjoint_solves": G.counts.adjoint}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small mesh and short chains")
    parser.add_argument("--output", default="results/distributed_schrodinger")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--chains", type=int, default=1)
    parser.add_argument("--ranks-per-chain", type=int, default=None,
                        help="ranks of each chain's mesh (default: all); chains × ranks layout")
    parser.add_argument("--checkpoint", help="resumable run: checkpoint file (one per chain, "
                        "written by the chain's rank 0; resumes under any number of ranks)")
    parser.add_argument("--checkpoint-interval", type=float, default=60.0,
                        help="seconds between checkpoints")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    from mpi4py import MPI

    from bayesinv.hpc.groups import GroupExecutor

    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    with GroupExecutor(args.ranks_per_chain or comm.size, comm) as groups:
        chains = groups.map(lambda c, group_comm: run_chain(c, group_comm, cfg, args),
                            range(args.chains))
    report = None
    if comm.rank == 0:
        xi = np.stack([c["xi"] for c in chains])
        theta = np.stack([c["theta"] for c in chains])
        truth = chains[0]["truth"]
        mean = theta.reshape(-1, theta.shape[-1]).mean(axis=0)
        report = {
            "ranks": comm.size,
            "chains": args.chains,
            "ranks_per_chain": groups.ranks_per_group,
            "ranks_identical": all(c["identical"] for c in chains),
            "dofs": chains[0]["dofs"],
            "observations": chains[0]["observations"],
            "acceptance_rate": float(np.mean([c["acceptance_rate"] for c in chains])),
            "relative_error_posterior_mean": float(
                np.linalg.norm(mean - truth) / np.linalg.norm(truth)),
            "forward_solves": sum(c["forward_solves"] for c in chains),
            "adjoint_solves": sum(c["adjoint_solves"] for c in chains),
            "seconds": time.perf_counter() - t0,
        }
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "draws.npz", xi=xi, theta=theta, truth=truth,
                 design=chains[0]["design"])
        (out / "summary.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
    return comm.bcast(report, root=0)


if __name__ == "__main__":
    main()
