"""Your own PDE: identify a source f in ∇·(c∇u) + f = 0 with a known variable conductivity c.

The PDE is written as a UFL residual and becomes a forward map with
:class:`bayesinv.fem.VariationalForwardMap`; the unknown source is a sum of K sine modes,
f = Σ_k θ_k e_k, with a Gaussian prior θ_k ~ N(0, λ_k^{-α}) (λ_k the Dirichlet-Laplacian
eigenvalues), c(x) = 1 + 0.5 sin(2πx₁) sin(2πx₂) is known, u = 0 on ∂O and u is observed at
N random points with noise σ. The map is affine in θ, so the posterior is Gaussian and known
exactly (:class:`bayesinv.testing.LinearGaussianProblem` on the matrix J = ∂G/∂θ, K tangent
solves). MALA and ULA, both preconditioned with the Laplace covariance, sample the same
posterior; the script compares their means and standard deviations with the exact ones, and
ULA's with its own exact stationary law at step δ (ULA is biased, O(δ)).

Writes ``source_identification.png`` (true source, exact posterior mean, MALA and ULA means;
posterior sds per mode) and ``summary.json``. Run ``python examples/source_identification.py``
(about a minute) or ``--quick``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import ufl

import bayesinv
from bayesinv import fem
from bayesinv.forward import LinearForwardMap
from bayesinv.testing import LinearGaussianProblem

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import example_parser, start

FULL = {"mesh": 24, "modes": 4, "N": 60, "chains": 4, "draws": 4000, "warmup": 500}
QUICK = {"mesh": 8, "modes": 3, "N": 30, "chains": 2, "draws": 600, "warmup": 200}


def residual(u, f, v, c):
    """The weak form of ∇·(c∇u) + f = 0: ∫ c∇u·∇v − ∫ f v."""
    return (c * ufl.inner(ufl.grad(u), ufl.grad(v)) - f * v) * ufl.dx


def build(cfg, seed):
    domain = fem.unit_square(cfg["mesh"])
    x = domain.parameter_space.coordinates
    ks = [(i, j) for i in range(1, cfg["modes"] + 1) for j in range(1, cfg["modes"] + 1)]
    modes = np.column_stack([2 * np.sin(np.pi * i * x[:, 0]) * np.sin(np.pi * j * x[:, 1])
                             for i, j in ks])
    eigenvalues = np.array([np.pi ** 2 * (i * i + j * j) for i, j in ks])
    rng = np.random.default_rng(seed)
    design = fem.uniform_design(domain, cfg["N"], seed=rng)
    G = fem.VariationalForwardMap(
        residual, domain, design, parameter=fem.ParameterBasis(modes, "P1"),
        coefficients={"c": lambda x: 1 + 0.5 * np.sin(2 * np.pi * x[0]) * np.sin(2 * np.pi * x[1])},
        bcs=[fem.DirichletBC(0.0)])
    sds = 40.0 * (eigenvalues / eigenvalues[0]) ** -1.0     # α = 2 in λ^{-α/2}
    prior = bayesinv.GaussianPrior(np.diag(sds))
    truth = prior.sample(rng)
    noise = 0.05 * np.abs(G(truth)).max()
    data = G(truth) + noise * rng.standard_normal(G.output_dim)
    return domain, modes, G, prior, truth, data, noise


def exact_posterior(G, prior, data, noise, truth):
    """The exact Gaussian posterior: G(θ) = G(0) + J θ with J from K tangent solves."""
    zero = np.zeros(G.input_dim)
    _, jvp, _ = G.linearize(zero)
    J = np.column_stack([jvp(e) for e in np.eye(G.input_dim)])
    return LinearGaussianProblem(prior, LinearForwardMap(J, offset=G(zero)), data, noise, truth)


def main(argv=None):
    parser = example_parser(__doc__, "results/source_identification", seed=7)
    args, cfg, out = start(parser, argv, FULL, QUICK)
    t0 = time.perf_counter()
    domain, modes, G, prior, truth, data, noise = build(cfg, args.seed)
    exact = exact_posterior(G, prior, data, noise, truth)
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, data, noise))
    common = {"draws": cfg["draws"], "warmup": cfg["warmup"], "chains": cfg["chains"],
              "diagnostics": not args.quick}
    C = exact.cov_latent         # the Laplace preconditioner (the exact covariance here)
    mala = bayesinv.sample(posterior, "mala", seed=1, preconditioner=C,
                           init=np.zeros(G.input_dim), **common)
    delta = 0.1
    ula = bayesinv.sample(posterior, "ula", seed=2, step_size=delta, preconditioner=C,
                          init=np.zeros(G.input_dim), **common)
    ula_mean_xi, ula_cov_xi = exact.ula_stationary(delta, C)
    L = prior.factor
    report = {"config": cfg, "noise_std": noise, "exact": {
        "mean": exact.mean.tolist(), "sd": np.sqrt(np.diag(exact.cov)).tolist()}}
    sd_exact = np.sqrt(np.diag(exact.cov))
    for name, idata in (("MALA", mala), ("ULA", ula)):
        th = idata.posterior["theta"].values.reshape(-1, G.input_dim)
        report[name] = {
            "mean": th.mean(0).tolist(), "sd": th.std(0, ddof=1).tolist(),
            "max_mean_error_in_sds": float(np.max(np.abs(th.mean(0) - exact.mean) / sd_exact)),
            "sd_ratio_range": [float((th.std(0) / sd_exact).min()),
                               float((th.std(0) / sd_exact).max())],
            "divergences": int(idata.sample_stats["diverging"].values.sum())}
    report["ULA"]["stationary_sd_over_posterior_sd"] = (
        np.sqrt(np.diag(L @ ula_cov_xi @ L.T)) / sd_exact).tolist()
    report["ULA"]["stationary_mean_equals_posterior_mean"] = bool(
        np.allclose(prior.to_physical(ula_mean_xi), exact.mean))
    report["seconds"] = time.perf_counter() - t0

    # figure: the source fields and the posterior sds per mode
    fields = {"true source f": modes @ truth, "exact posterior mean": modes @ exact.mean,
              "MALA mean": modes @ np.array(report["MALA"]["mean"]),
              "ULA mean": modes @ np.array(report["ULA"]["mean"])}
    fig, axes = plt.subplots(1, 5, figsize=(19, 3.6))
    xy = domain.parameter_space.coordinates
    vmin = min(v.min() for v in fields.values())
    vmax = max(v.max() for v in fields.values())
    for ax, (title, values) in zip(axes[:4], fields.items(), strict=True):
        tpc = ax.tripcolor(xy[:, 0], xy[:, 1], values, shading="gouraud", vmin=vmin, vmax=vmax)
        ax.set_title(title)
        ax.set_aspect("equal")
    fig.colorbar(tpc, ax=axes[3])
    k = np.arange(G.input_dim)
    axes[4].plot(k, sd_exact, "k-o", label="exact")
    axes[4].plot(k, report["MALA"]["sd"], "s", label="MALA", mfc="none")
    axes[4].plot(k, report["ULA"]["sd"], "^", label=f"ULA (δ={delta})", mfc="none")
    axes[4].set_yscale("log")
    axes[4].set_xlabel("mode k")
    axes[4].set_title("posterior sd of θ_k")
    axes[4].legend()
    fig.tight_layout()
    fig.savefig(out / "source_identification.png", dpi=90)
    plt.close(fig)
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k in ("MALA", "ULA", "seconds")},
                     indent=1)[:1500])
    return report


if __name__ == "__main__":
    main()
