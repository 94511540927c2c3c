"""Neural-network prior vs Gaussian series prior for the Schrödinger inverse problem.

Same data as the flagship (``schrodinger_flagship.py``): ½Δu − e^θ u = 0 on the unit square,
u = 1 on the boundary, N = 400 noisy point values of u, σ = 0.0025 (signal-to-noise ≈ 60),
truth θ₀ with three bumps. Two priors on θ:

* **GP (series)**: θ = s Σ_{k≤60} λ_k^{−α/2} ξ_k e_k on the Dirichlet–Laplacian eigenbasis
  (α = 2, s = 10), as in the flagship;
* **random neural network**: θ(x) = f_W(x), a tanh network of depth 2 and width 16 with
  whitened Gaussian weights (σ_w² = 2, σ_b² = 0.1, inputs (x − c)/ℓ with ℓ = 0.2; 337 weights),
  :class:`bayesinv.priors.NeuralFieldPrior`.

The script

1. plots draws of both priors (one call each, ``plot_prior_draws``);
2. computes MAP estimates (the NN one from a few prior draws, keeping the best);
3. samples both posteriors with pCN (same β, same number of steps: a like-for-like ESS per
   second), and the series posterior also with Laplace-preconditioned ULA (the flagship's
   sampler);
4. tries Laplace-preconditioned ULA on the NN posterior too, and reports why it diverges: the
   Gauss–Newton curvature in whitened coordinates, preconditioned by its value at the MAP, is
   1 at the MAP but thousands a small distance away — the data-informed directions of weight
   space rotate as the weights move, so no constant preconditioner fits;
5. reports posterior means, pointwise sds, ArviZ summaries of functionals (⟨θ, ψ⟩, point
   values, ‖θ‖), convergence verdicts and ESS per second;
6. runs a small frequentist coverage study with the NN prior: over repeated data sets (new
   noise, same truth and design), how often the 90% equal-tailed credible interval of ⟨θ, ψ⟩
   contains ⟨θ₀, ψ⟩. It is a plain replicate loop (see ``coverage_study``); the coverage
   harness (``bayesinv.diagnostics`` coverage studies) will replace it.

What it shows (one full run, 2 cores under heavy load from other jobs, 30 minutes): the MAP
estimates have relative L² errors 0.25 (series) and 0.44 (NN; the network's ridge-like draws
fit the three round bumps less well). Laplace-preconditioned ULA converges on the series
posterior (R-hat ≤ 1.001, bulk ESS ≥ 1600, ≈ 15 ESS/s) but diverges within 20 steps on the NN
posterior: the preconditioned curvature is 1 at the MAP, 134 at ξ_MAP + 0.01η and 1.3·10³ at
ξ_MAP + 0.05η. pCN (β = 0.003, 4 × 20 000 steps) runs on both posteriors but converges on
neither at this signal-to-noise ratio (R-hat 1.5–1.9, ESS ≈ 0.02/s for both priors: pCN's
trouble here is the informative data, not the prior). The NN posterior mean (pCN) has relative
L² error 0.41. Coverage of the NN interval for ⟨θ, ψ⟩: 6/10 replicates, with R-hat up to 1.5
per replicate: short pCN chains give overconfident intervals. Adaptive MALA and
pCN-Langevin (dual averaging to acceptance 0.57) do no better: their adapted steps are 1e-4
at signal-to-noise 15 and 5e-6 at 60, and chains started at the MAP barely move in 3 000
steps. A geometry-aware sampler (position-dependent preconditioning, e.g. Riemannian MALA or
HMC) is what NN-weight posteriors at these signal-to-noise ratios need.

Run ``python examples/neural_prior_schrodinger.py`` (15–30 minutes on 2 cores; most of it
pCN) or with ``--quick`` for the 10-second smoke version the tests run; ``--replicates 0``
skips the coverage study.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
from threadpoolctl import threadpool_limits

import bayesinv
from bayesinv import fem
from bayesinv.diagnostics import dataset_from_draws, rhat, summary
from bayesinv.errors import SamplerDivergenceError
from bayesinv.plotting import plot_field, plot_prior_draws
from bayesinv.priors.neural import NeuralFieldPrior
from bayesinv.samplers.tuning import gauss_newton_hessian, sqrt_inverse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import example_parser, start
from schrodinger_flagship import functionals, psi, relative_l2_error, true_theta

FULL = {"mesh": 32, "N": 400, "modes": 60, "width": 16, "depth": 2, "map_starts": 3,
        "map_iter": 2000, "ula_draws": 5000, "ula_thin": 2, "pcn_draws": 5000, "pcn_thin": 4,
        "warmup": 500, "chains": 4, "beta": 0.003, "ula_nn_steps": 300,
        "replicates": 10, "rep_draws": 2500, "rep_thin": 4, "rep_chains": 2}
QUICK = {"mesh": 12, "N": 100, "modes": 15, "width": 6, "depth": 2, "map_starts": 2,
         "map_iter": 300, "ula_draws": 200, "ula_thin": 1, "pcn_draws": 200, "pcn_thin": 1,
         "warmup": 50, "chains": 2, "beta": 0.01, "ula_nn_steps": 100,
         "replicates": 2, "rep_draws": 100, "rep_thin": 1, "rep_chains": 2}
SIGMA = 0.0025
CENTRES = [[0.3, 0.35], [0.68, 0.62]]
NETCDF_NAMES = {"GP (series), pCN": "series_pcn.nc", "neural network, pCN": "neural_pcn.nc",
                "GP (series), ULA": "series_ula.nc"}


def neural_prior(domain, cfg):
    return NeuralFieldPrior.on_domain(domain, width=cfg["width"], depth=cfg["depth"],
                                      activation="tanh", weight_variance=2.0,
                                      bias_variance=0.1, length_scale=0.2)


def best_map(posterior, prior, cfg, seed):
    """L-BFGS from ``map_starts`` prior draws (ξ = 0 is a saddle of a tanh network: every
    hidden unit is 0 and no weight but the output bias has a gradient); keep the best."""
    starts = np.random.default_rng(seed).standard_normal((cfg["map_starts"], prior.latent_dim))
    # a fixed budget per start: starts that stop at maxiter are expected (find_map would warn
    # for each); the best start is kept and said when it did not converge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayesinv.BayesinvWarning)
        results = [bayesinv.find_map(posterior, x0=x0, maxiter=cfg["map_iter"])
                   for x0 in starts]
    best = max(results, key=lambda r: r.logdensity)
    if not best.success:
        print(f"best of {len(results)} MAP starts stopped after {best.iterations} L-BFGS "
              f"iterations ({best.message})")
    return best


def curvature_away_from_map(posterior, xi_map, sqrt_c, scales, seed):
    """λ_max of Rᵀ H(ξ) R (R Rᵀ = H(ξ_MAP)⁻¹) at ξ_MAP + s η: 1 at the MAP; for a Gaussian
    posterior it would stay 1 everywhere. ULA with step δ is unstable where it exceeds 2/δ."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in scales:
        H = gauss_newton_hessian(posterior, xi_map + s * rng.standard_normal(xi_map.shape))
        out[f"{s:g}"] = float(np.linalg.eigvalsh(sqrt_c.T @ H @ sqrt_c)[-1])
    return out


