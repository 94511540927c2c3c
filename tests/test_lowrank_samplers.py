"""Samplers on the low-rank Laplace approximation: low-rank-preconditioned MALA/ULA, gpCN and
gpCN-Langevin, against their dense/plain counterparts and exact linear–Gaussian answers."""

from __future__ import annotations

import numpy as np
import pytest
from _problems import K, inexact_laplace, lowrank_problem

import bayesinv
from bayesinv.errors import InvalidArgumentError
from bayesinv.samplers.compiled import compiled_target
from bayesinv.samplers.kernels import _lowrank as lr
from bayesinv.samplers.kernels import gpcn, gpcnl, lrmala, mala, pcn, pcnl
from bayesinv.samplers.kernels._common import IDENTITY
from bayesinv.testing import check_moments, linear_gaussian


@pytest.fixture(scope="module")
def problem():
    return lowrank_problem()


@pytest.fixture(scope="module")
def truncated(problem):
    """An inexact low-rank Laplace reference (:func:`_problems.inexact_laplace`)."""
    return inexact_laplace(problem)


def _target(problem):
    return problem.posterior.whitened


def test_packed_actions_match_dense_algebra(truncated, rng):
    P = truncated.packed()
    V, lam = truncated.vectors, truncated.values
    Gamma = np.eye(K) - V @ np.diag(lam / (1 + lam)) @ V.T
    x = rng.standard_normal(K)
    np.testing.assert_allclose(lr.cov_apply(P, x), Gamma @ x, atol=1e-12)
    np.testing.assert_allclose(lr.precision_apply(P, x), np.linalg.solve(Gamma, x), atol=1e-9)
    S = np.column_stack([lr.sqrt_apply(P, e) for e in np.eye(K)])
    np.testing.assert_allclose(S @ S, Gamma, atol=1e-12)
    np.testing.assert_allclose(S, S.T, atol=1e-14)
    np.testing.assert_allclose(lr.inv_sqrt_apply(P, S @ x), x, atol=1e-9)
    np.testing.assert_array_equal(lr.mean(P), truncated.mean)
    # w = log π − log N(m, Γ) up to a constant: differences agree with the dense formula
    y = rng.standard_normal(K)
    lg = truncated.logpdf
    dense = (5.0 - 0.5 * x @ x - lg(x)) - (2.0 - 0.5 * y @ y - lg(y))
    np.testing.assert_allclose(lr.reference_potential(P, x, 5.0)
                               - lr.reference_potential(P, y, 2.0), dense, rtol=1e-10)


def test_low_rank_mala_is_dense_mala_with_the_symmetric_root(problem, truncated, rng):
    P = truncated.packed()
    R = np.column_stack([lr.sqrt_apply(P, e) for e in np.eye(K)])  # Γ^{1/2}, symmetric
    R_inv = np.linalg.inv(R)
    target = _target(problem)
    x = rng.standard_normal(K)
    ev = target.evaluate(x, grad=True)
    state = mala.init(x, ev.logdensity, ev.grad)
    for step in (0.05, 0.5):
        seed = rng.integers(2**32)
        y_low = lrmala.propose(state, step, P, P, np.random.default_rng(seed))
        y_dense = mala.propose(state, step, R, R_inv, np.random.default_rng(seed))
        np.testing.assert_allclose(y_low, y_dense, atol=1e-11)
        ey = target.evaluate(y_low, grad=True)
        np.testing.assert_allclose(
            lrmala.log_acceptance_ratio(state, y_low, ey.logdensity, ey.grad, step, P),
            mala.log_acceptance_ratio(state, y_low, ey.logdensity, ey.grad, step, R, R_inv),
            rtol=1e-9, atol=1e-9)


def _run(kernel_mod, init_args, steps, rng, parameter, P, target):
    """A chain of a kernel through its protocol halves (the same arguments for every kernel)."""
    state = kernel_mod.init(*init_args)
    out = []
    for _ in range(steps):
        y = kernel_mod.propose(state, parameter, P, P, rng)
        ev = target.evaluate(y, grad=kernel_mod.uses_gradient)
        grad = ev.grad if ev.grad is not None else np.full_like(y, np.nan)
        state, _ = kernel_mod.accept(state, y, ev.logdensity, ev.loglik, grad, parameter, P, P,
                                     rng)
        out.append(state.position.copy())
    return np.array(out)


