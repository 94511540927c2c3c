"""The SPDE (Whittle–Matérn) prior: covariance formula, density, Matérn variance and
correlation under refinement, the Robin boundary term, parametrisations and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
import scipy.stats

from bayesinv.errors import InvalidArgumentError
from bayesinv.priors.kernels import MaternKernel
from bayesinv.priors.spde import WhittleMaternPrior, matern_variance_constant
from bayesinv.testing import bonferroni_threshold

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def small():
    from bayesinv.fem import unit_square

    return unit_square(5)


def test_boundary_mass_matrix_equals_ufl_assembly():
    from bayesinv.fem import unit_square
    from bayesinv.fem.boundary import boundary_mass_matrix, exterior_facets
    from bayesinv.testing import ufl_reference

    space = unit_square(6, diagonal="crossed").parameter_space
    reference = ufl_reference.assemble_bilinear(space.function_space, "boundary_mass")
    Mb = boundary_mass_matrix(space)
    assert abs(Mb - reference).max() < 1e-15
    assert exterior_facets(space).shape == (24, 2)
    assert Mb.sum() == pytest.approx(4.0, rel=1e-14)              # |∂O|


@pytest.mark.parametrize("beta", [1, 2])
@pytest.mark.parametrize("noise", ["consistent", "lumped"])
@pytest.mark.parametrize("backend", ["cholmod", "superlu"])
def test_covariance_is_the_galerkin_formula_and_logpdf_matches_scipy(small, beta, noise,
                                                                     backend):
    """C = c²(A⁻¹M)^{β−1}A⁻¹MA⁻¹(MA⁻¹)^{β−1} from dense matrices, and log N(θ; m, C)."""
    from bayesinv.fem.boundary import boundary_mass_matrix

    space = small.parameter_space
    prior = WhittleMaternPrior.from_matern(small, length_scale=0.4, variance=1.7, beta=beta,
                                           mean=lambda x: x[0] - x[1], noise=noise,
                                           backend=backend)
    M = space.mass_matrix.toarray()
    if noise == "lumped":
        M = np.diag(M.sum(axis=1))
    A = (prior.kappa**2 * M + space.stiffness_matrix.toarray()
         + prior.kappa / 1.42 * (beta == 1) * boundary_mass_matrix(space).toarray()
         + 0.35 * prior.kappa * (beta == 2) * boundary_mass_matrix(space).toarray())
    Ainv = np.linalg.inv(A)
    G = np.linalg.matrix_power(Ainv @ M, beta - 1) @ Ainv
    c2 = 1.7 / matern_variance_constant(2 * beta - 1, prior.kappa, 2)
    C = c2 * G @ M @ G.T
    T = prior.dense_factor()
    np.testing.assert_allclose(T @ T.T, C, rtol=1e-10, atol=1e-12 * np.abs(C).max())
    ref = scipy.stats.multivariate_normal(prior.mean, C)
    rng = np.random.default_rng(beta)
    for theta in prior.sample(rng, size=3):
        assert prior.logpdf(theta) == pytest.approx(ref.logpdf(theta), rel=1e-9)
    theta = prior.sample(rng)
    np.testing.assert_allclose(prior.grad_logpdf(theta),
                               -np.linalg.solve(C, theta - prior.mean), rtol=1e-8)
    np.testing.assert_allclose(prior.latent_coordinates(theta),
                               np.linalg.solve(T, theta - prior.mean), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("beta", [1, 2])
def test_interior_variance_stays_near_sigma2_under_refinement(beta):
    """Var θ(x)/σ² in [0.25, 0.75]² within 3% at 32² and within 1% at 64² (ℓ = 0.2)."""
    from bayesinv.fem import unit_square

    worst = []
    for n in (32, 64):
        domain = unit_square(n)
        x = domain.parameter_space.coordinates
        interior = np.flatnonzero(np.abs(x - 0.5).max(axis=1) <= 0.25)
        prior = WhittleMaternPrior.from_matern(domain, length_scale=0.2, variance=2.5,
                                               beta=beta)
        ratio = prior.pointwise_variance(interior[::5]) / 2.5
        worst.append(np.abs(ratio - 1).max())
    assert worst[0] < 0.03 and worst[1] < 0.01, worst
    assert worst[1] < worst[0]                     # converging, not drifting


@pytest.mark.parametrize("beta", [1, 2])
def test_correlation_at_distance_ell_matches_matern(beta):
    """Corr(θ(x), θ(x + ℓe₁)) vs 2^{1−ν}/Γ(ν) √(8ν)^ν K_ν(√(8ν)) (≈ 0.13–0.14)."""
    from bayesinv.fem import unit_square

    domain = unit_square(40)                          # nodes at (0.4, 0.5) and (0.6, 0.5)
    x = domain.parameter_space.coordinates
    i, j = (int(np.argmin(np.linalg.norm(x - p, axis=1))) for p in ([0.4, 0.5], [0.6, 0.5]))
    assert np.linalg.norm(x[i] - x[j]) == pytest.approx(0.2, abs=1e-12)
    prior = WhittleMaternPrior.from_matern(domain, length_scale=0.2, beta=beta)
    E = np.zeros((2, prior.dim))
    E[0, i] = E[1, j] = 1.0
    W = prior.to_physical_vjp(None, E)              # rows Tᵀe_i, so C_ij = ⟨Tᵀe_i, Tᵀe_j⟩
    corr = W[0] @ W[1] / np.sqrt((W[0] @ W[0]) * (W[1] @ W[1]))
    nu = 2 * beta - 1
    s = math.sqrt(8 * nu)
    exact = 2 ** (1 - nu) / math.gamma(nu) * s**nu * scipy.special.kv(nu, s)
    assert exact == pytest.approx(prior.correlation(0.2), rel=1e-12)
    # the kernel module's Matérn with the Rasmussen–Williams length scale ℓ/2 is the same law
    assert exact == pytest.approx(MaternKernel(nu, 0.1).correlation(0.2), rel=1e-10)
    assert abs(corr - exact) < 0.01, (corr, exact)


def test_robin_term_removes_the_boundary_variance_inflation():
    from bayesinv.fem import unit_square

    domain = unit_square(48)
    x = domain.parameter_space.coordinates
    edge = np.flatnonzero((np.abs(x[:, 0]) < 1e-12) & (np.abs(x[:, 1] - 0.5) <= 0.2))
    ratios = {}
    for beta in (1, 2):
        for robin in (False, True):
            prior = WhittleMaternPrior.from_matern(domain, length_scale=0.2, beta=beta,
                                                   robin=robin)
            ratios[beta, robin] = prior.pointwise_variance(edge).mean()
    for beta in (1, 2):
        assert ratios[beta, False] == pytest.approx(2.0, abs=0.05)     # Neumann: doubled
        assert 0.8 < ratios[beta, True] < 0.95, ratios                 # Robin: near σ²


@pytest.mark.statistical(alpha=2e-3)
def test_sampled_functionals_match_the_covariance(small, stat_seed):
    """Sample covariance of ⟨θ, ψ_j⟩ vs ψᵀ M C M ψ from covariance_apply (z-scores).

    False-failure probability per run ≤ 2e-3: Bonferroni at 1e-3 over the 6 covariances and at
    1e-3 over the 3 means (normal limits of n = 20 000 iid draws).
    """
    space = small.parameter_space
    prior = WhittleMaternPrior.from_matern(small, length_scale=0.3, variance=0.8, beta=2,
                                           mean=0.5)
    psis = space.mass_matrix @ np.column_stack([
        space.interpolate(1.0), space.interpolate(lambda x: x[0] ** 2),
        space.interpolate(lambda x: np.sin(4 * x[1]))])
    exact = psis.T @ np.column_stack([prior.covariance_apply(p) for p in psis.T])
    n = 20_000
    values = prior.sample(np.random.default_rng(3 + 1000 * stat_seed), size=n) @ psis
    se = np.sqrt((exact**2 + np.outer(np.diag(exact), np.diag(exact))) / (n - 1))
    z = (np.cov(values.T) - exact) / se
    assert np.abs(z[np.triu_indices(3)]).max() < bonferroni_threshold(6), z
    z_mean = (values.mean(0) - prior.mean @ psis) / np.sqrt(np.diag(exact) / n)
    assert np.abs(z_mean).max() < bonferroni_threshold(3)


def test_hippylib_parametrisation_round_trips(small):
    """hIPPYlib's BiLaplacianComputeCoefficients(σ², ρ, d): γ = 1/s, δ = κ²/s with
    s = σ κ^ν √((4π)^{d/2}/Γ(ν)), ν = 2 − d/2, κ = √(8ν)/ρ."""
    sigma2, rho, d = 1.3, 0.35, 2
    nu = 2.0 - 0.5 * d
    kappa = math.sqrt(8 * nu) / rho
    s = math.sqrt(sigma2) * kappa**nu * math.sqrt((4 * math.pi) ** (0.5 * d) / math.gamma(nu))
    gamma, delta = 1.0 / s, kappa**2 / s
    a = WhittleMaternPrior.from_hippylib(small, gamma=gamma, delta=delta)
    b = WhittleMaternPrior.from_matern(small, length_scale=rho, variance=sigma2)
    assert a.kappa == pytest.approx(b.kappa, rel=1e-12)
    assert a.variance == pytest.approx(sigma2, rel=1e-12)
    assert (b.gamma, b.delta) == (pytest.approx(gamma, rel=1e-12), pytest.approx(delta, rel=1e-12))
    assert a.robin_coefficient == pytest.approx(kappa / 1.42, rel=1e-12)   # hIPPYlib's Robin
    np.testing.assert_allclose(a.dense_factor(), b.dense_factor(), rtol=1e-10, atol=1e-14)
    assert b.nu == 1.0 and b.length_scale == pytest.approx(rho)


def test_nu_selects_beta(small):
    assert WhittleMaternPrior.from_matern(small, length_scale=0.3, nu=3).beta == 2
    assert WhittleMaternPrior.from_matern(small, length_scale=0.3, nu=1).beta == 1


def test_spde_bad_input(small):
    space = small.parameter_space
    M, K = space.mass_matrix, space.stiffness_matrix
    with pytest.raises(InvalidArgumentError, match=r"kappa must be > 0, got 0\.0"):
        WhittleMaternPrior(M, K, kappa=0.0)
    with pytest.raises(InvalidArgumentError, match=r"kappa must be > 0, got -2\.0"):
        WhittleMaternPrior(M, K, kappa=-2.0)
    with pytest.raises(InvalidArgumentError, match="length_scale must be > 0"):
        WhittleMaternPrior.from_matern(small, length_scale=-0.1)
    with pytest.raises(InvalidArgumentError, match="variance must be > 0"):
        WhittleMaternPrior.from_matern(small, length_scale=0.1, variance=0.0)
    with pytest.raises(InvalidArgumentError, match=r"nu=1.5 is not 2β − d/2.*\{1, 3, 5"):
        WhittleMaternPrior.from_matern(small, length_scale=0.1, nu=1.5)
    with pytest.raises(InvalidArgumentError, match="give nu or beta, not both"):
        WhittleMaternPrior.from_matern(small, length_scale=0.1, nu=1, beta=1)
    with pytest.raises(InvalidArgumentError, match="beta must be >= 1"):
        WhittleMaternPrior(M, K, kappa=1.0, beta=0)
    with pytest.raises(InvalidArgumentError, match=r"ν = 2β − d/2 = 0.0 <= 0"):
        WhittleMaternPrior(M, K, kappa=1.0, beta=1, spatial_dim=4)
    with pytest.raises(InvalidArgumentError, match="robin_coefficient must be"):
        WhittleMaternPrior(M, K, kappa=1.0, robin_coefficient=-1.0)
    with pytest.raises(InvalidArgumentError, match="needs boundary_mass_matrix"):
        WhittleMaternPrior(M, K, kappa=1.0, robin_coefficient=1.0)
    with pytest.raises(InvalidArgumentError, match="noise must be one of"):
        WhittleMaternPrior(M, K, kappa=1.0, noise="white")
    with pytest.raises(InvalidArgumentError, match="mass matrix is not positive definite"):
        WhittleMaternPrior(-M, K, kappa=1.0)
    with pytest.raises(InvalidArgumentError, match="square of one shape"):
        WhittleMaternPrior(M, sp.eye(3), kappa=1.0)
    with pytest.raises(InvalidArgumentError, match="last dimension 36"):
        WhittleMaternPrior(M, K, kappa=1.0).to_physical(np.zeros(5))
