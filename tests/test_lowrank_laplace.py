"""Matrix-free Gauss–Newton Hessians, randomized low-rank eigendecompositions and the low-rank
Laplace approximation, against dense linear algebra and exact linear–Gaussian posteriors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import bayesinv
from bayesinv.errors import InvalidArgumentError
from bayesinv.laplace import LaplaceApproximation, laplace, sample_laplace
from bayesinv.lowrank import GaussNewtonHessian, low_rank_hessian, randomized_eigh
from bayesinv.samplers.tuning import gauss_newton_hessian
from bayesinv.testing import linear_gaussian


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=30, num_observations=12, noise_std=0.05, seed=3)


def _dense_misfit(problem):
    return problem.precision_latent - np.eye(problem.precision_latent.shape[0])


def test_gauss_newton_action_matches_the_dense_misfit_hessian(problem, rng):
    H = GaussNewtonHessian(problem.posterior, rng.standard_normal(30))
    V = rng.standard_normal((30, 4))
    dense = _dense_misfit(problem)
    np.testing.assert_allclose(H.matmat(V), dense @ V, rtol=1e-10,
                               atol=1e-10 * np.abs(dense).max())
    assert H.num_actions == 4
    u, v = rng.standard_normal((2, 30))
    assert abs(u @ H.matvec(v) - v @ H.matvec(u)) <= 1e-10 * abs(u @ H.matvec(v))


def test_batched_actions_share_one_factorisation(problem, rng):
    counts = problem.forward.counts
    counts.reset()
    H = GaussNewtonHessian(problem.posterior, np.zeros(30))
    H.matmat(rng.standard_normal((30, 5)))
    assert counts.as_dict() == {"forward": 1, "adjoint": 5, "tangent": 5}


def test_randomized_eigh_with_full_basis_is_the_dense_eigendecomposition(problem):
    dense = _dense_misfit(problem)
    eig = low_rank_hessian(problem.posterior, np.zeros(30), threshold=1e-8)
    exact = np.linalg.eigvalsh(dense)[::-1]
    assert eig.converged and eig.rank == 12  # N = 12 observations: rank 12
    np.testing.assert_allclose(eig.values, exact[:12], rtol=1e-9)
    V = eig.vectors
    np.testing.assert_allclose(V.T @ V, np.eye(12), atol=1e-10)
    np.testing.assert_allclose(V @ np.diag(eig.values) @ V.T, dense, rtol=0,
                               atol=1e-9 * exact[0])


def test_adaptive_rank_stops_at_the_threshold_with_order_r_actions():
    k = 400
    # 10⁴ … : 40 eigenvalues ≥ 0.1, none at it (10^(4 − 40/8) rounds to 0.1 under numpy 2
    # and just below it under numpy 1: a tie would make the count platform-dependent)
    lam = 10.0 ** (4 - (np.arange(k) + 0.5) / 8)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((k, k)))
    A = (Q * lam) @ Q.T
    eig = randomized_eigh(lambda V: A @ V, k, threshold=0.1, oversampling=10, initial_rank=10)
    assert eig.converged
    assert eig.rank == int(np.count_nonzero(lam >= 0.1)) == 40
    np.testing.assert_allclose(eig.values, lam[:40], rtol=1e-6)
    assert eig.num_actions == 2 * eig.basis_size <= 2 * 160  # 20 → 40 → 80 → 160 columns


def test_fixed_rank_and_max_rank():
    k = 50
    A = np.diag(np.arange(k, 0, -1.0))
    eig = randomized_eigh(lambda V: A @ V, k, rank=5, oversampling=45)
    np.testing.assert_allclose(eig.values, [50, 49, 48, 47, 46], rtol=1e-10)
    capped = randomized_eigh(lambda V: A @ V, k, threshold=1e-3, max_rank=10, initial_rank=4,
                             oversampling=2)
    assert capped.rank == 10 and not capped.converged


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"rank": 31}, "rank=31 is larger than the parameter dimension k=30"),
    ({"rank": 0}, "rank"),
    ({"max_rank": 40}, "max_rank=40 is larger"),
    ({"threshold": -1.0}, "threshold"),
    ({"oversampling": -1}, "oversampling"),
])
def test_bad_low_rank_arguments(problem, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        low_rank_hessian(problem.posterior, np.zeros(30), **kwargs)


@pytest.mark.fem
def test_low_rank_hessian_of_a_pde_map_matches_the_dense_one():
    from bayesinv import fem

    domain = fem.unit_square(8)
    design = fem.uniform_design(domain, 30, seed=1)
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0)
    prior = bayesinv.WhittleMaternPrior.from_hippylib(domain, gamma=0.1, delta=1.0)
    theta0 = prior.sample(np.random.default_rng(2))
    sigma = 1e-3
    data = bayesinv.simulate(forward, theta0, sigma, seed=3)
    post = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, sigma))
    xi = np.random.default_rng(4).standard_normal(prior.latent_dim) * 0.3
    dense = gauss_newton_hessian(post, xi) - np.eye(prior.latent_dim)
    exact = np.linalg.eigvalsh(dense)[::-1]
    eig = low_rank_hessian(post, xi, threshold=1e-3 * exact[0])
    r = eig.rank
    assert eig.converged and 0 < r <= 30 and eig.basis_size < prior.latent_dim
    np.testing.assert_allclose(eig.values, exact[:r], rtol=1e-6)
    assert exact[r] < 1e-3 * exact[0]
    # the kept subspace reproduces the dense operator up to the dropped eigenvalues
    err = np.linalg.norm(dense - eig.vectors @ np.diag(eig.values) @ eig.vectors.T, 2)
    assert err <= 1.01 * exact[r] + 1e-8 * exact[0]


# -- the Laplace approximation ---------------------------------------------------------------

@pytest.fixture(scope="module")
def exact_laplace(problem):
    return laplace(problem.posterior, map=problem.mean_latent, threshold=1e-10)


def test_laplace_is_exact_on_the_linear_gaussian_problem(problem, exact_laplace):
    approx = exact_laplace
    k = 30
    Gamma = approx.covariance_apply(np.eye(k))
    np.testing.assert_allclose(Gamma, problem.cov_latent, rtol=0, atol=1e-10)
    np.testing.assert_allclose(approx.precision_apply(np.eye(k)), problem.precision_latent,
                               rtol=1e-10, atol=1e-10 * problem.precision_latent.max())
    S = approx.sqrt_apply(np.eye(k))
    np.testing.assert_allclose(S @ S.T, problem.cov_latent, atol=1e-10)
    np.testing.assert_allclose(approx.inv_sqrt_apply(S), np.eye(k), atol=1e-8)
    np.testing.assert_allclose(approx.pointwise_variance(), np.diag(problem.cov), rtol=1e-8)
    x = np.random.default_rng(0).standard_normal((3, k))
    ref = scipy.stats.multivariate_normal(problem.mean_latent, problem.cov_latent).logpdf(x)
    np.testing.assert_allclose(approx.logpdf(x), ref, rtol=1e-9)


def test_laplace_from_find_map_has_the_exact_mean(problem):
    approx = laplace(problem.posterior, threshold=1e-10)  # Gauss–Newton–CG MAP
    np.testing.assert_allclose(approx.mean, problem.mean_latent, atol=1e-8)
    assert approx.setup_solves > 0 and approx.setup_time > 0


@pytest.mark.statistical(alpha=1e-3)
def test_laplace_draws_have_the_exact_law(problem, exact_laplace, stat_seed):
    """Whitened by the exact posterior, n draws give Σ|z|² ~ χ²(n k) exactly; two-sided test
    at level 1e-3 (false-failure probability 1e-3 per run)."""
    xi = exact_laplace.sample_latent(2000, seed=5 + 1000 * stat_seed)
    L = np.linalg.cholesky(problem.cov_latent)
    z = np.linalg.solve(L, (xi - problem.mean_latent).T)
    stat, dof = float((z**2).sum()), z.size
    p = scipy.stats.chi2.cdf(stat, dof)
    assert 5e-4 < p < 1 - 5e-4, (stat, dof)


def test_laplace_inference_data_feeds_the_credible_sets(problem, exact_laplace):
    idata = exact_laplace.inference_data(draws=200, chains=2, seed=1)
    assert idata.posterior["theta"].shape == (2, 200, 30)
    assert idata.attrs["sampler"] == "laplace" and idata.attrs["rank"] == 12
    band = bayesinv.simultaneous_band(idata, 0.9)
    assert band.contains(problem.mean)
    interval = bayesinv.functional_interval(idata, np.ones(30), 0.9,
                                            mass_matrix=np.eye(30))  # Euclidean ⟨θ, 1⟩
    assert interval.lower < problem.mean.sum() < interval.upper
    again = sample_laplace(problem.posterior, map=problem.mean_latent, threshold=1e-10,
                           draws=200, chains=2, seed=1)
    np.testing.assert_array_equal(again.posterior["xi"].values, idata.posterior["xi"].values)


def test_laplace_bad_input(problem):
    with pytest.raises(InvalidArgumentError, match="map must be a MAPResult"):
        laplace(problem.posterior, map=np.zeros(5))
    with pytest.raises(InvalidArgumentError, match="posterior must be"):
        laplace(problem.prior)
    eig = low_rank_hessian(problem.posterior, np.zeros(30), rank=2)
    with pytest.raises(InvalidArgumentError, match="finite"):
        LaplaceApproximation(problem.posterior, np.full(30, np.nan), eig)


def test_newton_cg_map_matches_lbfgs_and_is_exact_for_linear_models(problem):
    newton = bayesinv.find_map(problem.posterior, method="newton-cg")
    assert newton.success
    np.testing.assert_allclose(newton.position, problem.mean_latent, atol=1e-8)
    lbfgs = bayesinv.find_map(problem.posterior)
    np.testing.assert_allclose(lbfgs.position, newton.position, atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="method"):
        bayesinv.find_map(problem.posterior, method="bfgs")


@pytest.mark.fem
def test_laplace_pointwise_variance_with_an_spde_prior_matches_dense_algebra():
    from bayesinv.testing.schrodinger import schrodinger_posterior

    post = schrodinger_posterior(6, 20, 1e-2, delta=0.5)
    prior = post.prior
    xi = 0.2 * np.random.default_rng(4).standard_normal(prior.latent_dim)
    approx = laplace(post, map=xi, threshold=1e-12)
    T = prior.dense_factor()
    Gamma = np.linalg.inv(gauss_newton_hessian(post, xi))
    np.testing.assert_allclose(approx.pointwise_variance(), np.diag(T @ Gamma @ T.T),
                               rtol=1e-8)