def analyse(name, idata, theta0, space, truths):
    """Posterior mean/sd, an ArviZ summary of functionals, convergence and ESS per second."""
    theta = idata.posterior["theta"].values
    funcs = functionals(theta, space, CENTRES)
    table = summary(dataset_from_draws(funcs), kind="all", round_to=4)
    table.insert(0, "truth", [truths[k] for k in table.index])
    seconds = idata.attrs["sampling_time"]
    max_rhat, min_ess = float(table["r_hat"].max()), float(table["ess_bulk"].min())
    converged = max_rhat < 1.01 and min_ess > 400
    verdict = ("converged" if converged else
               "NOT converged: these functionals' intervals are not yet trustworthy")
    return {
        "mean": theta.mean(axis=(0, 1)), "sd": theta.std(axis=(0, 1)),
        "psi_draws": funcs["<theta,psi>"].ravel(),
        "table": f"== {name}: {idata.attrs['chains']} chains x {idata.attrs['draws']} draws "
                 f"(thin {idata.attrs['thin']}) — {verdict} (max R-hat {max_rhat:.3f}, "
                 f"min bulk ESS {min_ess:.0f}) ==\n{table.to_string()}",
        "report": {
            "converged": converged, "max_rhat_functionals": max_rhat,
            "min_ess_functionals": min_ess,
            "min_ess_per_second": min_ess / seconds, "seconds": seconds,
            "relative_l2_error_posterior_mean": relative_l2_error(theta.mean(axis=(0, 1)),
                                                                  theta0, space),
            "mean_acceptance_rate": float(idata.sample_stats["acceptance_rate"].mean()),
            "divergences": int(idata.sample_stats["diverging"].sum()),
            "forward_solves": int(idata.attrs["num_forward_solves"]),
            "adjoint_solves": int(idata.attrs["num_adjoint_solves"]),
        },
    }


