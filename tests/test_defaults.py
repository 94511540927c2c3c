"""Defaults that work and checks that are right (issue 21, items 4–6): the automatic method of
``sample(posterior)``, ``sample(post, "exact")``, unit-order prior defaults, Taylor and prior
checks that pass affine maps and the package's own priors (and still fail broken ones), and
messages that say what happened."""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv import BayesinvWarning, ForwardMap, InvalidArgumentError, LinearForwardMap
from bayesinv.coverage import (
    ConvergenceCriteria,
    InferenceSpec,
    LinearFunctional,
    ProblemSpec,
    coverage_table,
    flagged_summary,
    run_coverage_study,
)
from bayesinv.priors.neural import NeuralFieldPrior
from bayesinv.samplers.auto import DEFAULT_WARMUP, choose_method
from bayesinv.testing import check_forward_map, check_moments, check_prior, linear_gaussian
from bayesinv.testing.coverage_problems import linear_gaussian_model


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=10, num_observations=6, noise_std=0.1, seed=4)


class _PullbackOnly(ForwardMap):
    """G(θ) = A θ with a pullback but no tangent-linear map."""

    def __init__(self, A):
        super().__init__()
        self.A = np.asarray(A, float)
        self.input_dim, self.output_dim = self.A.shape[1], self.A.shape[0]

    def value_and_pullback(self, theta):
        theta = self._check_theta(theta)
        self.counts.forward += 1
        return self.A @ theta, lambda w: self.A.T @ w


class _ValueOnly(ForwardMap):
    def __init__(self, A):
        super().__init__()
        self.A = np.asarray(A, float)
        self.input_dim, self.output_dim = self.A.shape[1], self.A.shape[0]

    def __call__(self, theta):
        return self.A @ theta


class _WrongPullback(_PullbackOnly):
    """An exactly linear map whose pullback is not Aᵀ (a deliberately broken adjoint)."""

    def value_and_pullback(self, theta):
        y, _ = super().value_and_pullback(theta)
        return y, lambda w: 1.01 * (self.A.T @ w)


# -- the automatic method -------------------------------------------------------------------

def test_the_automatic_choice_follows_the_structure_of_the_problem(problem):
    post = problem.posterior
    assert choose_method(post).method == "exact"                     # linear–Gaussian
    chain = choose_method(post, {"warmup": 100})                     # a chain was asked for
    assert chain.method == "gpcnl" and chain.settings["init"] == "map"
    assert chain.settings["map_method"] == "newton-cg"
    assert choose_method(post, {"beta": 0.3}).method == "pcn"        # historical default
    A = problem.forward.matrix
    like = bayesinv.GaussianLikelihood(_PullbackOnly(A), problem.data, problem.noise_std)
    pullback = choose_method(bayesinv.Posterior(problem.prior, like))
    assert pullback.method == "pcnl" and pullback.settings["warmup"] == DEFAULT_WARMUP
    like = bayesinv.GaussianLikelihood(_ValueOnly(A), problem.data, problem.noise_std)
    assert choose_method(bayesinv.Posterior(problem.prior, like)).method == "pcn"


def test_the_automatic_choice_sees_noise_models_and_hyperparameters(problem):
    """A linear map with Student-t noise is not Gaussian (no exact draws); a hierarchical prior
    scale is sampled by Gibbs blocks after pCN steps."""
    from bayesinv.hierarchical import ScaledPrior
    from bayesinv.likelihoods import StudentTLikelihood

    like = StudentTLikelihood(problem.forward, problem.data, 4.0, problem.noise_std)
    assert choose_method(bayesinv.Posterior(problem.prior, like)).method == "gpcnl"
    scaled = bayesinv.Posterior(ScaledPrior(problem.prior, 2.0, 2.0),
                                problem.posterior.likelihood)
    choice = choose_method(scaled)
    assert choice.method == "pcn" and "hyperparameter" in choice.reason


