"""Coverage of the hyperparameters σ and τ: exact posterior intervals (quadrature) cover a
truth drawn from the hyperprior at the nominal rate, and the coverage harness runs with
unknown σ and τ (Gibbs blocks around pCN) and scores them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bayesinv.coverage import (
    CoverageModel,
    Hyperparameter,
    InferenceSpec,
    NodalValue,
    ProblemSpec,
    run_coverage_study,
)
from bayesinv.errors import InvalidArgumentError
from bayesinv.testing import linear_gaussian
from bayesinv.testing.hyper_reference import hyper_posterior

NOISE, SCALE = (3.0, 0.5), (3.0, 2.0)
LEVELS = (0.5, 0.9)


def hierarchical_model(**kwargs) -> CoverageModel:
    """A linear–Gaussian problem with σ² ~ InvGamma(3, 0.5) and τ² ~ InvGamma(3, 2)."""
    p = linear_gaussian(**kwargs)
    return CoverageModel(p.prior, p.forward, p.noise_std, truth=p.truth, noise_hyper=NOISE,
                         scale_hyper=SCALE)


PROBLEM = ProblemSpec(hierarchical_model, {"dim": 4, "num_observations": 12, "seed": 2})


@pytest.mark.statistical(alpha=1e-3)
@pytest.mark.parametrize("name", ["sigma", "tau"])
def test_exact_posterior_intervals_of_the_hyperparameter_cover_nominally(name, rng):
    """R = 300 replicates of (h₀ from its hyperprior, θ₀ from the prior, data): the exact
    equal-tailed intervals of h at levels 0.5 and 0.9 cover h₀ Binomial(R, level) times;
    two-sided binomial tests, Bonferroni over the 2 levels, family-wise false-failure
    probability 1e-3."""
    p = linear_gaussian(dim=4, num_observations=12, seed=2)
    B = p.forward.matrix @ p.prior.factor
    R, hits = 300, np.zeros(len(LEVELS), int)
    for _ in range(R):
        sigma0 = np.sqrt(NOISE[1] / rng.gamma(NOISE[0])) if name == "sigma" else 0.3
        tau0 = np.sqrt(SCALE[1] / rng.gamma(SCALE[0])) if name == "tau" else 1.0
        r0 = tau0 * B @ rng.standard_normal(4) + sigma0 * rng.standard_normal(12)
        ref = hyper_posterior(B, r0, noise=NOISE if name == "sigma" else 0.3,
                              scale=SCALE if name == "tau" else 1.0, points=3000)
        true = sigma0 if name == "sigma" else tau0
        for i, level in enumerate(LEVELS):
            lo, hi = ref.interval(name, level)
            hits[i] += lo <= true <= hi
    for level, k in zip(LEVELS, hits, strict=True):
        assert scipy.stats.binomtest(int(k), R, level).pvalue > 1e-3 / len(LEVELS), (level, k)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_coverage_harness_scores_sigma_and_tau_sampled_by_gibbs(stat_seed):
    """The harness with unknown σ and τ, truth drawn from the (hyper)prior, pCN with Gibbs
    blocks: coverage of σ, τ and θ₀ at levels 0.5 and 0.9 (equal-tailed) is binomial with the
    nominal level; 40 replicates, Bonferroni over the 6 cells, family-wise false-failure
    probability 1e-3 (weak power at this R: it catches gross errors, e.g. σ fixed)."""
    inference = InferenceSpec("pcn", {"draws": 1500, "warmup": 400, "chains": 4})
    functionals = [Hyperparameter("sigma"), Hyperparameter("tau"), NodalValue("theta_0", 0)]
    ds = run_coverage_study(PROBLEM, inference, replicates=40, seed=31 + 1000 * stat_seed,
                            levels=LEVELS, functionals=functionals, kinds=("equal_tailed",),
                            convergence=None)
    assert int(ds["num_valid"]) == 40
    pv = ds["binom_pvalue"].sel(kind="equal_tailed", functional=["sigma", "tau", "theta_0"])
    assert (pv.values > 1e-3 / 6).all(), pv.values
    truth_sigma = ds["truth_value"].sel(scalar="sigma").values
    assert np.unique(truth_sigma).size == 40  # drawn per replicate


def test_hyperparameter_functionals_need_their_hyperprior():
    from bayesinv.testing.coverage_problems import linear_gaussian_model

    plain = ProblemSpec(linear_gaussian_model, {"dim": 4, "num_observations": 3, "seed": 1})
    with pytest.raises(InvalidArgumentError, match="needs a CoverageModel with noise_hyper"):
        run_coverage_study(plain, InferenceSpec("pcn", {"draws": 10}), replicates=1, seed=0,
                           sbc_draws=5,
                           functionals=[Hyperparameter("sigma")], convergence=None)
    with pytest.raises(InvalidArgumentError, match="'sigma' or 'tau'"):
        run_coverage_study(PROBLEM, InferenceSpec("pcn", {"draws": 10}), replicates=1, seed=0,
                           sbc_draws=5,
                           functionals=[Hyperparameter("nu")], convergence=None)
    p = linear_gaussian(dim=3, num_observations=2)
    with pytest.raises(InvalidArgumentError, match="inverse-gamma"):
        CoverageModel(p.prior, p.forward, 0.1, noise_hyper=(0.0, 1.0))