def coverage_study(forward, prior, theta0, space, cfg, seed_seq, level=0.9):
    """Hit/miss of the equal-tailed ``level`` credible interval of ⟨θ, ψ⟩ over repeated data
    sets Y^(r) = G(θ₀) + σ ε^(r) (same design), with the NN prior and pCN from each
    replicate's MAP.

    Porting to the coverage harness: the replicate body (simulate → posterior → MAP → sample)
    is the harness's "fit one replicate" callable, ⟨θ, ψ⟩ with truth ⟨θ₀, ψ⟩ its functional,
    and the harness adds the Binomial test, parallel replicates and checkpoints.
    """
    psi_h = space.mass_matrix @ space.interpolate(psi)
    truth = float(theta0 @ psi_h)
    seeds = seed_seq.spawn(cfg["replicates"])
    rows = []
    for r, rep_seed in enumerate(seeds):
        noise_seed, map_seed, chain_seed = rep_seed.spawn(3)
        data = bayesinv.simulate(forward, theta0, SIGMA, seed=noise_seed)
        posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, SIGMA))
        start = best_map(posterior, prior, cfg, map_seed).position
        idata = bayesinv.sample(posterior, "pcn", beta=cfg["beta"], init=start,
                                draws=cfg["rep_draws"], thin=cfg["rep_thin"],
                                warmup=cfg["warmup"], chains=cfg["rep_chains"],
                                seed=chain_seed, store_theta=False, progress=False,
                                diagnostics=False)
        xi = idata.posterior["xi"].values
        values = prior.to_physical(xi) @ psi_h
        lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        max_rhat = float(rhat(dataset_from_draws({"f": values}))["f"])
        rows.append({"replicate": r, "lower": float(lo), "upper": float(hi),
                     "hit": bool(lo <= truth <= hi), "rhat": max_rhat})
    hits = sum(row["hit"] for row in rows)
    ci = scipy.stats.binomtest(hits, len(rows), level).proportion_ci(0.95)
    return {"level": level, "truth": truth, "hits": hits, "replicates": len(rows),
            "coverage": hits / len(rows), "coverage_ci95": [ci.low, ci.high],
            "binomial_test_pvalue": scipy.stats.binomtest(hits, len(rows), level).pvalue,
            "rows": rows}


