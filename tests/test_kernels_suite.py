"""Deterministic tests of the MALA, pCN-Langevin, pULA and RWM kernels and of the adaptation.

Each acceptance ratio is checked against a brute-force Metropolis–Hastings ratio written from
the densities (scipy), so a wrong transition density, a wrong sign or a missing term fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bayesinv.samplers import adaptation
from bayesinv.samplers.kernels import _common, mala, pcn, pcnl, pula, rwm
from bayesinv.samplers.kernels._common import IDENTITY

I = IDENTITY
NO_GRAD = np.empty(0)  # (the gradient argument of the common accept, unused by RWM)


def _loglik(x):
    """A non-Gaussian log-likelihood with its gradient (so the tests exercise the drift)."""
    return -0.25 * np.sum(x**4) + np.sin(x).sum(), -(x**3) + np.cos(x)


def _logpost(x):
    ll, g = _loglik(x)
    return ll - 0.5 * x @ x, g - x


def _state(x):
    lp, g = _logpost(x)
    return mala.init(x, lp, g)


def _mh_ratio(logpi, q_logpdf, x, y):
    return logpi(y) - logpi(x) + q_logpdf(y, x) - q_logpdf(x, y)


@pytest.mark.parametrize("preconditioned", [False, True])
def test_mala_log_ratio_is_the_mh_ratio_and_antisymmetric(rng, preconditioned):
    k, step = 4, 0.3
    R = np.linalg.cholesky(np.cov(rng.standard_normal((k, 3 * k)))) if preconditioned \
        else np.eye(k)
    C = R @ R.T
    Rarg = R if preconditioned else IDENTITY
    Rinv = np.linalg.inv(R) if preconditioned else IDENTITY

    def q(frm, to):  # log N(to; frm + δ C ∇log π(frm), 2δ C)
        return scipy.stats.multivariate_normal(frm + step * C @ _logpost(frm)[1],
                                               2 * step * C).logpdf(to)

    for _ in range(5):
        x, y = rng.standard_normal(k), rng.standard_normal(k)
        lp_y, g_y = _logpost(y)
        fwd = mala.log_acceptance_ratio(_state(x), y, lp_y, g_y, step, Rarg, Rinv)
        lp_x, g_x = _logpost(x)
        bwd = mala.log_acceptance_ratio(_state(y), x, lp_x, g_x, step, Rarg, Rinv)
        assert fwd == pytest.approx(_mh_ratio(lambda z: _logpost(z)[0], q, x, y), abs=1e-10)
        assert fwd == pytest.approx(-bwd, abs=1e-12)


def test_pcnl_log_ratio_is_the_mh_ratio_and_involves_the_likelihood_only(rng):
    k, step = 5, 0.4
    a, b, c = _common.crank_nicolson_coefficients(step)
    assert a**2 + c**2 == pytest.approx(1.0)

    def q(frm, to):  # log N(to; a frm + b ∇ℓ(frm), c² I)
        return scipy.stats.multivariate_normal(a * frm + b * _loglik(frm)[1],
                                               c**2 * np.eye(k)).logpdf(to)

    for _ in range(5):
        x, y = rng.standard_normal(k), rng.standard_normal(k)
        lp_y, g_y = _logpost(y)
        lp_x, g_x = _logpost(x)
        fwd = pcnl.log_acceptance_ratio(_state(x), y, lp_y, g_y, step)
        bwd = pcnl.log_acceptance_ratio(_state(y), x, lp_x, g_x, step)
        assert fwd == pytest.approx(_mh_ratio(lambda z: _logpost(z)[0], q, x, y), abs=1e-9)
        assert fwd == pytest.approx(-bwd, abs=1e-12)
    # With ℓ ≡ 0 (log π = −½|x|², ∇log π = −x) every proposal is accepted: pCN with β = c.
    x, y = rng.standard_normal(k), rng.standard_normal(k)
    zero = pcnl.init(x, -0.5 * x @ x, -x)
    assert pcnl.log_acceptance_ratio(zero, y, -0.5 * y @ y, -y, step) == pytest.approx(
        0.0, abs=1e-12)


def test_pcnl_and_pula_proposals_are_the_crank_nicolson_step(rng):
    x = rng.standard_normal(6)
    state = _state(x)
    step = 0.7
    a, b, c = _common.crank_nicolson_coefficients(step)
    eta = np.random.default_rng(11).standard_normal(6)
    expected = a * x + b * _loglik(x)[1] + c * eta
    for kernel in (pcnl, pula):
        got = kernel.propose(state, step, I, I, np.random.default_rng(11))
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)
    # without likelihood it is the pCN proposal with β = c, from the same noise
    zero = pcnl.init(x, -0.5 * x @ x, -x)
    np.testing.assert_allclose(pcnl.propose(zero, step, I, I, np.random.default_rng(3)),
                               pcn.propose(pcn.init(x, 0.0), c, I, I,
                                           np.random.default_rng(3)),
                               rtol=1e-13)


def test_rwm_proposal_and_ratio():
    x = np.array([0.3, -1.2])
    state = rwm.init(x, -0.5 * x @ x)
    eta = np.random.default_rng(2).standard_normal(2)
    y = rwm.propose(state, 0.4, I, I, np.random.default_rng(2))
    np.testing.assert_allclose(y, x + 0.4 * eta, rtol=1e-14)
    # the ratio is π(y)/π(x), the full posterior (prior term included)
    _, info = rwm.accept(state, y, state.logdensity + np.log(0.3), np.nan, NO_GRAD, 0.4,
                         I, I, np.random.default_rng(0))
    assert info.acceptance_rate == pytest.approx(0.3)
    _, info = rwm.accept(state, y, state.logdensity + 1.0, np.nan, NO_GRAD, 0.4, I, I,
                         np.random.default_rng(0))
    assert info.is_accepted and info.acceptance_rate == 1.0


@pytest.mark.parametrize("bad", [np.nan, -np.inf, np.inf])
def test_non_finite_evaluations_are_rejections_without_raising(bad):
    x = np.array([0.5, -0.5])
    state = _state(x)
    y = np.array([1.0, 2.0])
    lp_y, g_y = _logpost(y)
    cases = [
        lambda r: mala.accept(state, y, bad, np.nan, g_y, 0.1, I, I, r),
        lambda r: mala.accept(state, y, lp_y, np.nan, np.array([bad, 0.0]), 0.1, I, I, r),
        lambda r: pcnl.accept(state, y, bad, np.nan, g_y, 0.1, I, I, r),
        lambda r: pcnl.accept(state, y, lp_y, np.nan, np.array([0.0, bad]), 0.1, I, I, r),
        lambda r: rwm.accept(rwm.init(x, -1.0), y, bad, np.nan, NO_GRAD, 0.1, I, I, r),
    ]
    for case in cases:
        rng = np.random.default_rng(0)
        new, info = case(rng)
        assert info.diverging and not info.is_accepted and info.acceptance_rate == 0.0
        np.testing.assert_array_equal(new.position, x)
        # exactly one uniform was drawn, as for a finite proposal
        ref = np.random.default_rng(0)
        ref.random()
        assert rng.bit_generator.state == ref.bit_generator.state
    new, info = pula.update(state, y, bad, g_y)
    assert info.diverging and new.logdensity == state.logdensity


@pytest.mark.parametrize("name", ["mala", "pcnl", "rwm"])
def test_cached_log_density_equals_recomputation(rng, name):
    x = np.zeros(4)
    state = rwm.init(x, _logpost(x)[0]) if name == "rwm" else _state(x)
    moves = 0
    for _ in range(300):
        if name == "mala":
            y = mala.propose(state, 0.2, I, I, rng)
            lp, g = _logpost(y)
            state, info = mala.accept(state, y, lp, np.nan, g, 0.2, I, I, rng)
        elif name == "pcnl":
            y = pcnl.propose(state, 0.2, I, I, rng)
            lp, g = _logpost(y)
            state, info = pcnl.accept(state, y, lp, np.nan, g, 0.2, I, I, rng)
        else:
            y = rwm.propose(state, 0.5, I, I, rng)
            state, info = rwm.accept(state, y, _logpost(y)[0], np.nan, NO_GRAD, 0.5, I, I,
                                     rng)
        moves += info.is_accepted
        assert state.logdensity == _logpost(state.position)[0]
        if name != "rwm":
            np.testing.assert_array_equal(state.grad, _logpost(state.position)[1])
    assert 30 < moves < 300  # both branches were exercised


def test_kernels_compile_once_per_dtype():
    rng = np.random.default_rng(0)
    for dim in (2, 5, 11):
        x = np.zeros(dim)
        s = mala.init(x, 0.0, np.zeros(dim))
        R = np.eye(dim)
        for P, Pinv in ((I, I), (R, R)):
            mala.accept(s, mala.propose(s, 0.1, P, Pinv, rng), -1.0, np.nan, np.ones(dim), 0.1,
                        P, Pinv, rng)
        pcnl.accept(s, pcnl.propose(s, 0.1, I, I, rng), -1.0, np.nan, np.ones(dim), 0.1,
                    I, I, rng)
        pula.update(s, pula.propose(s, 0.1, I, I, rng), -1.0, np.ones(dim))
        r = rwm.init(x, 0.0)
        rwm.accept(r, rwm.propose(r, 0.1, I, I, rng), -1.0, np.nan, NO_GRAD, 0.1, I, I, rng)
        a = adaptation.init(0.1)
        adaptation.warmup_step(a, 0.5, 0.25, 0.0, False)
    for fn in (mala.propose, mala.accept, pcnl.propose, pcnl.accept, pula.propose, rwm.propose,
               rwm.accept, adaptation.warmup_step):
        assert len(fn.signatures) == 1, (fn, fn.signatures)


@pytest.mark.parametrize("target", [0.25, 0.574, 0.8])
def test_dual_averaging_finds_the_step_with_the_target_acceptance(target):
    """With a deterministic acceptance curve a(ε) = exp(−ε), ε̄ → −log(target)."""
    state = adaptation.init(0.01)
    eps = 0.01
    for t in range(3000):
        state, eps = adaptation.warmup_step(state, np.exp(-eps), target, np.inf, t == 2999)
    assert eps == pytest.approx(-np.log(target), rel=0.02)


def test_dual_averaging_respects_the_cap():
    state = adaptation.init(0.5)
    for _ in range(200):  # always accepting would push β above 1
        state, beta = adaptation.warmup_step(state, 1.0, 0.25, 0.0, False)
        assert beta <= 1.0
    assert beta == 1.0
