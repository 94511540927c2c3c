"""Likelihood and whitened posterior: values, gradients through prior and PDE, simulation."""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv.testing import linear_gaussian


def _taylor_rates(f, grad, x, h, eps0=1e-2, n=6):
    eps = eps0 * 0.5 ** np.arange(n)
    f0, g = f(x), grad @ h
    r = np.array([abs(f(x + e * h) - f0 - e * g) for e in eps])
    return np.log2(r[:-1] / r[1:])


@pytest.fixture(scope="module")
def schrodinger_posterior():
    fem = pytest.importorskip("bayesinv.fem")
    domain = fem.unit_square(10)
    G = fem.SchrodingerMap(domain, fem.uniform_design(domain, 50, seed=1))
    truth = domain.parameter_space.interpolate(lambda x: np.sin(np.pi * x[0]) * x[1])
    data = bayesinv.simulate(G, truth, 0.01, seed=2)
    prior = bayesinv.SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=20, scale=5)
    return bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, data, 0.01))


@pytest.mark.fem
def test_whitened_gradient_taylor_through_prior_and_pde(schrodinger_posterior, rng):
    target = schrodinger_posterior.whitened
    xi, h = rng.standard_normal(target.dim), rng.standard_normal(target.dim)
    _, grad = target.logdensity_and_grad(xi)
    rates = _taylor_rates(target.logdensity, grad, xi, h)
    assert np.all(np.abs(rates - 2) < 0.2), rates


@pytest.mark.fem
def test_likelihood_gradient_taylor(schrodinger_posterior, rng):
    like = schrodinger_posterior.likelihood
    theta = 0.3 * rng.standard_normal(like.forward.input_dim)
    _, grad = like.value_and_grad(theta)
    rates = _taylor_rates(like.logpdf, grad, theta, rng.standard_normal(theta.shape), eps0=0.05)
    assert np.all(np.abs(rates - 2) < 0.2), rates


def test_loglik_formula_and_pointwise_sum():
    p = linear_gaussian(dim=5, num_observations=4, noise_std=0.2, seed=1)
    theta = p.truth + 0.1
    r = p.data - p.forward.matrix @ theta
    expected = -0.5 * r @ r / 0.04 - 4 * np.log(0.2) - 2 * np.log(2 * np.pi)
    assert p.likelihood.logpdf(theta) == pytest.approx(expected, rel=1e-13)
    assert p.likelihood.pointwise_logpdf(theta).sum() == pytest.approx(expected, rel=1e-13)


def test_simulate_is_reproducible_and_has_the_right_noise():
    p = linear_gaussian(dim=5, num_observations=4000, noise_std=0.5, seed=1)
    a = bayesinv.simulate(p.forward, p.truth, 0.5, seed=3)
    np.testing.assert_array_equal(a, bayesinv.simulate(p.forward, p.truth, 0.5, seed=3))
    resid = a - p.forward(p.truth)
    assert abs(resid.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * 4000)
    with pytest.raises(bayesinv.InvalidArgumentError, match="noise_std must be > 0"):
        bayesinv.simulate(p.forward, p.truth, -1.0)


def test_failed_solve_gives_minus_infinity_not_an_exception():
    p = linear_gaussian(dim=3, num_observations=2, seed=0)
    target = p.posterior.whitened
    ev = target.evaluate(np.array([np.nan, 0.0, 0.0]), grad=True)
    assert ev.logdensity == -np.inf and ev.failure == "non-finite position"
    with pytest.raises(bayesinv.ForwardSolveError):
        target.logdensity_and_grad(np.array([np.inf, 0.0, 0.0]))
