"""Unknown prior length-scale ℓ (:class:`bayesinv.hierarchical.LengthScalePrior`): the rebuilt
priors equal priors built from scratch, the sampler matches the exact posterior of ℓ (grid
quadrature of the marginal likelihood, :func:`~bayesinv.testing.hyper_reference.
length_scale_posterior`) for an SPDE and a series prior, ℓ is its own InferenceData variable,
fingerprints tell priors apart, and bad input is refused."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

import bayesinv
from bayesinv.errors import InvalidArgumentError
from bayesinv.hierarchical import LengthScalePrior, ScaledPrior
from bayesinv.priors.kernels import KernelPrior, MaternKernel
from bayesinv.priors.series import SeriesPrior
from bayesinv.priors.spde import WhittleMaternPrior
from bayesinv.samplers.checkpoint import problem_fingerprint
from bayesinv.testing import check_moments
from bayesinv.testing.hyper_reference import length_scale_posterior

N = 15  # P1 nodes on [0, 1]
NU = 1.5  # β = 1 in 1-d (SPDE); α = 2 (series)
LOG_MEAN, LOG_SD = math.log(0.3), 0.5


def p1_matrices(n: int = N):
    """Mass and stiffness matrices of P1 elements on a uniform mesh of [0, 1]."""
    h = 1.0 / (n - 1)
    off = np.full(n - 1, 1.0)
    m = np.full(n, 2 * h / 3)
    m[[0, -1]] = h / 3
    k = np.full(n, 2 / h)
    k[[0, -1]] = 1 / h
    M = sp.diags([off * h / 6, m, off * h / 6], [-1, 0, 1]).tocsc()
    K = sp.diags([-off / h, k, -off / h], [-1, 0, 1]).tocsc()
    return M, K


def spde_prior(length_scale=0.3):
    M, K = p1_matrices()
    return WhittleMaternPrior(M, K, kappa=math.sqrt(8 * NU) / length_scale, beta=1,
                              spatial_dim=1)


def series_prior(length_scale=0.3, modes=10):
    M, K = p1_matrices()
    lam, vecs = scipy.linalg.eigh(K.toarray(), M.toarray())  # Neumann: λ₀ = 0, M-orthonormal
    return SeriesPrior(np.maximum(lam[:modes], 0.0), vecs[:, :modes], M, alpha=2.0,
                       spatial_dim=1, shift=8 * NU / length_scale**2)


def point_observations(stride=2):
    obs = np.arange(1, N, stride)
    A = np.zeros((obs.size, N))
    A[np.arange(obs.size), obs] = 1.0
    return A


def test_rebuilt_priors_equal_priors_built_from_scratch():
    """with_length_scale(ℓ) gives the factor of a prior constructed at ℓ (SPDE: κ = √(8ν)/ℓ;
    series: shift 8ν/ℓ², unit variance kept; kernel: the kernel's ℓ)."""
    np.testing.assert_allclose(spde_prior(0.3).with_length_scale(0.15).dense_factor(),
                               spde_prior(0.15).dense_factor(), rtol=1e-10, atol=1e-12)
    assert spde_prior(0.3).with_length_scale(0.15).length_scale == pytest.approx(0.15)
    np.testing.assert_allclose(series_prior(0.3).with_length_scale(0.15).factor,
                               series_prior(0.15).factor, rtol=1e-12)
    assert series_prior(0.3).length_scale == pytest.approx(0.3)
    x = np.linspace(0, 1, 9)[:, None]
    kp = KernelPrior(x, MaternKernel(2.5, 0.3))
    np.testing.assert_allclose(kp.with_length_scale(0.1).factor,
                               KernelPrior(x, MaternKernel(2.5, 0.1)).factor, rtol=1e-12)
    assert kp.length_scale == 0.3  # the original is unchanged


def test_robin_coefficient_scales_with_kappa():
    M, K = p1_matrices()
    Mb = sp.diags(np.r_[1.0, np.zeros(N - 2), 1.0]).tocsc()
    p = WhittleMaternPrior(M, K, kappa=4.0, boundary_mass_matrix=Mb, robin_coefficient=2.0,
                           spatial_dim=1)
    q = p.with_length_scale(p.length_scale / 2)
    assert q.kappa == pytest.approx(8.0) and q.robin_coefficient == pytest.approx(4.0)
    r = WhittleMaternPrior(M, K, kappa=8.0, boundary_mass_matrix=Mb, robin_coefficient=4.0,
                           spatial_dim=1)
    np.testing.assert_allclose(q.dense_factor(), r.dense_factor(), rtol=1e-10, atol=1e-12)


def test_rebuilt_priors_are_cached():
    prior = LengthScalePrior(spde_prior(), cache_size=2)
    calls = []
    build = prior.base.with_length_scale
    prior.base.with_length_scale = lambda ell: calls.append(ell) or build(ell)
    for ell in (0.2, 0.3, 0.2, 0.2, 0.25, 0.3, 0.2):
        prior.set_value(ell)
        assert prior.length_scale == pytest.approx(ell)
    # least recently used first out, two kept: 0.3 (the initial prior) is evicted by 0.25
    assert calls == [0.2, 0.25, 0.3, 0.2]


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
@pytest.mark.parametrize("kind", ["spde", "series"])
def test_length_scale_matches_the_exact_posterior(kind, stat_seed):
    """Linear observations of a 1-d field at 7 points, σ = 0.3, log ℓ ~ N(log 0.3, 0.5²):
    ℓ and ξ₀..ξ₃ from 16 MALA chains with the log-ℓ Metropolis block against quadrature
    of the exact marginal likelihood over log ℓ (120 points); t-tests of means and
    variances, family-wise false-failure probability 1e-3."""
    make = spde_prior if kind == "spde" else series_prior
    prior0 = make(0.3)
    A = point_observations()
    rng = np.random.default_rng(7)
    y = A @ make(0.2).sample(rng) + 0.3 * rng.standard_normal(A.shape[0])
    factor = ((lambda ell: prior0.with_length_scale(ell).dense_factor()) if kind == "spde"
              else (lambda ell: prior0.with_length_scale(ell).factor))
    ref = length_scale_posterior(factor, A, y - A @ prior0.mean, 0.3, LOG_MEAN, LOG_SD,
                                 points=120)
    post = bayesinv.Posterior(
        LengthScalePrior(prior0, log_mean=LOG_MEAN, log_sd=LOG_SD, proposal_sd=0.4),
        bayesinv.GaussianLikelihood(bayesinv.LinearForwardMap(A), y, 0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bayesinv.sample(post, "mala", draws=1500, warmup=400, chains=16,
                                seed=11 + 1000 * stat_seed, diagnostics=False)
    ell = idata.posterior["length_scale"].values
    draws = np.concatenate([idata.posterior["xi"].values[..., :4], ell[..., None]], -1)
    l_mean, l_sd = ref.moments()
    check = check_moments(draws, np.r_[ref.xi_mean[:4], l_mean], np.r_[ref.xi_sd[:4], l_sd],
                          min_ess=100)
    assert check.converged, str(check)
    assert check.passed, str(check)
    # θ is stored at each draw's own ℓ
    c, d = 2, 5
    np.testing.assert_allclose(
        idata.posterior["theta"].values[c, d],
        prior0.with_length_scale(float(ell[c, d])).to_physical(
            idata.posterior["xi"].values[c, d]), rtol=1e-10, atol=1e-12)


def test_scale_and_length_scale_together_are_two_variables():
    """ScaledPrior(LengthScalePrior(...)) samples τ and ℓ, each its own variable."""
    A = point_observations()
    y = np.zeros(A.shape[0])
    post = bayesinv.Posterior(ScaledPrior(LengthScalePrior(spde_prior()), 2.0, 1.0),
                              bayesinv.GaussianLikelihood(bayesinv.LinearForwardMap(A), y, 0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bayesinv.sample(post, "pcn", draws=20, warmup=10, chains=1, seed=0,
                                diagnostics=False)
    assert {"tau", "length_scale", "xi", "theta"} <= set(idata.posterior.data_vars)
    assert np.unique(idata.posterior["length_scale"].values).size > 1


def test_fingerprints_tell_length_scales_and_hyperpriors_apart():
    A = point_observations()
    like = bayesinv.GaussianLikelihood(bayesinv.LinearForwardMap(A), np.zeros(A.shape[0]), 0.3)

    def fp(prior):
        return problem_fingerprint(bayesinv.Posterior(prior, like))

    assert fp(spde_prior(0.3)) == fp(spde_prior(0.3))
    assert fp(spde_prior(0.3)) != fp(spde_prior(0.2))
    base = fp(LengthScalePrior(spde_prior(0.3)))
    assert base != fp(LengthScalePrior(spde_prior(0.2)))
    assert base != fp(LengthScalePrior(spde_prior(0.3), log_sd=1.0))
    assert base != fp(ScaledPrior(LengthScalePrior(spde_prior(0.3)), 2.0, 1.0))


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match="with_length_scale"):
        LengthScalePrior(bayesinv.GaussianPrior(np.eye(3)))
    with pytest.raises(InvalidArgumentError, match="log_sd"):
        LengthScalePrior(spde_prior(), log_sd=0.0)
    with pytest.raises(InvalidArgumentError, match="proposal_sd"):
        LengthScalePrior(spde_prior(), proposal_sd=-1.0)
    with pytest.raises(InvalidArgumentError, match="log_mean"):
        LengthScalePrior(spde_prior(), log_mean=float("nan"))
    M, K = p1_matrices()
    lam, vecs = scipy.linalg.eigh(K.toarray(), M.toarray())
    dirichlet_like = SeriesPrior(lam[1:6], vecs[:, 1:6], M, alpha=2.0, spatial_dim=1)
    with pytest.raises(InvalidArgumentError, match="finite"):
        LengthScalePrior(dirichlet_like)  # shift 0: no length-scale
    with pytest.raises(InvalidArgumentError, match="length_scale"):
        spde_prior().with_length_scale(0.0)
