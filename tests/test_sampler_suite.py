"""The sampler suite on the linear–Gaussian problem: exact laws, adaptation, the two loops,
warm starts, curvature step sizes, divergences, diagnostics and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _problems import functionals, sampler_problem

import bayesinv
from bayesinv import (
    BayesinvWarning,
    ForwardSolveError,
    InvalidArgumentError,
    LinearForwardMap,
    find_map,
)
from bayesinv.samplers.compiled import CompiledTarget, compiled_target
from bayesinv.samplers.driver import sample
from bayesinv.samplers.options import Tuning
from bayesinv.testing import check_moments, linear_gaussian


@pytest.fixture(scope="module")
def problem():
    return sampler_problem()


@pytest.mark.parametrize(("method", "kwargs"), [
    ("mala", {"step_size": 0.1}),
    ("mala", {"step_size": 0.5, "preconditioner": "laplace"}),
    ("pcnl", {"step_size": 0.1}),
    ("pcnl", {}),  # step adapted in warm-up, then frozen: still exact
    ("rwm", {}),
])
@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_corrected_samplers_match_the_exact_posterior(problem, method, kwargs, stat_seed):
    """Means and variances of 16 functionals against the exact posterior, by t-tests across 16
    independent chains, plus the calibrated R-hat gate (:func:`bayesinv.testing.check_moments`).
    False-failure probability per run ≤ 1e-3 (asymptotically in the chain length)."""
    idata = sample(problem.posterior, method, draws=5000, warmup=1000, chains=16,
                   seed=11 + 1000 * stat_seed, diagnostics=False, **kwargs)
    xi = idata.posterior["xi"].values
    check = check_moments(*functionals(problem, xi, problem.cov_latent))
    assert check.converged, f"not converged: {check}"
    assert check.passed, f"wrong distribution: {check}"


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_pula_matches_its_stationary_law_not_the_posterior(problem, stat_seed):
    """t-tests across 16 chains against pULA's exact stationary law: false-failure probability
    per run ≤ 1e-3. The same draws must fail against the posterior (|t| ≈ 20 there, far above
    the threshold ≈ 5.6: a failure of that check has negligible probability)."""
    P = problem.precision_latent
    step = 1.0 / (np.linalg.eigvalsh(P).max() - 1.0)
    idata = sample(problem.posterior, "pula", step_size=step, draws=5000, warmup=500,
                   chains=16, seed=12 + 1000 * stat_seed, diagnostics=False)
    xi = idata.posterior["xi"].values
    mean, S = problem.pula_stationary(step)
    np.testing.assert_allclose(mean, problem.mean_latent)  # exact mean, by construction
    check = check_moments(*functionals(problem, xi, S))
    assert check.converged and check.passed, f"pULA does not match its stationary law: {check}"
    against_target = check_moments(*functionals(problem, xi, problem.cov_latent))
    assert not against_target.passed  # the test can tell the two laws apart


def test_pula_bias_is_first_order_and_vanishes_without_data(problem):
    P = problem.precision_latent
    steps = 0.1 / np.linalg.eigvalsh(P).max() * 0.5 ** np.arange(4)
    errors = [np.linalg.norm(problem.pula_stationary(d)[1] - problem.cov_latent) for d in steps]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 1.0) < 0.1), rates
    # Prior-only problem (σ huge): the Crank–Nicolson chain leaves N(0, I) exactly invariant,
    # explicit ULA inflates the variance to 1/(1 − δ/2).
    flat = linear_gaussian(dim=4, num_observations=2, noise_std=1e8, seed=1)
    np.testing.assert_allclose(flat.pula_stationary(0.5)[1], np.eye(4), atol=1e-12)
    np.testing.assert_allclose(flat.ula_stationary(0.5)[1], np.eye(4) / 0.75, atol=1e-12)


@pytest.mark.parametrize(("method", "target"), [("pcn", 0.25), ("mala", 0.574),
                                                ("pcnl", 0.574), ("rwm", 0.25)])
@pytest.mark.statistical(alpha=1e-3)
def test_adaptation_reaches_its_target_acceptance_in_dimension_100(method, target, stat_seed):
    """From the MAP (prior starts spend part of the warm-up travelling, which biases the
    adapted acceptance by ≈ −0.02 for pCN/RWM; a seed sweep gave 0.20–0.25 from the prior,
    0.22–0.25 from the MAP). The tolerance 0.05 is ≥ 5 sds of the mean acceptance over the
    4 × 1000 post-warm-up steps at the adapted step (sd ≤ 0.01 in the sweep): false-failure
    probability per run ≤ 1e-3, checked by ``make test-sweep``."""
    p = linear_gaussian(dim=100, num_observations=50, noise_std=0.1, seed=1)
    idata = sample(p.posterior, method, draws=1000, warmup=1500, chains=4,
                   seed=5 + 1000 * stat_seed,
                   init="map", diagnostics=False)
    assert idata.attrs["adapted"] == 1 and idata.attrs["target_accept"] == target
    steps = idata.sample_stats["step_size"].values
    assert np.all(steps == steps[:, :1])  # frozen after warm-up
    np.testing.assert_array_equal(steps[:, 0], idata.attrs["step_size"])
    assert abs(idata.sample_stats["acceptance_rate"].values.mean() - target) < 0.05


def test_target_accept_can_be_chosen(problem):
    lo = sample(problem.posterior, "mala", tuning=Tuning(target_accept=0.3), draws=500,
                warmup=500, chains=2, seed=1, diagnostics=False)
    hi = sample(problem.posterior, "mala", tuning=Tuning(target_accept=0.9), draws=500,
                warmup=500, chains=2, seed=1, diagnostics=False)
    assert np.all(lo.attrs["step_size"] > 2 * hi.attrs["step_size"])


@pytest.mark.parametrize("method", ["ula", "pula", "mala", "pcn", "pcnl", "rwm"])
def test_interpreted_and_compiled_loops_give_the_same_draws(problem, method):
    kw = {"draws": 60, "warmup": 40, "thin": 3, "chains": 3, "seed": 9,
          "diagnostics": False}
    if method in ("ula", "pula"):
        kw["step_size"] = 0.02
    target = compiled_target(problem.posterior)
    fast = sample(problem.posterior, method, loop="compiled", **kw)
    # the same compiled target evaluated from Python in the interpreted loop: bit for bit
    slow = sample(problem.posterior, method, loop="interpreted", compiled=target, **kw)
    assert (fast.attrs["loop"], slow.attrs["loop"]) == ("compiled", "interpreted")
    for group, var in (("posterior", "xi"), ("sample_stats", "lp"),
                       ("sample_stats", "acceptance_rate"), ("sample_stats", "step_size"),
                       ("sample_stats", "diverging")):
        np.testing.assert_array_equal(fast[group][var].values, slow[group][var].values)
    # the compiled loop's predictions come from the NumPy product, not the numba target's
    np.testing.assert_allclose(fast.log_likelihood["y"].values, slow.log_likelihood["y"].values,
                               rtol=1e-12, atol=1e-12)
    # The NumPy posterior (different arithmetic for the same target) agrees to round-off; with
    # a fixed scale, since adaptation amplifies round-off (∂ log ε/∂ acceptance ~ √t/γ).
    kw.update({"beta": 0.3} if method == "pcn" else {"step_size": 0.05})
    fast = sample(problem.posterior, method, loop="compiled", **kw)
    plain = sample(problem.posterior, method, loop="interpreted", **kw)
    np.testing.assert_allclose(plain.posterior["xi"].values, fast.posterior["xi"].values,
                               rtol=1e-9, atol=1e-11)
    assert fast.attrs["num_forward_solves"] == plain.attrs["num_forward_solves"]


def test_compiled_target_matches_the_python_posterior(problem, rng):
    target = compiled_target(problem.posterior)
    for _ in range(3):
        xi = rng.standard_normal(12)
        lp, grad = target.logdensity_and_grad(xi, target.args)
        ev = problem.posterior.whitened.evaluate(xi, grad=True)
        assert lp == pytest.approx(ev.logdensity, rel=1e-12)
        np.testing.assert_allclose(grad, ev.grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(target.predict(xi), problem.forward(
            problem.prior.to_physical(xi)), rtol=1e-12)


def test_a_user_compiled_target(problem):
    """The protocol: a module-level njit logdensity_and_grad(x, args) and its args."""
    from bayesinv.samplers.compiled import linear_gaussian_logdensity_and_grad

    built = compiled_target(problem.posterior)
    user = CompiledTarget(linear_gaussian_logdensity_and_grad, built.args)  # no predict
    idata = sample(problem.posterior, "mala", step_size=0.05, compiled=user, draws=30,
                   chains=2, seed=1, diagnostics=False)
    assert idata.attrs["loop"] == "compiled" and "log_likelihood" not in idata.groups()
    ref = sample(problem.posterior, "mala", step_size=0.05, draws=30, chains=2, seed=1,
                 diagnostics=False)
    np.testing.assert_array_equal(idata.posterior["xi"].values, ref.posterior["xi"].values)


# -- warm starts ------------------------------------------------------------------------------

def _first_draws(problem, init, chains=3):
    """Positions after one ULA step of size 1e-12: the initial positions to ~1e-6."""
    idata = sample(problem.posterior, "ula", step_size=1e-12, draws=4, chains=chains, seed=21,
                   init=init, diagnostics=False)
    return idata.posterior["xi"].values[:, 0], idata.attrs["init"]


def test_warm_starts(problem):
    xi, kind = _first_draws(problem, "prior")
    expected = np.stack([np.random.default_rng(s).standard_normal(12)
                         for s in np.random.SeedSequence(21).spawn(3)])
    assert kind == "prior"
    np.testing.assert_allclose(xi, expected, atol=1e-5)
    xi, kind = _first_draws(problem, "map")
    assert kind == "map"
    np.testing.assert_allclose(xi, np.tile(problem.mean_latent, (3, 1)), atol=1e-5)
    user = np.arange(36.0).reshape(3, 12) / 36
    xi, kind = _first_draws(problem, user)
    assert kind == "user"
    np.testing.assert_allclose(xi, user, atol=1e-5)
    xi, _ = _first_draws(problem, user[0])
    np.testing.assert_allclose(xi, np.tile(user[0], (3, 1)), atol=1e-5)


def test_a_given_map_result_is_reused_not_recomputed(problem):
    """init=find_map(...) with preconditioner="laplace": the same draws as init="map", without
    the second MAP search (fewer set-up solves)."""
    kw = {"step_size": 0.1, "preconditioner": "laplace", "draws": 20, "chains": 2, "seed": 4,
          "diagnostics": False}
    searched = sample(problem.posterior, "ula", init="map", **kw)
    given = sample(problem.posterior, "ula", init=find_map(problem.posterior), **kw)
    assert given.attrs["init"] == searched.attrs["init"] == "map"
    np.testing.assert_allclose(given.posterior["xi"].values, searched.posterior["xi"].values,
                               atol=1e-8)
    # the Laplace Hessian's solves remain; the L-BFGS search's are gone
    assert given.attrs["num_setup_solves"] < searched.attrs["num_setup_solves"]


@pytest.mark.parametrize("method", ["ula", "pula"])
def test_ula_step_from_the_gauss_newton_curvature(problem, method):
    idata = sample(problem.posterior, method, draws=5, chains=2, seed=1, init="map",
                   tuning=Tuning(safety_factor=0.2, curvature_iterations=200),
                   diagnostics=False)
    lam = np.linalg.eigvalsh(problem.precision_latent).max()
    curv = lam - 1 if method == "pula" else lam
    assert idata.attrs["step_size_rule"] == "curvature"
    assert idata.attrs["curvature_lambda_max"] == pytest.approx(lam, rel=1e-6)
    assert idata.attrs["step_size"] == pytest.approx(0.2 / curv, rel=1e-6)
    np.testing.assert_allclose(idata.sample_stats["step_size"].values, 0.2 / curv, rtol=1e-6)


def test_laplace_preconditioned_curvature_is_one_for_a_linear_model(problem):
    idata = sample(problem.posterior, "ula", preconditioner="laplace", init="map", draws=5,
                   chains=1, seed=1, tuning=Tuning(curvature_iterations=50),
                   diagnostics=False)
    assert idata.attrs["curvature_lambda_max"] == pytest.approx(1.0, rel=1e-8)
    assert idata.attrs["step_size"] == pytest.approx(0.1, rel=1e-8)


# -- failed solves and divergences ----------------------------------------------------------

class _FailsAboveOne(LinearForwardMap):
    """A linear map whose 'solve' fails when θ_0 > 1 (a stand-in for a PDE that breaks down)."""

    def linearize(self, theta):
        if np.asarray(theta)[0] > 1.0:
            raise ForwardSolveError("θ_0 > 1")
        return super().linearize(theta)


@pytest.mark.parametrize("method", ["mala", "pcnl", "rwm"])
def test_failed_solves_are_counted_rejections(problem, method):
    forward = _FailsAboveOne(problem.forward.matrix)
    post = bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        forward, problem.data, problem.noise_std))
    idata = sample(post, method, step_size=0.5, draws=1500, chains=2, seed=6,
                   init=np.zeros(12), diagnostics=False)
    diverging = idata.sample_stats["diverging"].values
    assert diverging.sum() > 0 and idata.attrs["num_divergent"] >= diverging.sum()
    assert np.all(idata.sample_stats["acceptance_rate"].values[diverging] == 0)
    assert np.all(idata.posterior["theta"].values[..., 0] <= 1.0)


def test_ula_divergence_stops_with_the_partial_draws(problem):
    with pytest.raises(bayesinv.SamplerDivergenceError, match=r"smaller step_size") as info:
        sample(problem.posterior, "ula", step_size=0.5, draws=400, chains=2, seed=0,
               tuning=Tuning(max_divergences=3), diagnostics=False)
    partial = info.value.partial
    assert partial is not None and partial.posterior["xi"].shape[0] == 2
    assert 0 < partial.posterior["xi"].shape[1] < 400


# -- diagnostics -----------------------------------------------------------------------------

def test_diagnostics_warn_naming_the_worst_coordinates(problem):
    with pytest.warns(BayesinvWarning, match=r"not converged: .* worst: xi\[\d+\] \(R-hat"):
        idata = sample(problem.posterior, "pcn", beta=0.05, draws=100, chains=4, seed=3)
    assert idata.attrs["rhat_max"] > 1.01 or idata.attrs["ess_bulk_min"] < 400


@pytest.mark.statistical(alpha=1e-6)
def test_diagnostics_are_recorded_without_warning_when_converged(problem, stat_seed):
    """Convergence is what this tests. Laplace-preconditioned MALA on this Gaussian gives
    nearly independent draws (bulk ESS ≈ 10⁴), where the warning's fixed R-hat cut-off 1.01
    would need F = χ²₇/7 > 30 (module docstring of :mod:`bayesinv.testing.stats`): a
    false failure has probability far below 1e-6."""
    idata = sample(problem.posterior, "mala", step_size=0.5, preconditioner="laplace",
                   draws=3000, warmup=200, chains=4, seed=3 + 1000 * stat_seed)
    assert idata.attrs["rhat_max"] < 1.01 and idata.attrs["ess_bulk_min"] >= 400
    assert idata.attrs["ess_tail_min"] >= 400 and 0 < idata.attrs["mcse_mean_max"] < 0.05


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "nuts"}, "method must be one of"),
    ({"method": "mala", "warmup": -1}, "warmup must be >= 0"),
    ({"method": "mala", "step_size": 0.1, "draws": 0}, "draws must be >= 1"),
    ({"method": "mala", "step_size": 0.1, "chains": 0}, "chains must be >= 1"),
    ({"method": "mala", "step_size": 0.1, "thin": 0}, "thin must be >= 1"),
    ({"method": "mala", "warmup": 10, "tuning": Tuning(target_accept=0.0)},
     r"target_accept must be in \(0"),
    ({"method": "mala", "warmup": 10, "tuning": Tuning(target_accept=1.0)},
     r"target_accept must be in \(0"),
    ({"method": "pcn", "warmup": 10, "tuning": Tuning(target_accept=1.5)},
     r"target_accept must be in \(0"),
    ({"method": "mala"}, r"needs step_size > 0 .* or warmup > 0"),
    ({"method": "pcnl", "step_size": 3.0}, r"step_size must be in \(0.0, 2.0\]"),
    ({"method": "mala", "step_size": 0.1, "tuning": Tuning(adapt=True)},
     "adapt=True needs warmup > 0"),
    ({"method": "pcnl", "step_size": 0.1, "preconditioner": "laplace"}, "applies to method"),
    ({"method": "pcn", "beta": 0.1, "step_size": 0.1}, "step_size is not a pCN parameter"),
    ({"method": "mala", "beta": 0.1}, "beta is a pCN parameter"),
    ({"method": "mala", "step_size": 0.1, "loop": "gpu"}, "loop must be one of"),
    ({"method": "mala", "step_size": 0.1, "compiled": "fast"}, "compiled must be a"),
])
def test_bad_sampler_arguments(problem, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        sample(problem.posterior, **kwargs)


def test_compiled_loop_needs_a_compiled_target(problem):
    forward = _FailsAboveOne(problem.forward.matrix)
    post = bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        forward, problem.data, problem.noise_std))
    with pytest.raises(InvalidArgumentError, match="loop='compiled' needs a numba-compiled"):
        sample(post, "pcn", beta=0.1, loop="compiled")


def test_progress_bar_runs_in_both_loops(problem, capsys):
    for loop in ("compiled", "interpreted"):
        sample(problem.posterior, "pcn", beta=0.3, draws=50, chains=2, seed=1, loop=loop,
               progress=True, diagnostics=False)
    assert "acc=" in capsys.readouterr().err