def test_gpcn_with_the_prior_as_reference_is_pcn(problem):
    """r = 0, m = 0: the same arithmetic as pCN, so the same draws bit for bit."""
    P0 = lr.pack(np.zeros((K, 0)), np.zeros(0), np.zeros(K))
    target = _target(problem)
    x = np.zeros(K)
    ll = target.evaluate(x).loglik
    a = _run(gpcn, (x, ll, P0), 60, np.random.default_rng(1), 0.3, P0, target)
    b = _run(pcn, (x, ll), 60, np.random.default_rng(1), 0.3, IDENTITY, target)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a[:, 0])) > 5  # it moved


def test_gpcnl_with_the_prior_as_reference_is_pcnl(problem):
    P0 = lr.pack(np.zeros((K, 0)), np.zeros(0), np.zeros(K))
    target = _target(problem)
    x = problem.mean_latent.copy()
    ev = target.evaluate(x, grad=True)
    a = _run(gpcnl, (x, ev.logdensity, ev.grad, P0), 60, np.random.default_rng(2), 0.002, P0,
             target)
    b = _run(pcnl, (x, ev.logdensity, ev.grad), 60, np.random.default_rng(2), 0.002, IDENTITY,
             target)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a[:, 0])) > 5


def test_gpcnl_acceptance_ratio_is_antisymmetric(problem, truncated, rng):
    P = truncated.packed()
    target = _target(problem)
    x, y = truncated.mean + 0.1 * rng.standard_normal((2, K))
    ex, ey = target.evaluate(x, grad=True), target.evaluate(y, grad=True)
    sx = gpcnl.init(x, ex.logdensity, ex.grad, P)
    sy = gpcnl.init(y, ey.logdensity, ey.grad, P)
    for step in (0.1, 1.0, 1.9):
        fwd = gpcnl.log_acceptance_ratio(sx, sy, step, P)
        bwd = gpcnl.log_acceptance_ratio(sy, sx, step, P)
        assert abs(fwd + bwd) <= 1e-9 * max(1.0, abs(fwd))


def test_gpcn_and_gpcnl_accept_everything_when_the_reference_is_the_posterior(problem):
    approx = bayesinv.laplace(problem.posterior, map=problem.mean_latent, threshold=1e-10)
    for method, kw in (("gpcn", {"beta": 1.0}), ("gpcnl", {"step_size": 1.5})):
        idata = bayesinv.sample(problem.posterior, method, preconditioner=approx, draws=50,
                                chains=2, seed=0, diagnostics=False, loop="interpreted", **kw)
        np.testing.assert_allclose(idata.sample_stats["acceptance_rate"].values, 1.0,
                                   atol=1e-9)


EXACT_RUNS = [
    ("gpcn", {"beta": 0.5, "draws": 2500}),
    ("gpcnl", {"step_size": 0.8, "draws": 1000}),
    ("mala", {"step_size": 0.3, "draws": 1000}),
]


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
@pytest.mark.parametrize(("method", "kw"), EXACT_RUNS, ids=[m for m, _ in EXACT_RUNS])
def test_metropolis_samplers_on_an_inexact_laplace_reference_hit_the_exact_posterior(
        problem, truncated, method, kw, stat_seed):
    """Means and sds of all 30 coordinates against the exact posterior: t-tests across 16
    independent chains and the calibrated R-hat gate (``check_moments``), family-wise level
    1e-3 (false-failure probability ≤ 1e-3 per run)."""
    idata = bayesinv.sample(problem.posterior, method, preconditioner=truncated, warmup=200,
                            chains=16, seed=11 + 1000 * stat_seed, init="map",
                            diagnostics=False,
                            loop="interpreted", **kw)
    acc = float(idata.sample_stats["acceptance_rate"].mean())
    assert 0.1 < acc < 0.999  # the correction is active
    check = check_moments(idata.posterior["xi"].values, problem.mean_latent,
                          np.sqrt(np.diag(problem.cov_latent)))
    assert check.converged, str(check)
    assert check.passed, str(check)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_low_rank_ula_hits_its_exact_stationary_law_not_the_posterior(problem, truncated,
                                                                       stat_seed):
    """ULA with C = Γ (the inexact reference) at δ = 0.4: moments against N(μ, S), S from the
    discrete Lyapunov equation, family-wise level 1e-3 (false-failure probability ≤ 1e-3); the same
    draws are far from the posterior sds (a check that the test can fail)."""
    V, lam = truncated.vectors, truncated.values
    C = np.eye(K) - V @ np.diag(lam / (1 + lam)) @ V.T
    step = 0.4
    mu, S = problem.ula_stationary(step, preconditioner=C)
    idata = bayesinv.sample(problem.posterior, "ula", preconditioner=truncated,
                            step_size=step, init=problem.mean_latent, draws=1000, warmup=200,
                            chains=16, seed=12 + 1000 * stat_seed, diagnostics=False,
                            loop="interpreted")
    xi = idata.posterior["xi"].values
    check = check_moments(xi, mu, np.sqrt(np.diag(S)))
    assert check.converged, str(check)
    assert check.passed, str(check)
    wrong = check_moments(xi, problem.mean_latent, np.sqrt(np.diag(problem.cov_latent)))
    assert not wrong.passed


