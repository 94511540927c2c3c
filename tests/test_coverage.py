"""The coverage harness: validated on exact posteriors first, then with pCN and ULA.

Problem: the linear–Gaussian reference problem with 8 parameters and 4 observations (half the
directions prior-dominated). With the truth drawn from the prior and exact posterior draws,
every credible set covers with probability exactly its level, so hit counts are
Binomial(R, level) and the ranks of the truth are uniform; a posterior with halved variance
must be caught; at a fixed truth the coverage must match the closed-form frequentist coverage;
ULA must match the coverage of its own (inflated) stationary law, not the nominal level.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import scipy.stats

import bayesinv
from bayesinv import ForwardMap
from bayesinv.coverage import (
    ConvergenceCriteria,
    InferenceSpec,
    LinearFunctional,
    NodalValue,
    ProblemSpec,
    coverage_table,
    load_coverage_study,
    rank_uniformity_pvalue,
    replicate_diagnostics,
    run_coverage_study,
)
from bayesinv.errors import InvalidArgumentError
from bayesinv.samplers.exact import exact_gaussian_posterior, sample_exact
from bayesinv.testing import linear_gaussian
from bayesinv.testing.coverage_problems import (
    frequentist_coverage,
    gaussian_set_coverage,
    inflated_coverage,
    linear_gaussian_model,
)

KWARGS = {"dim": 8, "num_observations": 4, "noise_std": 0.5, "seed": 3}
PROBLEM = ProblemSpec(linear_gaussian_model, KWARGS)
PSI = np.linspace(1.0, 0.0, 8)
FUNCTIONALS = (LinearFunctional("<theta,psi>", PSI), NodalValue("theta_0", 0),
               NodalValue("theta_7", 7))  # θ_0 informed by the data, θ_7 prior-dominated
LEVELS = (0.5, 0.8, 0.95)
EXACT = InferenceSpec("exact", {"draws": 500, "chains": 2})
P_MIN = 1e-3  # a check that a wrong posterior is detected
P_FAMILY = 1e-3  # false-failure probability of a family of checks (Bonferroni over its cells)


def _applicable(ds):
    """(level, kind, functional) labels where the kind applies to the functional."""
    cov = ds["coverage"]
    return [(lv, k, f) for lv in ds.level.values for k in ds.kind.values
            for f in ds.functional.values
            if not np.isnan(cov.sel(level=lv, kind=k, functional=f))]


@pytest.fixture(scope="module")
def exact_sbc(stat_seed):
    return run_coverage_study(PROBLEM, EXACT, replicates=300, seed=11 + 1000 * stat_seed,
                              levels=LEVELS,
                              functionals=FUNCTIONALS, convergence=None)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_exact_posterior_coverage_is_binomial_for_every_set(exact_sbc):
    """Hit counts of exact credible sets at truths drawn from the prior are Binomial(300, level).
    False-failure probability per run ≤ 1e-3 (binomial tests, Bonferroni over the 24 cells)."""
    ds = exact_sbc
    cells = _applicable(ds)
    # 3 levels x (2 interval kinds x 3 functionals + band + L² ball on the field)
    assert len(cells) == 3 * (2 * 3 + 2)
    assert int(ds.num_valid) == 300 and int(ds.num_flagged) == 0
    for lv, kind, func in cells:
        hits = ds["hit"].sel(level=lv, kind=kind, functional=func).values
        assert set(np.unique(hits)) <= {0.0, 1.0}
        k = int(hits.sum())
        assert int(ds["num_hits"].sel(level=lv, kind=kind, functional=func)) == k
        p = scipy.stats.binomtest(k, 300, lv).pvalue
        assert p > P_FAMILY / len(cells), f"{kind} {func} at {lv}: {k}/300 hits (p = {p:.2g})"
        lo, hi = ds["coverage_lower"].sel(level=lv, kind=kind, functional=func), \
            ds["coverage_upper"].sel(level=lv, kind=kind, functional=func)
        assert lo <= k / 300 <= hi
    # hits are NaN exactly where a kind does not apply (intervals: scalars; band/ball: field)
    assert np.isnan(ds["hit"].sel(kind="band", functional="theta_0")).all()
    assert np.isnan(ds["hit"].sel(kind="equal_tailed", functional="field")).all()
    assert ds.attrs["mode"] == "sbc"


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_exact_posterior_sbc_ranks_are_uniform(exact_sbc):
    """False-failure probability per run ≤ 1e-3 (uniformity tests, Bonferroni over 5)."""
    pvals = exact_sbc["rank_pvalue"].values
    tested = pvals[~np.isnan(pvals)]
    assert tested.size == 3 + 2  # equal-tailed x 3 scalars, band and L² ball statistics
    assert tested.min() > P_FAMILY / tested.size, exact_sbc["rank_pvalue"].to_series().dropna()
    ranks = exact_sbc["rank"].sel(kind="equal_tailed").values[:, :3]
    assert ranks.min() >= 0 and ranks.max() <= 99


@pytest.mark.slow
@pytest.mark.statistical(alpha=2e-4)
def test_pointwise_field_fraction_averages_to_the_level(exact_sbc):
    """False-failure probability per run ≤ 2e-4 (three |z| < 4 tests on means of 300 iid
    replicates)."""
    frac = exact_sbc["pointwise_fraction"].sel(kind="equal_tailed")  # (replicate, level)
    mean = frac.mean("replicate").values
    se = frac.std("replicate").values / np.sqrt(300)
    assert np.all(np.abs(mean - np.array(LEVELS)) < 4 * se)


def halved_variance(posterior, *, seed, draws, chains):
    """Exact draws shrunk towards the exact mean: the posterior variance halved."""
    idata = sample_exact(posterior, draws=draws, chains=chains, seed=seed)
    mu, _ = exact_gaussian_posterior(posterior)
    xi = mu + (idata.posterior["xi"].values - mu) / np.sqrt(2.0)
    idata.posterior["xi"].values[...] = xi
    idata.posterior["theta"].values[...] = posterior.prior.to_physical(xi)
    return idata


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_a_posterior_with_halved_variance_is_detected_as_under_covering(stat_seed):
    # Halving the variance, a scalar interval at level 0.8 / 0.9 / 0.95 covers 0.635 / 0.755 /
    # 0.834 (band and ball less). With R = 400 each check below fails with probability
    # <= 2.3e-5 (computed from the binomial law of the counts).
    ds = run_coverage_study(PROBLEM, InferenceSpec(halved_variance, EXACT.settings),
                            replicates=400, seed=12 + 1000 * stat_seed,
                            levels=(0.8, 0.9, 0.95),
                            functionals=FUNCTIONALS, convergence=None,
                            kinds=("equal_tailed", "band", "l2_ball"))
    for lv, kind, func in _applicable(ds):
        sel = {"level": lv, "kind": kind, "functional": func}
        assert ds["coverage_upper"].sel(sel) < lv, (kind, func, lv)
        assert ds["binom_pvalue"].sel(sel) < P_MIN, (kind, func, lv)
    assert np.nanmax(ds["rank_pvalue"].values) < P_MIN


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_frequentist_coverage_at_a_fixed_truth_matches_the_closed_form(stat_seed):
    """Hit counts against the closed-form frequentist coverage of the exact credible interval.
    False-failure probability per run ≤ 1e-3 (binomial tests, Bonferroni over the 9 cells; the
    power check "far from nominal" fails with probability < 1e-6 at these biases)."""
    problem = linear_gaussian(**KWARGS)
    truth = 2.0 * problem.truth  # a truth the prior finds unlikely: credible ≠ confidence
    R = 200
    ds = run_coverage_study(PROBLEM, EXACT, replicates=R, seed=13 + 1000 * stat_seed,
                            truth=truth, levels=LEVELS,
                            functionals=FUNCTIONALS, convergence=None,
                            kinds=("equal_tailed",))
    assert ds.attrs["mode"] == "frequentist"
    np.testing.assert_allclose(ds["truth_value"].values, np.tile(
        [PSI @ truth, truth[0], truth[7]], (R, 1)))
    far_from_nominal = 0
    for f, w in zip(FUNCTIONALS, (PSI, np.eye(8)[0], np.eye(8)[7]), strict=True):
        for lv in LEVELS:
            expected = frequentist_coverage(problem, w, lv, truth=truth)
            k = int(ds["num_hits"].sel(level=lv, kind="equal_tailed", functional=f.name))
            if expected < 1e-9 or expected > 1 - 1e-9:  # data cannot move the interval
                assert k == round(expected) * R, (f.name, lv, k)
                continue
            p = scipy.stats.binomtest(k, R, expected).pvalue
            assert p > P_FAMILY / 9, f"{f.name} at {lv}: {k}/{R}, expected {expected:.3f}"
            far_from_nominal += scipy.stats.binomtest(k, R, lv).pvalue < P_MIN
    assert far_from_nominal >= 3  # the study sees the prior's bias, not the nominal level


MCMC_CRITERIA = ConvergenceCriteria(rhat_max=1.05, ess_min=100)


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(2) as executor:
        yield executor


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_pcn_coverage_is_nominal(pool, stat_seed):
    """pCN's credible sets cover at the nominal level at truths from the prior. False-failure
    probability per run ≤ 1e-3 (binomial tests, Bonferroni over the cells; the finite-chain
    error of the sets' quantiles is small next to the binomial error at R = 100)."""
    pcn = InferenceSpec("pcn", {"beta": 0.8, "draws": 1500, "chains": 2, "warmup": 200})
    ds = run_coverage_study(PROBLEM, pcn, replicates=100, seed=14 + 1000 * stat_seed,
                            levels=(0.5, 0.9),
                            functionals=FUNCTIONALS[:2], convergence=MCMC_CRITERIA,
                            executor=pool)
    assert int(ds.num_flagged) <= 10, ds["flags"].values
    n = int(ds.num_valid)
    cells = _applicable(ds)
    for lv, kind, func in cells:
        k = int(ds["num_hits"].sel(level=lv, kind=kind, functional=func))
        assert scipy.stats.binomtest(k, n, lv).pvalue > P_FAMILY / len(cells), (
            kind, func, lv, k, n)
    assert 0.3 < float(ds["acceptance_rate"].mean()) < 0.9


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_ula_coverage_matches_its_stationary_law_not_the_level(pool, stat_seed):
    """False-failure probability per run ≤ 1e-3 (binomial tests against ULA's exact law,
    Bonferroni over the cells; the power check fails with probability 2e-6)."""
    step = 0.9
    ula = InferenceSpec("ula", {"step_size": step, "preconditioner": "laplace", "init": "map",
                                "draws": 250, "chains": 2, "warmup": 20})
    R = 100
    ds = run_coverage_study(PROBLEM, ula, replicates=R, seed=15 + 1000 * stat_seed,
                            levels=(0.5, 0.9),
                            functionals=FUNCTIONALS[:1], convergence=MCMC_CRITERIA,
                            executor=pool, kinds=("equal_tailed", "band", "l2_ball"))
    assert int(ds.num_flagged) == 0, ds["flags"].values
    problem = linear_gaussian(**KWARGS)
    L = problem.prior.factor
    _, S = problem.ula_stationary(step, preconditioner=problem.cov_latent)
    cells = _applicable(ds)
    for lv, kind, func in cells:
        expected = gaussian_set_coverage(problem.cov, L @ S @ L.T, lv, kind, weights=PSI)
        k = int(ds["num_hits"].sel(level=lv, kind=kind, functional=func))
        p = scipy.stats.binomtest(k, R, expected).pvalue
        assert p > P_FAMILY / len(cells), (
            f"{kind} at {lv}: {k}/{R} hits, ULA's law gives {expected:.3f}")
    # ULA's inflation is visible: at level 0.5 its band covers 0.85, and the count rejects the
    # nominal level unless k <= 66, which has probability 2e-6 under Binomial(100, 0.85)
    k = int(ds["num_hits"].sel(level=0.5, kind="band", functional="field"))
    assert scipy.stats.binomtest(k, R, 0.5).pvalue < P_MIN, k


@pytest.mark.slow
def test_process_pool_gives_the_same_results_as_serial(pool):
    pcn = InferenceSpec("pcn", {"beta": 0.8, "draws": 200, "chains": 2})
    kw = {"replicates": 4, "seed": 16, "functionals": FUNCTIONALS, "levels": (0.5, 0.9),
          "convergence": ConvergenceCriteria(rhat_max=1.5, ess_min=10), "truth": "fixed"}
    serial = run_coverage_study(PROBLEM, pcn, **kw)
    parallel = run_coverage_study(PROBLEM, pcn, executor=pool, **kw)
    assert parallel.attrs["executor"] == "ProcessPoolExecutor"
    for name in serial.data_vars:
        if name != "wall_time":
            np.testing.assert_array_equal(serial[name].values, parallel[name].values, name)
    # A replicate depends on (seed, r) only: the first replicates of a longer study agree.
    longer = run_coverage_study(PROBLEM, pcn, **{**kw, "replicates": 6})
    np.testing.assert_array_equal(longer["hit"].values[:4], serial["hit"].values)
    other = run_coverage_study(PROBLEM, pcn, **{**kw, "seed": 17})
    assert not np.array_equal(other["posterior_mean"].values, serial["posterior_mean"].values)


def test_study_round_trips_through_netcdf(tmp_path):
    path = tmp_path / "study.nc"
    ds = run_coverage_study(PROBLEM, EXACT, replicates=5, seed=18, functionals=FUNCTIONALS,
                            convergence=ConvergenceCriteria(rhat_max=1.1, ess_min=10),
                            output=path)
    back = load_coverage_study(path)
    for name in ds.data_vars:
        np.testing.assert_array_equal(back[name].values, ds[name].values, name)
    assert back.attrs["inference"] == ds.attrs["inference"]
    assert back["flagged"].dtype == bool
    assert not list(tmp_path.glob("*.tmp"))
    table = coverage_table(back)
    assert len(table) == len(_applicable(ds)) and set(table["valid"]) == {5}
    # no scalar functionals: the field's band and L² ball only
    field_only = run_coverage_study(PROBLEM, EXACT, replicates=2, seed=18, convergence=None)
    assert list(field_only["functional"].values) == ["field"]
    assert not np.isnan(field_only["hit"].sel(kind="l2_ball")).any()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_flagged_and_failed_replicates_are_reported_and_excluded():
    # ULA with a step far beyond stability diverges: the replicate fails, is flagged, and the
    # study goes on. Short pCN chains fail an ESS requirement and are flagged too.
    bad = InferenceSpec("ula", {"step_size": 50.0, "draws": 200, "chains": 2})
    ds = run_coverage_study(PROBLEM, bad, replicates=2, seed=19, functionals=FUNCTIONALS)
    assert ds["flagged"].all() and int(ds.num_valid) == 0
    assert all("SamplerDivergenceError" in f for f in ds["failure"].values)
    assert np.isnan(ds["coverage"].values).all()
    short = InferenceSpec("pcn", {"beta": 0.3, "draws": 100, "chains": 2})
    ds = run_coverage_study(PROBLEM, short, replicates=6, seed=20, functionals=FUNCTIONALS,
                            convergence=ConvergenceCriteria(rhat_max=None, ess_min=50))
    flagged = ds["flagged"].values
    assert flagged.any() and all("ESS" in f for f in ds["flags"].values[flagged])
    assert int(ds.num_valid) == int((~flagged).sum()) < 6
    applicable = ~np.isnan(ds["hit"].values).all(axis=0)
    valid_hits = np.nansum(ds["hit"].values[~flagged], axis=0)
    np.testing.assert_array_equal(ds["num_hits"].values[applicable], valid_hits[applicable])


def test_rank_uniformity_test_rejects_a_skewed_rank_distribution(rng):
    uniform = rng.integers(0, 100, size=500)
    assert rank_uniformity_pvalue(uniform, 99) > P_MIN
    skewed = np.minimum(rng.integers(0, 100, size=500), rng.integers(0, 100, size=500))
    assert rank_uniformity_pvalue(skewed, 99) < 1e-10
    assert np.isnan(rank_uniformity_pvalue(uniform[:5], 99))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"levels": (0.5, 1.0)}, r"each level must be in \(0.0, 1.0\), got 1.0"),
    ({"levels": (0.0,)}, r"each level must be in \(0.0, 1.0\), got 0.0"),
    ({"levels": (-0.2, 0.5)}, r"each level must be in \(0.0, 1.0\)"),
    ({"levels": ()}, "at least one level"),
    ({"replicates": 0}, r"replicates \(R\) must be >= 1, got 0"),
    ({"truth": np.zeros(7)}, r"truth must have shape \(8,\) .* got shape \(7,\)"),
    ({"truth": "posterior"}, "truth must be one of"),
    ({"functionals": (LinearFunctional("psi", np.ones(9)),)},
     r"psi must be .* length 8 .* got shape \(9,\) — is it on a different mesh"),
    ({"functionals": (NodalValue("a", 0), NodalValue("a", 1))}, "distinct string names"),
    ({"kinds": ("band", "ellipsoid")}, "kind must be one of"),
    ({"inference": InferenceSpec("exact", {"draws": 50, "chains": 1})},
     "R-hat needs at least 2 chains, but the inference runs 1"),
    ({"sbc_draws": 200, "inference": InferenceSpec("exact", {"draws": 50, "chains": 2}),
      "convergence": None}, "sbc_draws=200 exceeds the 100 posterior draws"),
])
def test_bad_study_arguments(kwargs, message):
    kw = {"inference": EXACT, "replicates": 2, "seed": 0, "functionals": FUNCTIONALS[:1]}
    kw.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=message):
        run_coverage_study(PROBLEM, **kw)