def test_sample_without_a_method_is_exact_on_a_linear_gaussian_problem(problem):
    idata = bayesinv.sample(problem.posterior, draws=50, chains=2, seed=1)
    assert idata.attrs["sampler"] == "exact" and idata.attrs["method_choice"] == "auto"
    assert "linear forward map" in idata.attrs["method_reason"]
    same = bayesinv.sample_exact(problem.posterior, draws=50, chains=2, seed=1)
    np.testing.assert_array_equal(idata.posterior["xi"].values, same.posterior["xi"].values)
    explicit = bayesinv.sample(problem.posterior, "exact", draws=50, chains=2, seed=1)
    np.testing.assert_array_equal(explicit.posterior["xi"].values, same.posterior["xi"].values)
    assert "method_choice" not in explicit.attrs


def test_exact_refuses_chain_options_and_nonlinear_problems(problem):
    with pytest.raises(InvalidArgumentError, match="takes no Markov-chain options; got "
                                                   "step_size, warmup"):
        bayesinv.sample(problem.posterior, "exact", warmup=10, step_size=0.1)
    like = bayesinv.GaussianLikelihood(_PullbackOnly(problem.forward.matrix), problem.data,
                                       problem.noise_std)
    with pytest.raises(InvalidArgumentError, match="need a linear–Gaussian problem"):
        bayesinv.sample(bayesinv.Posterior(problem.prior, like), "exact", draws=5)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_the_automatic_chain_hits_the_exact_posterior(problem, stat_seed):
    """The automatic Markov chain (gpCN-Langevin from the Gauss–Newton–CG MAP, 500 adapted
    warm-up steps) on a linear–Gaussian problem: means and sds of all 10 coordinates against
    the exact posterior, t-tests across 16 independent chains and the calibrated R-hat gate
    (``check_moments``, family-wise false-failure probability ≤ 1e-3)."""
    idata = bayesinv.sample(problem.posterior, warmup=DEFAULT_WARMUP, draws=500, chains=16,
                            seed=21 + 1000 * stat_seed, diagnostics=False)
    assert idata.attrs["sampler"] == "gpcnl" and idata.attrs["init"] == "map"
    assert idata.attrs["adapted"] == 1
    check = check_moments(idata.posterior["xi"].values, problem.mean_latent,
                          np.sqrt(np.diag(problem.cov_latent)))
    assert check.converged, str(check)
    assert check.passed, str(check)


@pytest.mark.slow
def test_an_explicit_method_keeps_its_defaults(problem):
    """method= given: no warm-up, prior starts, no automatic-choice attributes (as before)."""
    idata = bayesinv.sample(problem.posterior, "pcn", beta=0.3, draws=5, chains=2, seed=0,
                            diagnostics=False)
    assert idata.attrs["warmup"] == 0 and idata.attrs["init"] == "prior"
    assert "method_choice" not in idata.attrs


# -- prior defaults -------------------------------------------------------------------------

@pytest.mark.fem
def test_series_prior_default_has_unit_average_pointwise_variance():
    from bayesinv import SeriesPrior, fem

    domain = fem.unit_square(12)
    M = domain.parameter_space.mass_matrix
    area = float(np.ones(M.shape[0]) @ (M @ np.ones(M.shape[0])))
    for boundary in ("dirichlet", "neumann"):
        prior = SeriesPrior.laplacian(domain, alpha=2.0, boundary=boundary, num_modes=15)
        # (1/|O|) ∫ Var θ(x) dx = trace(C M) / |O|, exactly 1 by construction
        assert np.trace(M @ prior.covariance) / area == pytest.approx(1.0, rel=1e-10)
    # an explicit scale is the bare multiplier, as before
    two = SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=15, scale=2.0)
    np.testing.assert_allclose(two.coefficient_sd, 2.0 * two.eigenvalues ** -1.0, rtol=1e-14)
    assert np.trace(M @ two.covariance) / area < 0.05           # the old default's size


@pytest.mark.fem
def test_dirichlet_laplacian_takes_max_eigenvalue_like_laplacian():
    from bayesinv import SeriesPrior, fem

    domain = fem.unit_square(10)
    a = SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, max_eigenvalue=150.0)
    b = SeriesPrior.laplacian(domain, alpha=2.0, boundary="dirichlet", max_eigenvalue=150.0)
    assert a.num_modes == b.num_modes and a.eigenvalues[-1] <= 150.0
    np.testing.assert_array_equal(a.covariance, b.covariance)
    with pytest.raises(InvalidArgumentError, match="num_modes or max_eigenvalue, not both"):
        SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=3, max_eigenvalue=150.0)