def main(argv=None):
    parser = example_parser(__doc__, "results/neural_prior", seed=2024)
    parser.add_argument("--replicates", type=int, default=None,
                        help="coverage replicates (0 skips the coverage study)")
    args, cfg, out = start(parser, argv, FULL, QUICK)
    if args.replicates is not None:
        cfg["replicates"] = args.replicates
    t_start = time.perf_counter()
    # One BLAS thread, as in bayesinv.sample: the per-step products are small, and threads
    # only add wake-up latency (this also covers the MAP searches).
    with threadpool_limits(limits=1, user_api="blas"):
        report, results, figures = run(cfg, args.seed, out)
    report["total_seconds"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    print(results)
    print(f"\nwrote {', '.join(str(out / f) for f in figures)}, {out / 'summary.txt'} "
          f"({report['total_seconds']:.0f} s)")
    return report


def run(cfg, seed, out):
    seeds = np.random.SeedSequence(seed).spawn(4)  # flagship order: design, noise, ...
    domain = fem.unit_square(cfg["mesh"])
    space = domain.parameter_space
    design = fem.uniform_design(domain, cfg["N"], seed=seeds[0])
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0, link="exp")
    theta0 = space.interpolate(true_theta)
    snr = bayesinv.signal_to_noise(forward(theta0), SIGMA, reference=1.0)
    data = bayesinv.simulate(forward, theta0, SIGMA, seed=seeds[1])
    like = bayesinv.GaussianLikelihood(forward, data, SIGMA)
    sampler_seeds = np.random.SeedSequence([seed, 7]).spawn(6)

    priors = {
        "GP (series)": bayesinv.SeriesPrior.dirichlet_laplacian(
            domain, alpha=2.0, num_modes=cfg["modes"], scale=10.0),
        "neural network": neural_prior(domain, cfg),
    }
    posteriors = {name: bayesinv.Posterior(p, like) for name, p in priors.items()}
    maps = {"GP (series)": bayesinv.find_map(posteriors["GP (series)"]),
            "neural network": best_map(posteriors["neural network"],
                                       priors["neural network"], cfg, sampler_seeds[0])}

    # diagnostics=False everywhere: convergence is judged on θ-functionals (``analyse``), not
    # on ξ — network weights are not identifiable (hidden units can be permuted and, for odd
    # activations, sign-flipped), so R-hat over weights says little about θ.
    pcn = {"draws": cfg["pcn_draws"], "thin": cfg["pcn_thin"], "warmup": cfg["warmup"],
           "chains": cfg["chains"], "beta": cfg["beta"], "progress": False,
           "diagnostics": False}
    runs = {}
    for i, name in enumerate(priors):
        runs[f"{name}, pCN"] = bayesinv.sample(posteriors[name], "pcn",
                                               init=maps[name].position,
                                               seed=sampler_seeds[1 + i], **pcn)
    runs["GP (series), ULA"] = bayesinv.sample(
        posteriors["GP (series)"], "ula", step_size=0.1, preconditioner="laplace",
        init=maps["GP (series)"], draws=cfg["ula_draws"], thin=cfg["ula_thin"],
        warmup=cfg["warmup"], chains=cfg["chains"], seed=sampler_seeds[3], progress=False,
        diagnostics=False)

    # Laplace-preconditioned ULA on the NN posterior: expected to diverge (see docstring).
    nn_post, nn_map = posteriors["neural network"], maps["neural network"]
    sqrt_c = sqrt_inverse(gauss_newton_hessian(nn_post, nn_map.position))
    ula_nn = {"step_size": 0.1, "steps": cfg["ula_nn_steps"],
              "preconditioned_curvature_at_map_plus_s_eta": curvature_away_from_map(
                  nn_post, nn_map.position, sqrt_c, (0.0, 0.01, 0.05, 0.2), sampler_seeds[4])}
    try:
        idata = bayesinv.sample(nn_post, "ula", step_size=0.1, preconditioner=sqrt_c @ sqrt_c.T,
                                init=nn_map.position, draws=cfg["ula_nn_steps"], chains=1,
                                seed=sampler_seeds[5], progress=False, diagnostics=False)
        ula_nn["outcome"] = (f"ran {cfg['ula_nn_steps']} steps with "
                             f"{int(idata.sample_stats['diverging'].sum())} divergences")
    except SamplerDivergenceError as exc:
        ula_nn["outcome"] = f"diverged: {exc}"

    truths = {k: float(v) for k, v in functionals(theta0, space, CENTRES).items()}
    analysed = {name: analyse(name, idata, theta0, space, truths)
                for name, idata in runs.items()}
    for name, idata in runs.items():
        idata.to_netcdf(out / NETCDF_NAMES[name])
    coverage = (coverage_study(forward, priors["neural network"], theta0, space, cfg,
                               seeds[3]) if cfg["replicates"] > 0 else None)

    report = {
        "mesh": f"{cfg['mesh']}x{cfg['mesh']}", "N": cfg["N"], "sigma": SIGMA,
        "signal_to_noise": snr,
        "priors": {"GP (series)": {"alpha": 2.0, "scale": 10.0, "modes": cfg["modes"]},
                   "neural network": {"activation": "tanh", "width": cfg["width"],
                                      "depth": cfg["depth"], "weight_variance": 2.0,
                                      "bias_variance": 0.1, "length_scale": 0.2,
                                      "latent_dim": priors["neural network"].latent_dim}},
        "map_relative_l2_error": {name: relative_l2_error(m.theta, theta0, space)
                                  for name, m in maps.items()},
        "samplers": {name: a["report"] for name, a in analysed.items()},
        "ula_on_neural_network_posterior": ula_nn,
        "coverage_neural_network_prior": coverage,
        "truth_functionals": truths,
    }
    lines = [
        f"Schrödinger inversion, {report['mesh']} mesh, N = {cfg['N']}, σ = {SIGMA} "
        f"(signal-to-noise {snr:.1f}); GP series prior (α = 2, {cfg['modes']} modes) vs a "
        f"random tanh network prior (depth {cfg['depth']}, width {cfg['width']}, "
        f"{priors['neural network'].latent_dim} weights)",
        "relative L² error of the MAP: " + ", ".join(
            f"{k} {v:.3f}" for k, v in report["map_relative_l2_error"].items()),
        "relative L² error of the posterior mean: " + ", ".join(
            f"{k} {a['report']['relative_l2_error_posterior_mean']:.3f}"
            for k, a in analysed.items()),
        *[a["table"] for a in analysed.values()],
        "min bulk ESS of the functionals per second: " + ", ".join(
            f"{k} {a['report']['min_ess_per_second']:.3g}" for k, a in analysed.items()),
        f"Laplace-preconditioned ULA (δ = 0.1) on the NN posterior: {ula_nn['outcome']}\n"
        "  λ_max of the MAP-preconditioned Gauss–Newton Hessian at ξ_MAP + s·η: " + ", ".join(
            f"s = {s}: {v:.3g}" for s, v in
            ula_nn["preconditioned_curvature_at_map_plus_s_eta"].items()),
    ]
    if coverage:
        lines.append(
            f"coverage of the {coverage['level']:.0%} credible interval of ⟨θ, ψ⟩ (NN prior, "
            f"pCN): {coverage['hits']}/{coverage['replicates']} = {coverage['coverage']:.2f} "
            f"(95% CI {coverage['coverage_ci95'][0]:.2f}–{coverage['coverage_ci95'][1]:.2f}; "
            f"max R-hat over replicates "
            f"{max(r['rhat'] for r in coverage['rows']):.2f})")
    text = "\n\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")

    figures = ["posteriors.png", "prior_draws.png"]
    make_posterior_figure(out / figures[0], space, design, theta0, analysed, truths)
    make_prior_figure(out / figures[1], priors, space)
    return report, text, figures