def test_rhat_on_a_single_chain_is_a_clear_error():
    problem = linear_gaussian(**KWARGS)
    idata = sample_exact(problem.posterior, draws=100, chains=1, seed=0)
    with pytest.raises(InvalidArgumentError, match="R-hat needs at least 2 chains, got 1"):
        replicate_diagnostics(idata)
    diag = replicate_diagnostics(idata, rhat_required=False)
    assert np.isnan(diag["rhat_max"]) and diag["ess_bulk_min"] > 30
    # a monitored quantity that sticks after draw 50 has the smallest ESS, with or without ξ
    sticky = idata.posterior["xi"].values[..., :1].copy()
    sticky[0, 50:] = sticky[0, 50]
    only = replicate_diagnostics(idata, sticky, latent=False, rhat_required=False)
    both = replicate_diagnostics(idata, sticky, latent=True, rhat_required=False)
    assert only["ess_bulk_min"] == both["ess_bulk_min"] < diag["ess_bulk_min"]
    two = sample_exact(problem.posterior, draws=100, chains=2, seed=0)
    assert replicate_diagnostics(two, latent=True)["rhat_max"] < 1.1
    with pytest.raises(InvalidArgumentError, match="nothing to diagnose"):
        replicate_diagnostics(two, latent=False)


def test_exact_draws_have_the_exact_posterior_moments():
    problem = linear_gaussian(**KWARGS)
    mu, R = exact_gaussian_posterior(problem.posterior)
    np.testing.assert_allclose(mu, problem.mean_latent, atol=1e-12)
    np.testing.assert_allclose(R @ R.T, problem.cov_latent, atol=1e-12)
    idata = sample_exact(problem.posterior, draws=20_000, chains=2, seed=1)
    theta = idata.posterior["theta"].values.reshape(-1, 8)
    se = np.sqrt(np.diag(problem.cov) / theta.shape[0])
    assert np.all(np.abs(theta.mean(axis=0) - problem.mean) < 4.5 * se)
    np.testing.assert_allclose(np.cov(theta.T), problem.cov, atol=0.05 * np.abs(
        problem.cov).max())
    lp = idata.sample_stats["lp"].values[0, :3]
    xi = idata.posterior["xi"].values[0, :3]
    np.testing.assert_allclose(lp, [problem.posterior.whitened.logdensity(x) for x in xi])
    cubic = bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        _Cubic(problem.forward.matrix), problem.data, problem.noise_std))
    with pytest.raises(InvalidArgumentError, match="need a linear–Gaussian problem"):
        sample_exact(cubic, draws=10, chains=2)


