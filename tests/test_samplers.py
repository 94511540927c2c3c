"""Samplers against exact laws on the linear–Gaussian problem; the driver's contract."""

from __future__ import annotations

import numpy as np
import pytest
from _problems import functionals, sampler_problem

import bayesinv
from bayesinv import (
    ForwardSolveError,
    InvalidArgumentError,
    LinearForwardMap,
    SamplerDivergenceError,
)
from bayesinv.samplers.options import Tuning
from bayesinv.samplers.tuning import gauss_newton_hessian, gauss_newton_max_eigenvalue
from bayesinv.testing import check_moments, linear_gaussian


@pytest.fixture(scope="module")
def problem():
    return sampler_problem()


@pytest.mark.statistical(alpha=1e-3)
def test_pcn_matches_the_exact_posterior(problem, stat_seed):
    """t-tests across 16 chains and the calibrated R-hat gate: false-failure probability per
    run ≤ 1e-3 (:func:`bayesinv.testing.check_moments`)."""
    idata = bayesinv.sample(problem.posterior, "pcn", beta=0.5, draws=5000, warmup=1000,
                            chains=16, seed=1 + 1000 * stat_seed, diagnostics=False)
    check = check_moments(*functionals(problem, idata.posterior["xi"].values,
                                       problem.cov_latent))
    assert check.converged, f"not converged: {check}"
    assert check.passed, f"wrong distribution: {check}"
    # θ = T(ξ) is stored consistently
    np.testing.assert_allclose(idata.posterior["theta"].values,
                               problem.prior.to_physical(idata.posterior["xi"].values))


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_ula_matches_its_stationary_law_not_the_posterior(problem, stat_seed):
    """Against ULA's exact stationary law (discrete Lyapunov equation): false-failure
    probability per run ≤ 1e-3; the same draws fail against the posterior by a wide margin."""
    step = 1.0 / np.linalg.eigvalsh(problem.precision_latent).max()
    idata = bayesinv.sample(problem.posterior, "ula", step_size=step, draws=5000,
                            warmup=1000, chains=16, seed=2 + 1000 * stat_seed,
                            diagnostics=False)
    xi = idata.posterior["xi"].values
    _, S = problem.ula_stationary(step)
    check = check_moments(*functionals(problem, xi, S))
    assert check.converged, f"not converged: {check}"
    assert check.passed, f"ULA does not match its stationary law: {check}"
    # The same draws are far from the posterior: the test can tell the two laws apart.
    against_target = check_moments(*functionals(problem, xi, problem.cov_latent))
    assert not against_target.passed


@pytest.mark.statistical(alpha=1e-3)
def test_preconditioned_ula_matches_its_stationary_law(problem, stat_seed):
    """False-failure probability per run ≤ 1e-3 (t-tests across 16 chains, R-hat gate)."""
    C = problem.cov_latent  # the exact Laplace preconditioner for a linear model
    idata = bayesinv.sample(problem.posterior, "ula", step_size=0.5, preconditioner=C,
                            draws=3000, warmup=200, chains=16, seed=3 + 1000 * stat_seed,
                            diagnostics=False)
    _, S = problem.ula_stationary(0.5, preconditioner=C)
    np.testing.assert_allclose(S, C / (1 - 0.5 / 2), rtol=1e-10)  # closed form when C = P⁻¹
    check = check_moments(*functionals(problem, idata.posterior["xi"].values, S))
    assert check.converged and check.passed, str(check)


def test_laplace_preconditioner_is_the_exact_posterior_covariance_for_linear_models(problem):
    H = gauss_newton_hessian(problem.posterior, np.zeros(problem.prior.latent_dim))
    np.testing.assert_allclose(H, problem.precision_latent, rtol=1e-12)
    lam = gauss_newton_max_eigenvalue(problem.posterior, np.zeros(12), iterations=200)
    assert lam == pytest.approx(np.linalg.eigvalsh(problem.precision_latent).max(), rel=1e-6)