GRID = np.stack(np.meshgrid(np.linspace(0, 1, 21), np.linspace(0, 1, 21)), -1).reshape(-1, 2)


def _nonaffine_fraction(prior, draws=200):
    """Mean over draws of the fraction of θ's spatial variance not explained by an affine
    function of x (0 for an affine field)."""
    theta = prior.sample(np.random.default_rng(0), size=draws)
    centred = theta - theta.mean(axis=1, keepdims=True)
    A = np.column_stack([np.ones(len(GRID)), GRID])
    fit = (A @ np.linalg.lstsq(A, centred.T, rcond=None)[0]).T
    return float(np.mean(((centred - fit) ** 2).sum(1) / (centred ** 2).sum(1))), theta


@pytest.mark.parametrize("activation", ["tanh", "relu", "erf", "sine"])
def test_neural_prior_default_draws_are_unit_order_and_not_affine(activation):
    """Measured non-affine fraction at the default ℓ = 0.25 on the unit square: 0.26–0.51;
    at ℓ = 1 (the old default) 0.11–0.14. Each is a mean over 200 draws (fixed seed) of a
    ratio in [0, 1] whose sd is ≈ 0.2, so the margin of 0.05 is ≈ 3.5 standard errors."""
    prior = NeuralFieldPrior(GRID, activation=activation)
    assert prior.length_scale == pytest.approx(0.25)
    fraction, theta = _nonaffine_fraction(prior)
    assert fraction > 0.2
    old, _ = _nonaffine_fraction(NeuralFieldPrior(GRID, activation=activation,
                                                  length_scale=1.0))
    assert old < fraction
    assert 0.3 < theta.std(axis=0).mean() < 3.0


def test_kernel_prior_adds_the_jitter_it_needs():
    from bayesinv import KernelPrior, MaternKernel, SquaredExponentialKernel

    X = GRID[:400]
    se = KernelPrior(X, SquaredExponentialKernel(0.5))   # singular at jitter 0 (see below)
    assert 0.0 < se.jitter <= 1e-6
    with pytest.raises(InvalidArgumentError, match="not positive definite with jitter=0"):
        KernelPrior(X, SquaredExponentialKernel(0.5), jitter=0.0)
    assert KernelPrior(X, MaternKernel(1.5, 0.1)).jitter == 0.0   # none needed
    draw = se.sample(np.random.default_rng(0))
    assert 0.3 < np.abs(draw).max() < 5.0


# -- checks ---------------------------------------------------------------------------------

def test_taylor_check_passes_an_exactly_linear_map_and_fails_a_wrong_adjoint(problem):
    A = problem.forward.matrix
    theta = np.random.default_rng(0).standard_normal(A.shape[1])
    for G in (LinearForwardMap(A), _PullbackOnly(A)):
        report = check_forward_map(G, theta, 1)
        assert np.all(report.r1 <= report.floor), str(report)      # zero remainder
        assert report.passed(), str(report)
    broken = check_forward_map(_WrongPullback(A), theta, 1)
    assert not broken.passed(), str(broken)
    np.testing.assert_allclose(broken.rates1, 1.0, atol=1e-6)      # first order: wrong