def make_prior_figure(path, priors, space):
    fig, axes = plt.subplots(len(priors), 4, figsize=(13, 3.1 * len(priors)),
                             layout="constrained")
    for row, (name, prior) in zip(axes, priors.items(), strict=True):
        plot_prior_draws(prior, space, 4, seed=1, axes=row)
        row[0].set_ylabel(name)
    fig.suptitle("prior draws (one call of plot_prior_draws per row)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def make_posterior_figure(path, space, design, theta0, analysed, truths):
    names = ["GP (series), ULA", "GP (series), pCN", "neural network, pCN"]
    lim = np.abs(theta0).max()
    sd_max = max(float(analysed[n]["sd"].max()) for n in names)
    fig = plt.figure(figsize=(16, 8), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    kw = {"vmin": -lim, "vmax": lim, "cmap": "RdBu_r"}
    plot_field(space, theta0, fig.add_subplot(grid[0, 0]), title="truth θ₀ (+ design)",
               points=design, **kw)
    for j, name in enumerate(names):
        plot_field(space, analysed[name]["mean"], fig.add_subplot(grid[0, j + 1]),
                   title=f"posterior mean: {name}", **kw)
        plot_field(space, analysed[name]["sd"], fig.add_subplot(grid[1, j + 1]),
                   title=f"posterior sd: {name}", cmap="magma", vmin=0, vmax=sd_max)
    ax = fig.add_subplot(grid[1, 0])
    for j, name in enumerate(names):
        ax.hist(analysed[name]["psi_draws"], bins=40, density=True, alpha=0.5, color=f"C{j}",
                label=name)
    ax.axvline(truths["<theta,psi>"], color="k", lw=1.5, label="truth")
    ax.set_xlabel("⟨θ, ψ⟩")
    ax.set_title("posterior of ⟨θ, ψ⟩")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
