"""Priors: eigenpairs against the exact ones, covariances against the analytic ones."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bayesinv import BayesinvWarning, GaussianPrior, InvalidArgumentError, SeriesPrior
from bayesinv.testing import bonferroni_threshold


def _exact_square_eigenvalues(num):
    j, k = np.meshgrid(np.arange(1, 20), np.arange(1, 20))
    return np.sort((np.pi**2 * (j**2 + k**2)).ravel())[:num]


@pytest.mark.fem
def test_dirichlet_eigenvalues_converge_at_rate_two():
    from bayesinv.fem import unit_square
    from bayesinv.fem.eigen import laplacian_eigenpairs

    exact = _exact_square_eigenvalues(6)
    errors = []
    for n in (8, 16, 32):
        lam, _ = laplacian_eigenpairs(unit_square(n), 6)
        errors.append(np.abs(lam - exact) / exact)
    errors = np.array(errors)
    assert errors[-1].max() < 0.02
    rates = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.abs(rates - 2.0) < 0.15), rates


@pytest.mark.fem
def test_eigenfunctions_are_l2_orthonormal_and_vanish_on_the_boundary():
    from bayesinv.fem import unit_square

    domain = unit_square(12)
    prior = SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=10)
    E, M = prior.eigenfunctions, domain.parameter_space.mass_matrix
    np.testing.assert_allclose(E.T @ (M @ E), np.eye(10), atol=1e-12)
    assert np.abs(E[domain.parameter_space.boundary_dofs]).max() == 0.0
    # first eigenfunction ≈ 2 sin(πx) sin(πy), up to O(h²)
    e1 = domain.parameter_space.interpolate(
        lambda x: 2 * np.sin(np.pi * x[0]) * np.sin(np.pi * x[1]))
    assert np.sqrt((E[:, 0] - e1) @ M @ (E[:, 0] - e1)) < 0.02


@pytest.mark.fem
@pytest.mark.statistical(alpha=2e-3)
def test_series_prior_functional_covariance_matches_analytic(stat_seed):
    """Sample covariance of ⟨θ, ψ_j⟩ vs Σ s²λ_k^{−α}⟨e_k, ψ_i⟩⟨e_k, ψ_j⟩ (z-scores).

    False-failure probability per run ≤ 2e-3: Bonferroni at 1e-3 over the 6 covariances and at
    1e-3 over the 3 means (normal limits of n = 20 000 iid draws).
    """
    from bayesinv.fem import unit_square

    domain = unit_square(12)
    space = domain.parameter_space
    prior = SeriesPrior.dirichlet_laplacian(domain, alpha=2.5, num_modes=30, scale=3.0)
    psis = np.column_stack([
        space.interpolate(lambda x: np.ones_like(x[0])),
        space.interpolate(lambda x: x[0] * x[1]),
        space.interpolate(lambda x: np.sin(5 * x[0]) + x[1] ** 2),
    ])
    n = 20_000
    draws = prior.sample(np.random.default_rng(11 + 1000 * stat_seed), size=n)
    values = draws @ (space.mass_matrix @ psis)                     # (n, 3) functionals
    proj = prior.eigenfunctions.T @ (space.mass_matrix @ psis)       # ⟨e_k, ψ_j⟩
    exact = proj.T @ (prior.coefficient_sd[:, None] ** 2 * proj)
    np.testing.assert_allclose(np.diag(exact),
                               [prior.functional_variance(p) for p in psis.T], rtol=1e-12)
    sample = np.cov(values.T)
    # sd of a sample covariance of a Gaussian pair: sqrt((Σ_ij² + Σ_ii Σ_jj)/(n−1))
    se = np.sqrt((exact**2 + np.outer(np.diag(exact), np.diag(exact))) / (n - 1))
    z = (sample - exact) / se
    assert np.abs(z[np.triu_indices(3)]).max() < bonferroni_threshold(6), z
    assert np.abs(values.mean(0) / np.sqrt(np.diag(exact) / n)).max() < bonferroni_threshold(3)


def test_series_prior_warns_when_alpha_too_small():
    lam = np.array([1.0, 2.0])
    with pytest.warns(BayesinvWarning, match="alpha=1.0 <= d/2=1.0"):
        SeriesPrior(lam, np.eye(2), np.eye(2), alpha=1.0)


def test_series_prior_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="alpha must be > 0"):
        SeriesPrior([1.0], np.eye(1), np.eye(1), alpha=-1.0)
    with pytest.raises(InvalidArgumentError, match="scale must be > 0"):
        SeriesPrior([1.0], np.eye(1), np.eye(1), alpha=2.0, scale=0.0)
    with pytest.raises(InvalidArgumentError, match="eigenvalues must be"):
        SeriesPrior([0.0], np.eye(1), np.eye(1), alpha=2.0)


@pytest.mark.fem
def test_too_many_modes_is_a_clear_error():
    from bayesinv.fem import unit_square

    with pytest.raises(InvalidArgumentError, match="only 9 interior vertices"):
        SeriesPrior.dirichlet_laplacian(unit_square(4), alpha=2.0, num_modes=20)


@pytest.mark.parametrize("k", [5, 3])
def test_gaussian_logpdf_matches_scipy(rng, k):
    L = rng.standard_normal((5, k))
    mean = rng.standard_normal(5)
    prior = GaussianPrior(L, mean)
    ref = scipy.stats.multivariate_normal(mean, L @ L.T, allow_singular=True)
    for _ in range(3):
        theta = prior.sample(rng)
        assert prior.logpdf(theta) == pytest.approx(ref.logpdf(theta), rel=1e-10)
    if k < 5:  # off the support of a degenerate Gaussian
        assert prior.logpdf(theta + rng.standard_normal(5)) == -np.inf


def test_gaussian_grad_logpdf_taylor(rng):
    prior = GaussianPrior.from_covariance(np.diag([1.0, 0.5, 2.0]) + 0.1, mean=[1.0, 0.0, -1.0])
    theta, h = rng.standard_normal(3), rng.standard_normal(3)
    g = prior.grad_logpdf(theta)
    eps = 1e-2 * 0.5 ** np.arange(5)
    r = [abs(prior.logpdf(theta + e * h) - prior.logpdf(theta) - e * g @ h) for e in eps]
    rates = np.log2(np.array(r[:-1]) / np.array(r[1:]))
    assert np.all(np.abs(rates - 2) < 0.1), rates


def test_whitened_map_transpose_dot_product(rng):
    prior = GaussianPrior(rng.standard_normal((7, 4)), rng.standard_normal(7))
    xi, dxi, v = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(7)
    jvp = prior.to_physical(xi + dxi) - prior.to_physical(xi)  # exact for an affine map
    assert jvp @ v == pytest.approx(dxi @ prior.to_physical_vjp(xi, v), rel=1e-12)


def test_gaussian_prior_errors():
    with pytest.raises(InvalidArgumentError, match="not positive definite"):
        GaussianPrior.from_covariance(-np.eye(2))
    with pytest.raises(InvalidArgumentError, match="mean must have length 2"):
        GaussianPrior(np.eye(2), mean=np.zeros(3))
    with pytest.raises(InvalidArgumentError, match="last dimension 2"):
        GaussianPrior(np.eye(2)).to_physical(np.zeros(3))
