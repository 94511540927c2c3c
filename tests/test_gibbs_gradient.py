"""The Gibbs wrapper rebuilds a gradient kernel's state after the hyperparameter updates
without a solve where the updates say how the likelihood's gradient changed
(:mod:`bayesinv.samplers.gibbs`): the rebuilt log density and gradient must equal a fresh
evaluation at the new (ξ, h) to round-off, and the solves saved must be the ones claimed."""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv.hierarchical import ScaledPrior
from bayesinv.likelihoods import JointLikelihood, UnknownNoiseLikelihood
from bayesinv.samplers.gibbs import with_hyperparameters
from bayesinv.samplers.registry import make_method
from bayesinv.testing import linear_gaussian

K, NOBS = 5, 30


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=K, num_observations=NOBS, noise_std=0.3, seed=5)


def _posteriors(problem):
    sigma = UnknownNoiseLikelihood(problem.forward, problem.data, 3.0, 0.2)
    tau = ScaledPrior(problem.prior, 2.0, 1.0, proposal_sd=0.5)
    half = NOBS // 2
    first = bayesinv.forward.LinearForwardMap(problem.forward.matrix[:half],
                                              problem.forward.offset[:half])
    second = bayesinv.forward.LinearForwardMap(problem.forward.matrix[half:],
                                               problem.forward.offset[half:])
    joint = JointLikelihood([
        UnknownNoiseLikelihood(first, problem.data[:half], 3.0, 0.2),
        bayesinv.GaussianLikelihood(second, problem.data[half:], 0.3)])
    return {"sigma": bayesinv.Posterior(problem.prior, sigma),
            "tau": bayesinv.Posterior(tau, problem.likelihood),
            "sigma+tau": bayesinv.Posterior(ScaledPrior(problem.prior, 2.0, 1.0), sigma),
            "joint sigma (one part)": bayesinv.Posterior(problem.prior, joint)}


@pytest.mark.parametrize("case", ["sigma", "tau", "sigma+tau", "joint sigma (one part)"])
@pytest.mark.parametrize("method", ["mala", "pcnl", "ula"])
def test_rebuilt_state_equals_a_fresh_evaluation(problem, case, method):
    posterior = _posteriors(problem)[case]
    sampler = with_hyperparameters(posterior, make_method(method, posterior.whitened))
    rng = np.random.default_rng(3)
    state, _ = sampler.init(rng.standard_normal(K))
    for _ in range(25):
        state, stats, _ = sampler.step(state, 0.02, rng)
        assert np.isfinite(state.inner.logdensity)
        sampler.condition(state.hyper)
        fresh = posterior.whitened.evaluate(state.position, grad=True)
        np.testing.assert_allclose(state.inner.grad, fresh.grad, rtol=1e-9, atol=1e-9)
        assert state.inner.logdensity == pytest.approx(fresh.logdensity, rel=1e-11)
        assert stats.lp == pytest.approx(fresh.logdensity, rel=1e-11)
        np.testing.assert_allclose(state.prediction, fresh.prediction, rtol=1e-12)


@pytest.mark.parametrize(("case", "solves_per_step"),
                         [("sigma", 1), ("tau", 2), ("joint sigma (one part)", 2)])
def test_hyperparameter_updates_cost_only_the_solves_they_need(problem, case, solves_per_step):
    """Forward solves per MALA step: 1 (the kernel's proposal) with σ, whose conjugate draw
    rescales the gradient; 2 with τ (its Metropolis proposal is evaluated, the interweaving
    move rescales); 2 when σ is one part of a joint likelihood (its gradient is recomputed)."""
    posterior = _posteriors(problem)[case]
    sampler = with_hyperparameters(posterior, make_method("mala", posterior.whitened))
    rng = np.random.default_rng(4)
    state, _ = sampler.init(rng.standard_normal(K))
    # the solves of the map that the unknown σ's (or the single) likelihood evaluates
    counts = getattr(posterior.likelihood, "components", [posterior.likelihood])[0].forward.counts
    before = counts.as_dict()
    for _ in range(10):
        state, _, _ = sampler.step(state, 0.02, rng)
    after = counts.as_dict()
    assert after["forward"] - before["forward"] == 10 * solves_per_step
    assert after["adjoint"] - before["adjoint"] == 10 * solves_per_step
