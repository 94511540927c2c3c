"""E1, part 1: posterior means of the Schrödinger problem for N = 200, 400, 800 (ULA).

Experiment E1 of the design guide (see :mod:`bayesinv.experiments.schrodinger_e1`):

    Y_i = u_θ(X_i) + σ ε_i,    ½Δu_θ − e^θ u_θ = 0 in (0,1)²,   u_θ = 1 on ∂O,

σ = 0.0025 (signal-to-noise ≈ 60), a Dirichlet–Laplacian series prior (α = 2, 60 modes) and
Laplace-preconditioned ULA (δ = 0.1) from the MAP. The designs and noise are nested: the data
for N = 200 are the first 200 of the N = 400 data, and so on, so that the errors differ by the
information added, not by a fresh draw of the noise.

1. One data set per N, 10⁵ ULA iterations per N in the full run (4 chains × 25 000 steps,
   every 25th kept): the posterior mean and pointwise sd fields.
2. The error of one data set fluctuates by about as much as it falls when N doubles (the
   contraction rate here is slow, ≈ N^(−0.2)), so the trend is measured over R data sets per N
   with the coverage harness (:func:`~bayesinv.coverage.run_coverage_study`,
   fixed truth, nested data, 10⁴ ULA iterations per posterior, replicates on worker
   processes): the relative L² error of the posterior mean, mean ± sd over replicates.

Writes ``posterior_means.png`` (truth, posterior means, pointwise sds, errors against N) and
``summary.json`` (per N: relative L² errors of the posterior mean and the MAP, the 95%
interval of ⟨θ, ψ⟩ with the true value, whether the 95% L² ball contains θ₀, R-hat/ESS of
⟨θ, ψ⟩, sampling time; the replicate errors). Run ``python examples/e1_posterior_means.py``
(about 8 minutes on a 2-core machine: ≈ 100 s per 10⁵ ULA iterations at 32²) or ``--quick``
(the small version the tests run).

What it showed (seed 2024): for the data set shown, relative L² errors 0.239, 0.225, 0.224
(MAP 0.227, 0.223, 0.222) for N = 200, 400, 800 — this data set is a lucky one at N = 200;
over 8 data sets per N the error of the posterior mean falls, 0.308 ± 0.033, 0.269 ± 0.032,
0.220 ± 0.010 (about N^(−0.24)). R-hat of ⟨θ, ψ⟩ ≤ 1.001 with bulk ESS ≈ 2800–3000 in every
10⁵-iteration run, no divergences; θ₀ lies in the 95% L² ball at every N.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import bayesinv
from bayesinv.coverage import InferenceSpec, ProblemSpec, run_coverage_study
from bayesinv.diagnostics import dataset_from_draws, ess, rhat
from bayesinv.diagnostics.credible import functional_interval, l2_ball, l2_norm
from bayesinv.experiments.schrodinger_e1 import e1_model, psi, ula_settings
from bayesinv.plotting import plot_field
from bayesinv.seeds import child_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import example_parser, start

FULL = {"mesh": 32, "modes": 60, "sizes": (200, 400, 800), "chains": 4, "steps": 25_000,
        "thin": 25, "warmup": 500, "replicates": 8, "replicate_steps": 2500,
        "replicate_thin": 5}
QUICK = {"mesh": 12, "modes": 15, "sizes": (200, 400, 800), "chains": 2, "steps": 300,
         "thin": 1, "warmup": 50, "replicates": 2, "replicate_steps": 100,
         "replicate_thin": 1}


def main(argv=None):
    parser = example_parser(__doc__, "results/e1_means", seed=2024)
    parser.add_argument("--workers", type=int, default=2, help="processes for the replicates")
    args, cfg, out = start(parser, argv, FULL, QUICK)
    t_start = time.perf_counter()
    noise_seed, sampler_seed = np.random.SeedSequence(args.seed).spawn(2)

    report = {"config": cfg, "runs": {}}
    means, sds = {}, {}
    for N in cfg["sizes"]:
        model = e1_model(num_observations=N, mesh=cfg["mesh"], num_modes=cfg["modes"],
                         design_seed=args.seed)
        space, theta0 = model.space, model.truth
        # The same noise stream for every N: the first N noise values are shared (nested data).
        data = bayesinv.simulate(model.forward, theta0, model.noise_std,
                                 seed=np.random.SeedSequence(noise_seed.entropy,
                                                             spawn_key=noise_seed.spawn_key))
        posterior = bayesinv.Posterior(model.prior, bayesinv.GaussianLikelihood(
            model.forward, data, model.noise_std))
        map_est = bayesinv.find_map(posterior)
        settings = ula_settings(draws=cfg["steps"] // cfg["thin"], chains=cfg["chains"],
                                warmup=cfg["warmup"], thin=cfg["thin"],
                                diagnostics=not args.quick)  # quick chains are too short
        settings["init"] = map_est  # this MAP, not a second search (with "laplace")
        idata = bayesinv.sample(posterior, "ula", seed=child_seed(sampler_seed, N), **settings)
        theta = idata.posterior["theta"].values
        mean = theta.mean(axis=(0, 1))
        means[N], sds[N] = mean, theta.std(axis=(0, 1))
        norm0 = float(l2_norm(theta0, space.mass_matrix))
        interval = functional_interval(idata, psi, 0.95, space=space)
        f_true = float(theta0 @ (space.mass_matrix @ space.interpolate(psi)))
        f_draws = dataset_from_draws({"f": theta @ (space.mass_matrix @ space.interpolate(psi))})
        ball = l2_ball(idata, 0.95, space=space)
        report["runs"][N] = {
            "signal_to_noise": bayesinv.signal_to_noise(model.forward(theta0),
                                                        model.noise_std, reference=1.0),
            "relative_l2_error_posterior_mean":
                float(l2_norm(mean - theta0, space.mass_matrix)) / norm0,
            "relative_l2_error_map":
                float(l2_norm(map_est.theta - theta0, space.mass_matrix)) / norm0,
            "psi_interval_95": [interval.lower, interval.upper],
            "psi_true": f_true, "psi_interval_contains_truth": interval.contains(f_true),
            "l2_ball_95_radius": ball.radius, "l2_distance_truth_to_mean": float(
                ball.distance(theta0)), "l2_ball_contains_truth": ball.contains(theta0),
            "psi_rhat": float(rhat(f_draws)["f"]), "psi_ess_bulk": float(ess(f_draws)["f"]),
            "divergences": int(idata.sample_stats["diverging"].sum()),
            "ula_iterations": cfg["chains"] * (cfg["warmup"] + cfg["steps"]),
            "sampling_seconds": idata.attrs["sampling_time"],
        }
        run = report["runs"][N]
        print(f"N = {N}: relative L² error {run['relative_l2_error_posterior_mean']:.3f} "
              f"(MAP {run['relative_l2_error_map']:.3f}), {run['sampling_seconds']:.0f} s",
              flush=True)
    errors = [report["runs"][N]["relative_l2_error_posterior_mean"] for N in cfg["sizes"]]
    report["single_data_set_errors_decrease_in_N"] = bool(np.all(np.diff(errors) < 0))
    replicate_errors = replicate_study(cfg, args)
    report["replicates"] = {N: {"relative_l2_errors": e, "mean": float(np.mean(e)),
                                "sd": float(np.std(e, ddof=1)) if len(e) > 1 else None}
                            for N, e in replicate_errors.items()}
    means_over_replicates = [np.mean(replicate_errors[N]) for N in cfg["sizes"]]
    report["mean_errors_decrease_in_N"] = bool(np.all(np.diff(means_over_replicates) < 0))
    for N in cfg["sizes"]:
        r = report["replicates"][N]
        print(f"N = {N}: over {len(replicate_errors[N])} data sets, relative L² error "
              f"{r['mean']:.3f}" + (f" ± {r['sd']:.3f}" if r["sd"] is not None else ""))
    report["total_seconds"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    map_errors = [report["runs"][N]["relative_l2_error_map"] for N in cfg["sizes"]]
    make_figure(out / "posterior_means.png", model.space, model.truth, means, sds, cfg["sizes"],
                errors, map_errors, replicate_errors)
    print(f"wrote {out / 'posterior_means.png'} and {out / 'summary.json'} "
          f"({report['total_seconds']:.0f} s)")
    return report


def replicate_study(cfg, args) -> dict:
    """Relative L² errors of the posterior mean over R data sets per N (fixed truth and
    design; replicate r has the same noise stream for every N, so data are nested in N)."""
    settings = ula_settings(draws=cfg["replicate_steps"] // cfg["replicate_thin"],
                            chains=4 if not args.quick else 2, warmup=cfg["warmup"],
                            thin=cfg["replicate_thin"], diagnostics=False)
    errors = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for N in cfg["sizes"]:
            problem = ProblemSpec(e1_model, {"num_observations": N, "mesh": cfg["mesh"],
                                             "num_modes": cfg["modes"],
                                             "design_seed": args.seed})
            study = run_coverage_study(
                problem, InferenceSpec("ula", settings), replicates=cfg["replicates"],
                seed=args.seed, truth="fixed", levels=(0.95,), kinds=("l2_ball",),
                convergence=None, executor=pool)
            errors[N] = [float(e) for e in study["relative_l2_error"].values]
    return errors


def make_figure(path, space, theta0, means, sds, sizes, errors, map_errors, replicate_errors):
    fig = plt.figure(figsize=(16, 7.5), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    lim = np.abs(theta0).max()
    kw = {"vmin": -lim, "vmax": lim, "cmap": "RdBu_r"}
    plot_field(space, theta0, fig.add_subplot(grid[0, 0]), title="truth θ₀", **kw)
    sd_max = max(s.max() for s in sds.values())
    for j, N in enumerate(sizes):
        plot_field(space, means[N], fig.add_subplot(grid[0, j + 1]),
                   title=f"posterior mean, N = {N}\n(relative L² error {errors[j]:.3f})", **kw)
        plot_field(space, sds[N], fig.add_subplot(grid[1, j + 1]), cmap="magma", vmin=0,
                   vmax=sd_max, title=f"pointwise posterior sd, N = {N}")
    ax = fig.add_subplot(grid[1, 0])
    rep = [np.asarray(replicate_errors[N]) for N in sizes]
    for N, e in zip(sizes, rep, strict=True):
        ax.plot(np.full(e.size, N * 1.04), e, ".", color="C1", alpha=0.5)
    ax.errorbar(np.array(sizes) * 1.04, [e.mean() for e in rep],
                yerr=[e.std(ddof=1) if e.size > 1 else 0.0 for e in rep], fmt="D-", color="C1",
                capsize=3, label=f"posterior mean, {rep[0].size} data sets (mean ± sd)")
    ax.semilogx(sizes, errors, "o-", color="C0", label="posterior mean, the data set shown")
    ax.semilogx(sizes, map_errors, "s--", color="0.5", label="MAP, the data set shown")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("N (log scale)")
    ax.set_ylabel("relative L² error")
    ax.set_title("‖θ̄_N − θ₀‖ / ‖θ₀‖ in L²(O)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