class _Cubic(ForwardMap):
    """G(θ) = A θ³: a non-linear map, for which there is no exact Gaussian posterior."""

    def __init__(self, matrix):
        super().__init__()
        self.matrix = matrix
        self.output_dim, self.input_dim = matrix.shape

    def value_and_pullback(self, theta):
        theta = self._check_theta(theta)
        return self.matrix @ theta**3, lambda w: 3 * theta**2 * (self.matrix.T @ w)


def test_reference_coverages_reduce_to_the_level_for_the_exact_law():
    problem = linear_gaussian(**KWARGS)
    for kind in ("equal_tailed", "band", "l2_ball"):
        value = gaussian_set_coverage(problem.cov, problem.cov, 0.8, kind, weights=PSI)
        assert value == pytest.approx(0.8, abs=0.005), kind  # MC standard error ≈ 0.001
    assert gaussian_set_coverage(problem.cov, 2 * problem.cov, 0.8, "l2_ball") > 0.9
    assert float(inflated_coverage(0.95, 1.0)) == pytest.approx(0.95, abs=1e-12)
    # At the prior mean (0) the posterior mean is unbiased and varies less (over data sets)
    # than the posterior sd: the intervals over-cover.
    assert frequentist_coverage(problem, PSI, 0.8, truth=np.zeros(8)) > 0.8
