"""Deterministic tests of the numba kernels."""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv.samplers.kernels import _common, pcn, ula

I = _common.IDENTITY
NO_GRAD = np.empty(0)  # (the gradient argument of the common accept, unused by pCN)


def test_ula_proposal_is_the_euler_maruyama_step():
    """Same bit-generator state → the kernel's noise is numpy's; the update is x + δg + √(2δ)η."""
    x, g, step = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, -3.0]), 0.01
    state = ula.init(x, -1.0, g)
    proposal = ula.propose(state, step, I, I, np.random.default_rng(5))
    eta = np.random.default_rng(5).standard_normal(3)
    np.testing.assert_allclose(proposal, x + step * g + np.sqrt(2 * step) * eta, rtol=1e-14)


def test_preconditioned_proposal_uses_c_and_its_square_root():
    x, g, step = np.array([0.5, -1.0]), np.array([1.0, 2.0]), 0.1
    R = np.array([[2.0, 0.0], [0.5, 1.0]])
    proposal = ula.propose(ula.init(x, 0.0, g), step, R, np.linalg.inv(R),
                           np.random.default_rng(3))
    eta = np.random.default_rng(3).standard_normal(2)
    expected = x + step * R @ R.T @ g + np.sqrt(2 * step) * R @ eta
    np.testing.assert_allclose(proposal, expected, rtol=1e-14)


def test_pcn_proposal_formula_and_beta_one_ignores_the_current_state():
    state = pcn.init(np.array([3.0, -4.0]), 0.0)
    eta = np.random.default_rng(9).standard_normal(2)
    np.testing.assert_allclose(pcn.propose(state, 0.6, I, I, np.random.default_rng(9)),
                               0.8 * state.position + 0.6 * eta, rtol=1e-14)
    np.testing.assert_allclose(pcn.propose(state, 1.0, I, I, np.random.default_rng(9)), eta)


@pytest.mark.slow
@pytest.mark.statistical(alpha=4e-4)
def test_pcn_with_constant_likelihood_always_accepts_and_keeps_n01(stat_seed):
    """The AR(1) chain started in N(0, I) stays N(0, I); 4000 independent chains give iid final
    draws. False-failure probability per run ≤ 4e-4 (six |z| < 4 tests: 6 × 6.3e-5).
    """
    rng = np.random.default_rng(2 + 1000 * stat_seed)
    n_chains, dim, steps, beta = 4000, 3, 50, 0.3
    finals = np.empty((n_chains, dim))
    for c in range(n_chains):
        state = pcn.init(rng.standard_normal(dim), 0.0)  # start in the stationary law N(0, I)
        for _ in range(steps):
            state, info = pcn.accept(state, pcn.propose(state, beta, I, I, rng), np.nan, 0.0,
                                     NO_GRAD, beta, I, I, rng)
            assert info.is_accepted and info.acceptance_rate == 1.0
        finals[c] = state.position
    # The AR(1) chain started in N(0, I) stays N(0, I): test moments of n iid draws.
    z_mean = finals.mean(0) * np.sqrt(n_chains)
    z_var = (finals.var(0, ddof=1) - 1) / np.sqrt(2 / (n_chains - 1))
    assert np.abs(z_mean).max() < 4 and np.abs(z_var).max() < 4


def test_non_finite_likelihood_is_rejected_and_flagged_without_raising():
    rng = np.random.default_rng(0)
    state = pcn.init(np.zeros(2), -3.0)
    for bad in (np.nan, -np.inf, np.inf):
        new, info = pcn.accept(state, np.ones(2), np.nan, bad, NO_GRAD, 0.5, I, I, rng)
        assert not info.is_accepted and info.diverging
        np.testing.assert_array_equal(new.position, state.position)
    state = ula.init(np.zeros(2), -1.0, np.zeros(2))
    new, info = ula.update(state, np.ones(2), np.nan, np.zeros(2))
    assert info.diverging and new.logdensity == -1.0
    new, info = ula.update(state, np.ones(2), -2.0, np.array([np.inf, 0.0]))
    assert info.diverging
    new, info = ula.update(state, np.ones(2), -2.0, np.zeros(2))
    assert not info.diverging and new.logdensity == -2.0


def test_metropolis_accept_probabilities():
    rng = np.random.default_rng(1)
    accepted = [_common.metropolis_accept(np.log(0.3), rng)[0] for _ in range(20000)]
    assert abs(np.mean(accepted) - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 20000)
    assert _common.metropolis_accept(0.5, rng) == (True, 1.0)
    assert _common.metropolis_accept(np.nan, rng) == (False, 0.0)


def test_cached_loglik_equals_recomputation_at_accepted_position():
    """The state's loglik is that of its position after any sequence of accepts/rejects."""
    rng = np.random.default_rng(4)

    def loglik(x):
        return -0.5 * np.sum((x - 1.0) ** 2) / 0.3

    state = pcn.init(np.zeros(4), loglik(np.zeros(4)))
    for _ in range(200):
        proposal = pcn.propose(state, 0.5, I, I, rng)
        state, _ = pcn.accept(state, proposal, np.nan, loglik(proposal), NO_GRAD, 0.5, I, I,
                              rng)
        assert state.loglik == loglik(state.position)


def test_kernels_compile_once_per_dtype():
    rng = np.random.default_rng(0)
    for dim in (2, 5, 11):
        state = pcn.init(np.zeros(dim), 0.0)
        pcn.accept(state, pcn.propose(state, 0.5, I, I, rng), np.nan, -1.0, NO_GRAD, 0.5, I, I,
                   rng)
        ustate = ula.init(np.zeros(dim), 0.0, np.zeros(dim))
        ula.update(ustate, ula.propose(ustate, 0.1, I, I, rng), 0.0, np.zeros(dim))
    for fn in (pcn.propose, pcn.accept, ula.propose, ula.update):
        assert len(fn.signatures) == 1, fn.signatures
