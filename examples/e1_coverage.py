"""E1, part 3: how often do the credible sets of the Schrödinger posterior cover the truth?

Over R data sets Y^{(r)} = u_{θ₀}(X_i) + σ ε^{(r)} (fixed design, fixed truth θ₀ of
:mod:`bayesinv.experiments.schrodinger_e1`, N = 600), the harness
:func:`bayesinv.coverage.run_coverage_study` runs Laplace-preconditioned ULA from
the MAP on each posterior and records whether the (1 − α) credible sets contain θ₀: the
equal-tailed and HDI intervals for ⟨θ, ψ⟩_{L²} and for the point value θ(0.3, 0.35), the
sup-norm band and the L² ball for the whole field. The Bernstein–von Mises theorem for
⟨θ, ψ⟩ (Nickl 2020) predicts coverage close to 1 − α for the functional; nothing guarantees it
for the field (the sets for the whole field are not confidence sets in general, and the
60-mode prior cannot represent θ₀ exactly). Replicates failing R-hat < 1.01 or bulk/tail ESS
≥ 400 on the quantities the sets are built from are flagged and excluded. Replicates run in
parallel on local processes (``concurrent.futures.ProcessPoolExecutor``); each worker builds
the FEM model once.

Writes ``coverage.nc`` (the xarray Dataset of the study), ``coverage.csv`` (the table),
``coverage.png`` (calibration curve; the z-scores (⟨θ₀, ψ⟩ − mean)/sd over the replicates
against N(0, 1); SBC rank histogram and ECDF-PIT of ⟨θ₀, ψ⟩) and ``summary.json``.

``--mode prior`` draws θ₀ from the prior in each replicate instead (simulation-based
calibration, where coverage is exactly 1 − α for the exact posterior). Run
``python examples/e1_coverage.py`` (R = 100: about 16 minutes with 2 workers on a 2-core
machine, ~19 s per replicate) or ``--quick``.

What it showed (R = 100, seed 7; 87 replicates passed the checks): at the fixed θ₀ the
intervals for ⟨θ, ψ⟩ *under-cover* — 18%, 45%, 60%, 71% at levels 50%, 80%, 90%, 95% — because
the posterior mean of ⟨θ, ψ⟩ sits below the truth by 1.37 posterior sds on average (z-scores of
the truth: mean +1.37, sd 0.83); θ(0.3, 0.35) likewise (24%…86%); the band and the L² ball
over-cover (95–100%). The same pipeline with θ₀ drawn from the prior (``--mode prior``, 88
valid) covers at the nominal levels (all binomial p ≥ 0.04, ranks uniform, z-scores mean +0.13,
sd 0.95): the sampler and the harness are calibrated, and the under-coverage at θ₀ is the
posterior's own — at N = 600 the prior's bias on ⟨θ, ψ⟩ is not yet negligible against its
posterior sd, the regime the Bernstein–von Mises theorem excludes asymptotically.
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
import scipy.stats

from bayesinv.coverage import (
    ConvergenceCriteria,
    InferenceSpec,
    LinearFunctional,
    PointValue,
    ProblemSpec,
    coverage_table,
    run_coverage_study,
)
from bayesinv.diagnostics.plots import plot_coverage, plot_sbc
from bayesinv.experiments.schrodinger_e1 import e1_model, psi, ula_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import example_parser, start

FULL = {"mesh": 32, "modes": 60, "N": 600, "replicates": 100, "chains": 4, "draws": 1000,
        "thin": 4, "warmup": 200, "criteria": {"rhat_max": 1.01, "ess_min": 400}}
QUICK = {"mesh": 8, "modes": 10, "N": 100, "replicates": 4, "chains": 2, "draws": 150,
         "thin": 1, "warmup": 20, "criteria": {"rhat_max": 1.5, "ess_min": 5}}
LEVELS = (0.5, 0.8, 0.9, 0.95)
FUNCTIONALS = (LinearFunctional("<theta,psi>", psi), PointValue("theta(0.3,0.35)", (0.3, 0.35)))


def main(argv=None):
    parser = example_parser(__doc__, "results/e1_coverage", seed=7,
                            quick_help="a tiny study (what tests run)")
    parser.add_argument("--replicates", type=int, help="R (default 100; 4 with --quick)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--mode", choices=("fixed", "prior"), default="fixed",
                        help="fixed truth (frequentist coverage) or truth ~ prior (SBC)")
    parser.add_argument("--num-observations", type=int, help="N (default 600; 100 with --quick)")
    args, cfg, out = start(parser, argv, FULL, QUICK)
    if args.replicates is not None:
        cfg["replicates"] = args.replicates
    if args.num_observations is not None:
        cfg["N"] = args.num_observations

    problem = ProblemSpec(e1_model, {"num_observations": cfg["N"], "mesh": cfg["mesh"],
                                     "num_modes": cfg["modes"], "design_seed": args.seed})
    inference = InferenceSpec("ula", ula_settings(draws=cfg["draws"], chains=cfg["chains"],
                                                  warmup=cfg["warmup"], thin=cfg["thin"],
                                                  diagnostics=False))  # the study flags
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        study = run_coverage_study(
            problem, inference, replicates=cfg["replicates"], seed=args.seed, truth=args.mode,
            levels=LEVELS, functionals=FUNCTIONALS, executor=pool,
            convergence=ConvergenceCriteria(**cfg["criteria"]), output=out / "coverage.nc")
    seconds = time.perf_counter() - t0
    table = coverage_table(study)
    table.to_csv(out / "coverage.csv", index=False)
    sel = study.sel(scalar="<theta,psi>")
    z = ((sel["truth_value"] - sel["posterior_mean"]) / sel["posterior_sd"]).values
    z = z[~study["flagged"].values]
    report = {
        "config": cfg, "mode": args.mode, "workers": args.workers, "seconds": seconds,
        "replicates_valid": int(study["num_valid"]),
        "replicates_flagged": int(study["num_flagged"]),
        "flags": [f for f in study["flags"].values if f],
        "seconds_per_replicate": float(np.nanmean(study["wall_time"].values)),
        "psi_z_mean": float(np.mean(z)) if z.size else None,
        "psi_z_sd": float(np.std(z, ddof=1)) if z.size > 1 else None,
        "mean_relative_l2_error": float(np.nanmean(study["relative_l2_error"].values)),
        "coverage": table.to_dict(orient="records"),
    }
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    if report["replicates_valid"]:
        make_figure(out / "coverage.png", study, z)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{report['replicates_valid']} valid, {report['replicates_flagged']} flagged; "
          f"{seconds:.0f} s with {args.workers} workers; wrote {out / 'coverage.png'}")
    return report


def make_figure(path, study, z):
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5), layout="constrained")
    plot_coverage(study, ax=axes[0, 0])
    ax = axes[0, 1]
    if z.size:
        ax.hist(z, bins=max(5, z.size // 6), density=True, alpha=0.5, color="C0",
                label=f"{z.size} replicates: mean {z.mean():+.2f}, sd {z.std(ddof=1):.2f}"
                if z.size > 1 else "1 replicate")
    grid = np.linspace(-4, 4, 200)
    ax.plot(grid, scipy.stats.norm.pdf(grid), "k", label="N(0, 1)")
    ax.set_xlabel("(⟨θ₀, ψ⟩ − posterior mean) / posterior sd")
    ax.set_title("Bernstein–von Mises over replicates: z-scores of the truth", fontsize=10)
    ax.legend(fontsize=8)
    plot_sbc(study, kind="equal_tailed", functional="<theta,psi>", axes=axes[1])
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
