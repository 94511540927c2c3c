"""Unknown noise, unknown prior scale, two data sets, model comparison by LOO, and coverage.

A linear inverse problem (a smoothing operator observed by two instruments with their own
designs and unknown noise levels σ₁, σ₂) with a series-type Gaussian prior of unknown
amplitude τ:

* model A: ``JointLikelihood([UnknownNoiseLikelihood(G₁, Y₁, …, name="sigma_1"),
  UnknownNoiseLikelihood(G₂, Y₂, …, name="sigma_2")])`` with ``ScaledPrior(prior, a, b)``,
  sampled by pCN with Gibbs blocks for σ₁, σ₂ and a Metropolis step for τ;
* model B: the same data with one *known* (and wrong: the average) σ for both and τ = 1;
* ``az.compare`` of the two by PSIS-LOO, and a posterior predictive check;
* a coverage study of σ, τ and θ₀ with the truth drawn from the hyperpriors (one data set from
  ``linear_gaussian``, σ² ~ InvGamma(3, 0.02), τ² ~ InvGamma(3, 2)), with Clopper–Pearson
  intervals.

Run ``python examples/hierarchical_models.py [--quick] [--output DIR]``; writes
``summary.json`` in DIR (default ``results/hierarchical_models``).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

import bayesinv
from bayesinv.arviz_io import az
from bayesinv.coverage import (
    Hyperparameter,
    InferenceSpec,
    NodalValue,
    ProblemSpec,
    coverage_table,
    run_coverage_study,
)
from bayesinv.diagnostics.predictive import add_posterior_predictive
from bayesinv.hierarchical import ScaledPrior
from bayesinv.likelihoods import JointLikelihood, UnknownNoiseLikelihood
from bayesinv.testing.hyper_reference import hierarchical_linear_model

DIM = 12


def smoothing_map(num_obs: int, width: float, seed: int) -> bayesinv.LinearForwardMap:
    """Observations of a smoothed 1-d signal at random points: Gaussian kernels on a grid."""
    grid = np.linspace(0, 1, DIM)
    x = np.sort(np.random.default_rng(seed).uniform(size=num_obs))
    K = np.exp(-0.5 * ((x[:, None] - grid[None, :]) / width) ** 2)
    return bayesinv.LinearForwardMap(K / K.sum(axis=1, keepdims=True))


def series_prior() -> bayesinv.GaussianPrior:
    return bayesinv.GaussianPrior(np.diag(np.arange(1, DIM + 1, dtype=float) ** -1.0))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default="results/hierarchical_models")
    parser.add_argument("--draws", type=int, default=None, help="draws per chain")
    parser.add_argument("--replicates", type=int, default=None, help="coverage replicates")
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    draws, reps = (600, 12) if args.quick else (3000, 100)
    draws, reps = args.draws or draws, args.replicates or reps

    rng = np.random.default_rng(2026)
    prior = series_prior()
    tau0, sigmas = 1.5, (0.05, 0.2)
    theta0 = tau0 * prior.sample(rng)
    maps = [smoothing_map(60, 0.05, 2), smoothing_map(30, 0.15, 3)]
    data = [G(theta0) + s * rng.standard_normal(G.output_dim) for G, s in zip(maps, sigmas,
                                                                             strict=True)]
    model_a = bayesinv.Posterior(
        ScaledPrior(prior, 2.0, 2.0),
        JointLikelihood([UnknownNoiseLikelihood(G, y, 2.0, 0.01, name=f"sigma_{i + 1}")
                         for i, (G, y) in enumerate(zip(maps, data, strict=True))]))
    avg = float(np.mean(sigmas))
    model_b = bayesinv.Posterior(prior, JointLikelihood(
        [bayesinv.GaussianLikelihood(G, y, avg) for G, y in zip(maps, data, strict=True)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = {name: bayesinv.sample(post, "pcn", draws=draws, warmup=draws // 2, chains=4,
                                      seed=1, progress=False)
                for name, post in (("A: unknown sigma_1, sigma_2, tau", model_a),
                                   ("B: known sigma, tau = 1", model_b))}
        idata_a = runs["A: unknown sigma_1, sigma_2, tau"]
        add_posterior_predictive(idata_a, model_a, seed=2, thin=10)
        compare = az.compare(runs)
    post = idata_a.posterior
    report = {
        "truth": {"sigma_1": sigmas[0], "sigma_2": sigmas[1], "tau": tau0},
        "posterior": {v: {"mean": float(post[v].mean()), "sd": float(post[v].std()),
                          "q05": float(post[v].quantile(0.05)),
                          "q95": float(post[v].quantile(0.95))}
                      for v in ("sigma_1", "sigma_2", "tau")},
        "forward_solves": int(idata_a.attrs["num_forward_solves"]),
        "loo": {name: {"elpd_loo": float(row["elpd_loo"]), "se": float(row["se"]),
                       "rank": int(row["rank"])} for name, row in compare.iterrows()},
    }
    ds = run_coverage_study(
        ProblemSpec(hierarchical_linear_model,
                    {"noise_hyper": (3.0, 0.02), "scale_hyper": (3.0, 2.0), "dim": DIM,
                     "num_observations": 40, "seed": 4}),
        InferenceSpec("pcn", {"draws": draws, "warmup": draws // 2, "chains": 4}),
        replicates=reps, seed=3, levels=(0.5, 0.9),
        functionals=[Hyperparameter("sigma"), Hyperparameter("tau"), NodalValue("theta_0", 0)],
        kinds=("equal_tailed",), convergence=None)
    table = coverage_table(ds)
    report["coverage"] = json.loads(table.to_json(orient="records"))
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("truth", "posterior", "loo")}, indent=1))
    print(table.to_string())
    return report


if __name__ == "__main__":
    main()