@pytest.mark.fem
@pytest.mark.parametrize("activation", ["tanh", "relu", "erf", "sine"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_check_prior_passes_the_neural_priors_at_default_settings(activation, depth):
    from bayesinv import fem

    prior = NeuralFieldPrior.on_domain(fem.unit_square(12), activation=activation, depth=depth)
    report = check_prior(prior, 5)
    assert report.passed(), str(report)


class _WrongJacobianNeural(NeuralFieldPrior):
    """A neural prior whose jvp and vjp are both 2% too large (consistent with each other, so
    only the finite-difference test can see it)."""

    def to_physical_jvp(self, xi, v):
        return 1.02 * super().to_physical_jvp(xi, v)

    def to_physical_vjp(self, xi, v):
        return 1.02 * super().to_physical_vjp(xi, v)


def test_check_prior_fails_a_neural_prior_with_a_wrong_jacobian():
    report = check_prior(_WrongJacobianNeural(GRID[:50], activation="tanh"), 5)
    assert report.dot_product_error < 1e-12
    assert not report.passed(), str(report)


# -- saying what happened -------------------------------------------------------------------

def test_find_map_that_stops_early_warns_with_iterations_and_gradient_norm():
    prob = linear_gaussian(dim=200, num_observations=200, noise_std=1e-4, seed=0,
                           prior_decay=0.0)
    with pytest.warns(BayesinvWarning, match=r"did not converge: 2 iterations \(maxiter=2\), "
                                             r"gradient norm [0-9.e+]+"):
        result = bayesinv.find_map(prob.posterior, maxiter=2)
    assert not result.success


def test_init_map_passes_the_find_map_warning_on():
    """A badly conditioned linear–Gaussian posterior (condition number ≈ 10⁸) on which
    L-BFGS does not reach gtol in 500 iterations."""
    prob = linear_gaussian(dim=300, num_observations=300, noise_std=1e-4, seed=0,
                           prior_decay=0.0)
    with pytest.warns(BayesinvWarning, match="find_map .* did not converge"):
        bayesinv.sample(prob.posterior, "pcn", beta=0.1, init="map", draws=2, chains=1,
                        diagnostics=False)


def test_empty_coverage_table_says_how_many_replicates_were_flagged_and_why():
    problem = ProblemSpec(linear_gaussian_model, {"dim": 4, "num_observations": 3,
                                                  "noise_std": 0.5, "seed": 3})
    ds = run_coverage_study(problem, InferenceSpec("pcn", {"draws": 20, "chains": 2,
                                                           "beta": 0.5}),
                            replicates=3, seed=1, levels=(0.9,), sbc_draws=10,
                            functionals=(LinearFunctional("psi", np.ones(4)),),
                            kinds=("equal_tailed",),
                            convergence=ConvergenceCriteria(rhat_max=None, ess_min=1e6))
    summary = flagged_summary(ds)
    assert summary.startswith("3 of 3 replicates flagged and excluded")
    assert "bulk ESS < 1e+06: 3" in summary and "tail ESS < 1e+06: 3" in summary
    with pytest.warns(BayesinvWarning, match="the coverage table is empty: 3 of 3 replicates"):
        table = coverage_table(ds)
    assert table.empty and table.attrs["flagged"] == summary


def _module_level_factory(**kwargs):
    return linear_gaussian_model(**kwargs)


def test_problem_spec_refuses_a_lambda_with_the_fix():
    with pytest.raises(InvalidArgumentError, match="use a module-level function"):
        ProblemSpec(lambda: linear_gaussian_model(dim=3))
    ProblemSpec(_module_level_factory, {"dim": 3})   # fine


_ALL_FLAGGED_TOML = """
[experiment]
name = "flagged"
seed = 5

[problem]
pde = "linear_gaussian"
noise_std = 0.5

[problem.linear_gaussian]
dim = 4
num_observations = 3
seed = 3

[inference]
method = "pcn"

[inference.settings]
beta = 0.8
draws = 60
chains = 2

[coverage]
replicates = 3
levels = [0.9]
sbc_draws = 20

[[coverage.functionals]]
name = "theta_0"
kind = "nodal"
index = 0

[coverage.convergence]
rhat_max = 1.5
ess_min = 1e6
"""


@pytest.mark.slow
def test_report_says_how_many_replicates_were_flagged_and_why(tmp_path, capsys):
    from bayesinv.cli import main

    cfg = tmp_path / "flagged.toml"
    cfg.write_text(_ALL_FLAGGED_TOML)
    out = tmp_path / "study"
    assert main(["coverage", str(cfg), "--output", str(out), "--executor", "serial",
                 "--quiet"]) == 0
    assert main(["report", str(out), "--no-figures"]) == 0
    md = (out / "report" / "coverage.md").read_text()
    assert "3 of 3 replicates flagged and excluded (bulk ESS < 1e+06: 3" in md
    assert "3 of 3 replicates flagged" in capsys.readouterr().out