def test_ula_bias_is_first_order_in_the_step(problem):
    P = problem.precision_latent
    steps = 0.4 / np.linalg.eigvalsh(P).max() * 0.5 ** np.arange(4)
    errors = [np.linalg.norm(problem.ula_stationary(d)[1] - problem.cov_latent) for d in steps]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 1.0) < 0.1), rates


def test_map_is_the_posterior_mean_for_a_linear_gaussian_model(problem):
    result = bayesinv.find_map(problem.posterior)
    assert result.success
    np.testing.assert_allclose(result.position, problem.mean_latent, atol=1e-6)
    np.testing.assert_allclose(result.theta, problem.mean, atol=1e-6)


def test_same_seed_same_draws_different_seed_different_draws(problem):
    kw = {"draws": 50, "chains": 3, "beta": 0.4, "diagnostics": False}
    a = bayesinv.sample(problem.posterior, "pcn", seed=7, **kw).posterior["xi"].values
    b = bayesinv.sample(problem.posterior, "pcn", seed=7, **kw).posterior["xi"].values
    c = bayesinv.sample(problem.posterior, "pcn", seed=8, **kw).posterior["xi"].values
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])  # chains use different streams


def test_inference_data_contract(problem, tmp_path):
    idata = bayesinv.sample(problem.posterior, "ula", step_size=0.01, draws=30, warmup=5,
                            chains=2, thin=2, seed=4, diagnostics=False)
    assert set(idata.groups()) >= {"posterior", "sample_stats", "log_likelihood",
                                   "observed_data"}
    assert idata.posterior["xi"].dims == ("chain", "draw", "mode")
    assert idata.posterior["theta"].shape == (2, 30, 12)
    assert set(idata.sample_stats.data_vars) == {"lp", "acceptance_rate", "diverging",
                                                 "step_size"}
    assert idata.log_likelihood["y"].shape == (2, 30, 6)
    attrs = idata.attrs
    assert attrs["sampler"] == "ula" and attrs["step_size"] == 0.01 and attrs["seed"] == "4"
    assert attrs["num_forward_solves"] == attrs["num_adjoint_solves"] == 2 * (1 + 5 + 60)
    assert attrs["inference_library_version"] == bayesinv.__version__
    # lp is the log density at the stored position, pointwise log-likelihoods sum to ℓ
    xi = idata.posterior["xi"].values[1, -1]
    target = problem.posterior.whitened
    assert idata.sample_stats["lp"].values[1, -1] == pytest.approx(target.logdensity(xi))
    assert idata.log_likelihood["y"].values[1, -1].sum() == pytest.approx(
        problem.likelihood.logpdf(problem.prior.to_physical(xi)))
    idata.to_netcdf(tmp_path / "run.nc")
    back = bayesinv.arviz_io.az.from_netcdf(tmp_path / "run.nc")
    np.testing.assert_array_equal(back.posterior["xi"].values, idata.posterior["xi"].values)


def test_thinning_keeps_every_kth_step(problem):
    kw = {"step_size": 0.01, "chains": 1, "seed": 5, "warmup": 3, "diagnostics": False}
    full = bayesinv.sample(problem.posterior, "ula", draws=12, **kw).posterior["xi"].values
    thinned = bayesinv.sample(problem.posterior, "ula", draws=4, thin=3, **kw)
    np.testing.assert_array_equal(thinned.posterior["xi"].values, full[:, ::3])


class _FailsAboveOne(LinearForwardMap):
    """A linear map whose 'solve' fails when θ_0 > 1 (a stand-in for a PDE that breaks down)."""

    def linearize(self, theta):
        if np.asarray(theta)[0] > 1.0:
            raise ForwardSolveError("θ_0 > 1")
        return super().linearize(theta)


