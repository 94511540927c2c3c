"""Kernel GP priors: kernel formulas, Cholesky and truncated-KL factors, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats

import bayesinv.priors.kernels as kernels
from bayesinv.errors import InvalidArgumentError
from bayesinv.priors.kernels import KernelPrior, MaternKernel, SquaredExponentialKernel
from bayesinv.testing import bonferroni_threshold


def _grid(n):
    t = np.linspace(0.0, 1.0, n)
    return np.column_stack([a.ravel() for a in np.meshgrid(t, t)])


def _matern_bessel(r, nu, ell):
    """Rasmussen & Williams (4.14) evaluated with the Bessel function."""
    t = math.sqrt(2 * nu) * np.asarray(r) / ell
    with np.errstate(invalid="ignore"):
        v = 2 ** (1 - nu) / math.gamma(nu) * t**nu * scipy.special.kv(nu, t)
    return np.where(t > 0, v, 1.0)


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_matern_closed_forms_equal_the_bessel_formula(nu):
    r = np.linspace(0.0, 3.0, 31)
    k = MaternKernel(nu, 0.4, variance=2.0)
    np.testing.assert_allclose(k.correlation(r), _matern_bessel(r, nu, 0.4), rtol=1e-12)
    # the general-ν branch (a ν a hair away from the closed form) agrees too
    np.testing.assert_allclose(MaternKernel(nu * (1 + 1e-12), 0.4).correlation(r),
                               _matern_bessel(r, nu, 0.4), rtol=1e-9, atol=1e-12)
    X = np.array([[0.0, 0.0], [0.3, 0.4]])
    assert k(X)[0, 1] == pytest.approx(2.0 * _matern_bessel(0.5, nu, 0.4), rel=1e-12)


def test_general_nu_and_the_squared_exponential_limit():
    r = np.linspace(0.0, 2.0, 21)
    np.testing.assert_allclose(MaternKernel(3.7, 0.3).correlation(r),
                               _matern_bessel(r, 3.7, 0.3), rtol=1e-12)
    se = SquaredExponentialKernel(0.3).correlation(r)
    np.testing.assert_allclose(se, np.exp(-r**2 / 0.18), rtol=1e-14)
    np.testing.assert_allclose(MaternKernel(np.inf, 0.3).correlation(r), se)
    assert np.abs(MaternKernel(200.0, 0.3).correlation(r) - se).max() < 2e-3
    assert np.all(np.isfinite(MaternKernel(1.2, 0.01).correlation(np.array([50.0]))))


def test_large_nu_uses_the_debye_expansion_where_bessel_overflows():
    """K_ν overflows near 0 for large ν; the uniform expansion matches kv where both exist."""
    t = np.array([1.0, 5.0, 20.0, 80.0])
    for nu in (30.0, 60.0):
        direct = np.log(scipy.special.kv(nu, t))
        np.testing.assert_allclose(kernels._log_kv(nu, t), direct, rtol=1e-12)
        np.testing.assert_allclose(kernels._log_kv_debye(nu, t), direct, rtol=1e-6)
    assert np.isinf(scipy.special.kv(300.0, 1e-3))
    np.testing.assert_allclose(kernels._log_kv(300.0, np.array([1e-3])),
                               kernels._log_kv_debye(300.0, np.array([1e-3])))
    rho = MaternKernel(300.0, 0.2).correlation(np.array([0.0, 1e-6, 0.05, 0.2, 0.6]))
    assert np.all(np.isfinite(rho)) and np.all(rho <= 1.0) and np.all(np.diff(rho) <= 0)
    assert rho[-1] < rho[2] < 1.0


def test_cholesky_prior_has_the_kernel_covariance_and_scipy_density(rng):
    X = rng.random((12, 2))
    kernel = MaternKernel(1.5, 0.3, variance=1.4)
    prior = KernelPrior(X, kernel, mean=0.7, jitter=1e-9)
    C = kernel(X) + 1e-9 * np.eye(12)
    np.testing.assert_allclose(prior.covariance, C, rtol=1e-12, atol=1e-15)
    ref = scipy.stats.multivariate_normal(np.full(12, 0.7), C)
    for theta in prior.sample(rng, size=3):
        assert prior.logpdf(theta) == pytest.approx(ref.logpdf(theta), rel=1e-9)
    assert prior.explained_variance == 1.0


@pytest.mark.parametrize("weighted", [False, True])
def test_eigen_factor_keeps_the_fewest_modes_reaching_the_fraction(weighted):
    X = _grid(15)
    kernel = SquaredExponentialKernel(0.25)
    w = np.linspace(0.5, 1.5, X.shape[0]) if weighted else None
    prior = KernelPrior(X, kernel, factor="eigen", variance_fraction=0.95, weights=w)
    ww = np.ones(X.shape[0]) if w is None else w
    B = np.sqrt(ww)[:, None] * kernel(X) * np.sqrt(ww)[None, :]
    lam = np.sort(np.linalg.eigvalsh(B))[::-1]
    captured = np.cumsum(lam) / lam.sum()
    r = prior.latent_dim
    assert captured[r - 1] >= 0.95 > captured[r - 2]
    assert prior.explained_variance == pytest.approx(captured[r - 1], rel=1e-10)
    # the dropped weighted variance is exactly the tail of the spectrum
    dropped = np.trace(np.sqrt(ww)[:, None] * (kernel(X) - prior.covariance) * np.sqrt(ww))
    assert dropped == pytest.approx(lam[r:].sum(), rel=1e-8)


def test_lanczos_path_agrees_with_the_dense_eigensolver(monkeypatch):
    X = _grid(14)
    kernel = MaternKernel(2.5, 0.3)
    dense = KernelPrior(X, kernel, factor="eigen", variance_fraction=0.99)
    monkeypatch.setattr(kernels, "DENSE_EIGH_LIMIT", 50)
    lanczos = KernelPrior(X, kernel, factor="eigen", variance_fraction=0.99)
    assert lanczos.latent_dim == dense.latent_dim
    np.testing.assert_allclose(lanczos.covariance, dense.covariance, atol=1e-10)


@pytest.mark.statistical(alpha=1e-3)
def test_sampled_covariance_matches_the_kernel(stat_seed):
    """Sample covariances of n = 20 000 iid draws against the kernel; false-failure probability per
    run ≤ 1e-3 (Bonferroni over the 4 entries, normal limit).
    """
    X = _grid(4)
    kernel = MaternKernel(0.5, 0.5, variance=2.0)
    prior = KernelPrior(X, kernel)
    n = 20_000
    draws = prior.sample(np.random.default_rng(9 + 1000 * stat_seed), size=n)
    idx = [(0, 0), (0, 5), (3, 12), (7, 7)]
    C = kernel(X)
    for i, j in idx:
        se = math.sqrt((C[i, j] ** 2 + C[i, i] * C[j, j]) / (n - 1))
        z = (np.cov(draws[:, i], draws[:, j])[0, 1] - C[i, j]) / se
        assert abs(z) < bonferroni_threshold(len(idx)), (i, j, z)


def test_not_positive_definite_error_names_the_jitter():
    X = _grid(20)
    kernel = SquaredExponentialKernel(0.5)     # numerically singular on 400 close points
    with pytest.raises(InvalidArgumentError, match=r"not positive definite with jitter=0:"
                                                   r" increase jitter \(e.g. jitter=1.0e-10\)"):
        KernelPrior(X, kernel, jitter=0.0)   # explicit: the default now adds what it needs
    prior = KernelPrior(X, kernel, jitter=1e-6)
    assert prior.latent_dim == 400
    assert KernelPrior(X, kernel, factor="eigen").latent_dim < 60


def test_kernel_bad_input():
    with pytest.raises(InvalidArgumentError, match=r"length_scale must be > 0, got -0\.1"):
        MaternKernel(1.5, -0.1)
    with pytest.raises(InvalidArgumentError, match=r"length_scale must be > 0, got 0$"):
        SquaredExponentialKernel(0)
    with pytest.raises(InvalidArgumentError, match=r"variance must be > 0, got -1\.0"):
        MaternKernel(1.5, 0.2, variance=-1.0)
    with pytest.raises(InvalidArgumentError, match="nu must be > 0"):
        MaternKernel(0.0, 0.2)
    X = _grid(3)
    with pytest.raises(InvalidArgumentError, match="factor must be one of"):
        KernelPrior(X, MaternKernel(1.5, 0.2), factor="svd")
    with pytest.raises(InvalidArgumentError, match=r"variance_fraction must be in \(0.0, 1.0\]"):
        KernelPrior(X, MaternKernel(1.5, 0.2), factor="eigen", variance_fraction=1.5)
    with pytest.raises(InvalidArgumentError, match="jitter must be a finite number >= 0"):
        KernelPrior(X, MaternKernel(1.5, 0.2), jitter=-1e-6)
    with pytest.raises(InvalidArgumentError, match="kernel must be a"):
        KernelPrior(X, lambda a, b: 1.0)


@pytest.mark.fem
def test_kernel_prior_on_a_fe_space_uses_l2_weights():
    from bayesinv.fem import unit_square

    space = unit_square(10).parameter_space
    kernel = MaternKernel(2.5, 0.2)
    prior = KernelPrior.on_space(space, kernel, factor="eigen", variance_fraction=0.9,
                                 mean=lambda x: x[0])
    w = np.asarray(space.mass_matrix.sum(axis=1)).ravel()
    # fraction of the integrated variance ∫Var θ = Σ w_i C_ii = |O| σ²
    kept = np.sum(w * np.diag(prior.covariance))
    assert kept / np.sum(w) == pytest.approx(prior.explained_variance, rel=1e-10)
    assert prior.explained_variance >= 0.9
    np.testing.assert_allclose(prior.mean, space.coordinates[:, 0])