@pytest.mark.slow
def test_compiled_loop_gives_the_interpreted_draws(problem, truncated):
    """Same kernels, same target arithmetic (the compiled target evaluated from Python): the
    same draws bit for bit."""
    ctarget = compiled_target(problem.posterior)
    kw = {"preconditioner": truncated, "draws": 100, "warmup": 50, "chains": 2, "seed": 3,
          "diagnostics": False, "compiled": ctarget}
    for method in ("gpcnl", "gpcn"):
        a = bayesinv.sample(problem.posterior, method, loop="compiled", **kw)
        b = bayesinv.sample(problem.posterior, method, loop="interpreted", **kw)
        np.testing.assert_array_equal(a.posterior["xi"].values, b.posterior["xi"].values)
        assert a.attrs["step_size"] == pytest.approx(b.attrs["step_size"])


def test_adapted_gpcn_from_the_default_laplace(problem):
    idata = bayesinv.sample(problem.posterior, "gpcn", draws=50, warmup=100, chains=2,
                            seed=0, diagnostics=False, loop="interpreted")
    assert idata.attrs["preconditioner"] == "laplace_lowrank"
    assert idata.attrs["laplace_rank"] == 12
    assert idata.attrs["init"] == "prior"
    assert 0 < idata.attrs["beta"] <= 1


def test_checkpoint_of_a_gpcnl_run_resumes_to_the_same_draws(problem, truncated, tmp_path):
    kw = {"preconditioner": truncated, "step_size": 0.5, "draws": 30, "chains": 2, "seed": 5,
          "diagnostics": False, "loop": "interpreted",
          "persistence": bayesinv.samplers.Persistence(checkpoint=tmp_path / "c.npz")}
    a = bayesinv.sample(problem.posterior, "gpcnl", **kw)
    b = bayesinv.sample(problem.posterior, "gpcnl", **kw)  # read back from the checkpoint
    np.testing.assert_array_equal(a.posterior["xi"].values, b.posterior["xi"].values)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "gpcn", "beta": 0.5, "preconditioner": "laplace"}, "low-rank Laplace"),
    ({"method": "gpcnl", "step_size": 0.5, "preconditioner": np.eye(K)}, "low-rank Laplace"),
    ({"method": "pcn", "beta": 0.5, "preconditioner": "laplace_lowrank"},
     "low-rank Laplace preconditioner applies to method="),
    ({"method": "mala", "step_size": 0.5, "preconditioner": "lowrank"}, "laplace_lowrank"),
    ({"method": "mala", "step_size": 0.5, "preconditioner": np.triu(np.ones((K, K)))},
     "preconditioner must be symmetric"),
    ({"method": "mala", "step_size": 0.5, "preconditioner": np.full((K, K), np.nan)},
     "preconditioner must be finite"),
    ({"method": "ula", "step_size": 0.5, "preconditioner": -np.eye(K)},
     "preconditioner must be positive definite"),
])
def test_bad_preconditioners(problem, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        bayesinv.sample(problem.posterior, draws=5, chains=1, diagnostics=False, **kwargs)


def test_laplace_of_another_posterior_is_refused(problem):
    other = linear_gaussian(dim=K + 1, num_observations=5, seed=1)
    approx = bayesinv.laplace(other.posterior, map=np.zeros(K + 1), rank=2)
    with pytest.raises(InvalidArgumentError, match="dimension 31, the posterior 30"):
        bayesinv.sample(problem.posterior, "gpcn", beta=0.5, preconditioner=approx, draws=5,
                        chains=1, diagnostics=False)