def test_pcn_treats_failed_solves_as_rejections(problem):
    forward = _FailsAboveOne(problem.forward.matrix)
    like = bayesinv.GaussianLikelihood(forward, problem.data, problem.noise_std)
    post = bayesinv.Posterior(problem.prior, like)
    idata = bayesinv.sample(post, "pcn", beta=0.8, draws=2000, chains=2, seed=6,
                            init=np.zeros(12), diagnostics=False)
    assert idata.sample_stats["diverging"].values.sum() > 0
    assert np.all(idata.posterior["theta"].values[..., 0] <= 1.0)


def test_ula_stops_with_a_clear_report_when_diverging(problem):
    with pytest.raises(SamplerDivergenceError, match=r"smaller step_size \(now 5\)"):
        bayesinv.sample(problem.posterior, "ula", step_size=5.0, draws=2000, chains=1, seed=0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "hmc", "beta": 0.5}, "method must be one of"),
    ({"method": "pcn", "beta": 0.0}, r"beta must be in \(0.0, 1.0\]"),
    ({"method": "pcn", "beta": 1.5}, r"beta must be in \(0.0, 1.0\]"),
    ({"method": "pcn"}, "needs beta"),
    ({"method": "ula", "step_size": 0.0}, "step_size must be > 0"),
    ({"method": "ula", "step_size": -1.0}, "step_size must be > 0"),
    ({"method": "ula", "step_size": 0.1, "tuning": Tuning(adapt=True), "warmup": 5},
     "has no accept step"),
    ({"method": "ula", "step_size": 0.1, "beta": 0.1}, "beta is a pCN parameter"),
    ({"method": "pcn", "beta": 0.5, "draws": 0}, "draws must be >= 1"),
    ({"method": "pcn", "beta": 0.5, "chains": 0}, "chains must be >= 1"),
    ({"method": "pcn", "beta": 0.5, "thin": 0}, "thin must be >= 1"),
    ({"method": "pcn", "beta": 0.5, "seed": -3}, "seed must be a non-negative int"),
    ({"method": "pcn", "beta": 0.5, "init": np.zeros(3)}, r"init array must be finite"),
    ({"method": "pcn", "beta": 0.5, "init": "random"}, "init must be 'prior', 'map'"),
    ({"method": "pcn", "beta": 0.5, "preconditioner": "laplace"}, "applies to method='ula'"),
])
def test_bad_sampler_arguments(problem, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        bayesinv.sample(problem.posterior, **kwargs)


def test_bad_likelihood_arguments(problem):
    G = problem.forward
    with pytest.raises(InvalidArgumentError, match="noise_std must be > 0"):
        bayesinv.GaussianLikelihood(G, problem.data, 0.0)
    with pytest.raises(InvalidArgumentError, match="noise_std must be a finite positive"):
        bayesinv.GaussianLikelihood(G, problem.data, np.nan)
    bad = problem.data.copy()
    bad[2] = np.nan
    with pytest.raises(InvalidArgumentError, match=r"data must be finite; 1 entries .* \[2\]"):
        bayesinv.GaussianLikelihood(G, bad, 0.1)
    with pytest.raises(InvalidArgumentError, match="data must have length 6, got length 5"):
        bayesinv.GaussianLikelihood(G, problem.data[:5], 0.1)
    with pytest.raises(InvalidArgumentError, match="prior dimension 3 does not match"):
        bayesinv.Posterior(bayesinv.GaussianPrior(np.eye(3)), problem.likelihood)


def test_exact_draws_name_a_failed_evaluation_at_zero():
    # data so large that |Y − G(0)|²/σ² overflows: the log density at ξ = 0 is not finite, so
    # its gradient is missing; the exact posterior mean must say so, not fail in a matmul
    problem = linear_gaussian(dim=4, num_observations=3, noise_std=1e-3, seed=0)
    like = bayesinv.GaussianLikelihood(problem.forward, np.full(3, 1e200), 1e-3)
    posterior = bayesinv.Posterior(problem.prior, like)
    with pytest.raises(ForwardSolveError, match="gradient of the log density at ξ = 0"):
        bayesinv.sample_exact(posterior, draws=5, chains=1, seed=0)
