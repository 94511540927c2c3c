"""Credible sets: geometry against held-out draws, exact quantiles and FE quadrature.

A set built at level p from S_A draws contains a fraction F(R̂) of the posterior, where R̂ is
the empirical p-quantile of its statistic: F(R̂) has sd √(p(1−p)/S_A). Counting it on S_B
held-out independent draws adds binomial noise, so the held-out fraction has sd
√(p(1−p)(1/S_A + 1/S_B)); tests require |z| below the Bonferroni threshold of their family.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import scipy.stats

from bayesinv import GaussianPrior
from bayesinv.diagnostics.credible import (
    Interval,
    functional_interval,
    functional_weights,
    l2_ball,
    l2_norm,
    point_value_interval,
    pointwise_intervals,
    scalar_interval,
    simultaneous_band,
)
from bayesinv.errors import InvalidArgumentError
from bayesinv.samplers.exact import sample_exact
from bayesinv.testing import bonferroni_threshold, linear_gaussian

LEVELS = (0.5, 0.9, 0.95)


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=10, num_observations=5, noise_std=0.3, seed=7)


@pytest.fixture(scope="module")
def draws(problem, stat_seed):
    """Construction draws (S_A = 4000) and held-out draws (S_B = 40 000), independent."""
    build = sample_exact(problem.posterior, draws=1000, chains=4, seed=1 + 1000 * stat_seed)
    held_out = sample_exact(problem.posterior, draws=10_000, chains=4,
                            seed=2 + 1000 * stat_seed)
    return build, held_out.posterior["theta"].values.reshape(-1, 10)


def _z(fraction, level, s_a, s_b):
    return (fraction - level) / np.sqrt(level * (1 - level) * (1 / s_a + 1 / s_b))


@pytest.mark.statistical(alpha=1e-3)
def test_l2_ball_holds_its_level_of_held_out_draws(draws, problem, stat_seed):
    """False-failure probability per run ≤ 1e-3 (normal limit of the held-out fraction; Bonferroni
    over the levels).
    """
    build, held = draws
    M = np.diag(np.linspace(0.5, 2.0, 10))  # a non-trivial quadrature weight
    threshold = bonferroni_threshold(len(LEVELS))
    for level in LEVELS:
        ball = l2_ball(build, level, mass_matrix=M)
        z = _z(ball.contains(held).mean(), level, 4000, held.shape[0])
        assert abs(z) < threshold, (level, z)
        np.testing.assert_allclose(ball.center, build.posterior["theta"].values.mean(axis=(0, 1)))
        assert ball.contains(ball.center) and not ball.contains(ball.center + 10.0)
    # the ball is about the exact posterior mean, with the M-weighted norm
    assert l2_norm(ball.center - problem.mean, M) < 0.05 * ball.radius
    d = held[0] - ball.center
    assert ball.distance(held[0]) == pytest.approx(np.sqrt(d @ M @ d), rel=1e-12)


@pytest.mark.statistical(alpha=1e-3)
def test_band_holds_its_level_of_whole_held_out_draws(draws, stat_seed):
    """False-failure probability per run ≤ 1e-3 (normal limit of the held-out fraction; Bonferroni
    over the levels).
    """
    build, held = draws
    threshold = bonferroni_threshold(len(LEVELS))
    for level in LEVELS:
        band = simultaneous_band(build, level)
        z = _z(band.contains(held).mean(), level, 4000, held.shape[0])
        assert abs(z) < threshold, (level, z)
        # simultaneous: wider than the pointwise intervals at the same level, at every node
        pw = pointwise_intervals(build, level)
        assert np.all(band.lower < pw.lower) and np.all(band.upper > pw.upper)
        # whole draws inside the band are inside it at every node
        inside = band.contains(held)
        assert np.all((held[inside] >= band.lower) & (held[inside] <= band.upper))


@pytest.mark.statistical(alpha=1e-3)
def test_pointwise_intervals_hold_their_level_at_each_node(draws, stat_seed):
    """False-failure probability per run ≤ 1e-3 (normal limit of the held-out fractions; Bonferroni
    over 10 nodes × 2 kinds).
    """
    build, held = draws
    threshold = bonferroni_threshold(10 * 2)
    for kind in ("equal_tailed", "hdi"):
        pw = pointwise_intervals(build, 0.9, kind=kind)
        frac = pw.contains(held).mean(axis=0)
        assert np.all(np.abs(_z(frac, 0.9, 4000, held.shape[0])) < threshold), (kind, frac)
        assert pw.fraction_contained(held[:3]).shape == (3,)


@pytest.mark.statistical(alpha=2e-4)
def test_equal_tailed_interval_matches_gaussian_quantiles(rng, stat_seed):
    """False-failure probability per run ≤ 2e-4 (two |z| < 4 tests of sample quantiles of 200 000
    iid draws).
    """
    mu, sd, n, level = 1.5, 0.7, 200_000, 0.9
    x = rng.normal(mu, sd, size=(4, n // 4))
    interval = scalar_interval(x, level)
    exact = scipy.stats.norm(mu, sd).ppf([0.05, 0.95])
    # sd of a sample quantile: √(p(1−p)/n) / density at the quantile
    se = np.sqrt(0.05 * 0.95 / n) / scipy.stats.norm(mu, sd).pdf(exact[0])
    assert abs(interval.lower - exact[0]) < 4 * se and abs(interval.upper - exact[1]) < 4 * se
    hdi = scalar_interval(x, level, kind="hdi")  # symmetric unimodal law: HDI = equal-tailed
    assert abs(hdi.lower - exact[0]) < 12 * se and abs(hdi.upper - exact[1]) < 12 * se


def test_hdi_of_a_skewed_law_is_the_shortest_interval(rng):
    law, level = scipy.stats.lognorm(s=0.6), 0.8

    def gap(a):  # equal densities at both ends of an interval of mass `level`
        return law.pdf(a) - law.pdf(law.ppf(law.cdf(a) + level))

    a = scipy.optimize.brentq(gap, 1e-9, law.ppf(1 - level) - 1e-12)
    b = law.ppf(law.cdf(a) + level)
    x = law.rvs(size=(4, 10_000), random_state=rng)
    hdi = scalar_interval(x, level, kind="hdi")
    et = scalar_interval(x, level, kind="equal_tailed")
    # Over 50 seeds this estimator's error had sd 0.009 (lower) and 0.013 (upper) at S = 40 000;
    # the equal-tailed interval [0.46, 2.16] is 0.18 and 0.44 away.
    assert abs(hdi.lower - a) < 0.04 and abs(hdi.upper - b) < 0.05
    assert hdi.width < et.width - 0.2
    held = law.rvs(size=40_000, random_state=rng)
    assert abs(_z(hdi.contains(held).mean(), level, 40_000, 40_000)) < 4


def test_band_with_degenerate_nodes_requires_equality_there(rng):
    # a prior pinned to zero at two nodes (as a Dirichlet-series prior is on the boundary)
    factor = np.eye(6)[:, :4] * np.array([1.0, 2.0, 0.5, 1.0])
    prior = GaussianPrior(np.vstack([factor[:4], np.zeros((2, 4))]))
    draws = prior.sample(rng, size=2000).reshape(2, 1000, 6)
    band = simultaneous_band(draws, 0.9)
    assert np.all(band.scale[4:] == 0)
    inside = draws.reshape(-1, 6)[band.contains(draws.reshape(-1, 6))]
    assert 0.85 < inside.shape[0] / 2000 < 0.95
    moved = inside[0].copy()
    moved[5] = 1e-3
    assert band.contains(inside[0]) and not band.contains(moved)
    interior = simultaneous_band(draws, 0.9, nodes=np.arange(4))
    assert interior.contains(moved)  # the band restricted to the varying nodes ignores node 5


def test_inference_data_and_arrays_give_the_same_sets(draws):
    build, _ = draws
    arr = build.posterior["theta"].values
    eye = sp.identity(10)  # the Euclidean product, asked for explicitly
    assert l2_ball(build, 0.9, mass_matrix=eye).radius == l2_ball(arr, 0.9, mass_matrix=eye).radius
    assert simultaneous_band(build, 0.9).radius == simultaneous_band(arr, 0.9).radius
    psi = np.linspace(0, 1, 10)
    a = functional_interval(build, psi, 0.9, mass_matrix=eye)
    b = scalar_interval(arr @ psi, 0.9)
    assert (a.lower, a.upper) == (b.lower, b.upper)
    assert isinstance(a, Interval) and a.contains(a.lower) and not a.contains(a.upper + 1e-9)
    np.testing.assert_array_equal(a.contains([a.lower - 1, (a.lower + a.upper) / 2]),
                                  [False, True])


@pytest.mark.fem
def test_fe_functionals_use_mass_matrix_quadrature_and_point_evaluation(rng):
    from bayesinv import fem

    domain = fem.unit_square(6)
    space = domain.parameter_space
    n = space.num_dofs
    # θ_s = c_s x (P1 interpolation is exact for linear functions): ⟨θ_s, y⟩ = c_s/4 exactly
    c = rng.normal(2.0, 0.5, size=(2, 500))
    x_nodes = space.coordinates[:, 0]
    theta = c[..., None] * x_nodes
    interval = functional_interval(theta, lambda x: x[1], 0.9, space=space)
    expected = scalar_interval(c / 4.0, 0.9)
    assert interval.lower == pytest.approx(expected.lower, abs=1e-12)
    assert interval.upper == pytest.approx(expected.upper, abs=1e-12)
    # ψ as nodal values (an FE function) gives the same weights as the callable
    np.testing.assert_allclose(functional_weights(space.coordinates[:, 1], n, space=space),
                               functional_weights(lambda x: x[1], n, space=space), atol=1e-15)
    point = point_value_interval(theta, [0.3, 0.7], 0.9, space=space)
    expected = scalar_interval(0.3 * c, 0.9)
    assert point.lower == pytest.approx(expected.lower, abs=1e-12)
    assert point.upper == pytest.approx(expected.upper, abs=1e-12)
    # the L² ball's norm is the L²(O) norm of the FE function (mass-matrix quadrature)
    ball = l2_ball(theta, 0.9, space=space)
    u = theta[0, 0] - ball.center
    assert ball.distance(theta[0, 0]) == pytest.approx(space.l2_error(u, lambda x: 0 * x[0]),
                                                        rel=1e-10)
    with pytest.raises(InvalidArgumentError, match="lie outside the domain"):
        point_value_interval(theta, [1.5, 0.5], 0.9, space=space)
    coarse = fem.unit_square(4).parameter_space.interpolate(lambda x: x[1])
    with pytest.raises(InvalidArgumentError, match=f"length {n} .* different mesh"):
        functional_interval(theta, coarse, 0.9, space=space)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1, float("nan"), True, "0.9"])
def test_levels_outside_the_unit_interval_are_rejected(draws, level):
    build, _ = draws
    for make in (l2_ball, simultaneous_band, pointwise_intervals):
        with pytest.raises(InvalidArgumentError, match=r"level must be in \(0.0, 1.0\)"):
            make(build, level)


def test_bad_inputs_have_clear_errors(draws):
    build, held = draws
    ball = l2_ball(build, 0.9, mass_matrix=sp.identity(10))
    with pytest.raises(InvalidArgumentError, match=r"value must have shape \(10,\).* \(9,\)"):
        ball.contains(np.zeros(9))
    with pytest.raises(InvalidArgumentError, match=r"value must have shape \(10,\)"):
        simultaneous_band(build, 0.9).contains(np.zeros((3, 11)))
    with pytest.raises(InvalidArgumentError, match=r"length 10 .* got shape \(12,\)"):
        functional_interval(build, np.ones(12), 0.9)
    with pytest.raises(InvalidArgumentError, match="callable psi needs space"):
        functional_interval(build, lambda x: x[0], 0.9)
    with pytest.raises(InvalidArgumentError, match=r"mass_matrix must have shape \(10, 10\)"):
        l2_ball(build, 0.9, mass_matrix=np.eye(9))
    with pytest.raises(InvalidArgumentError, match="no variable 'eta'"):
        l2_ball(build, 0.9, var_name="eta")
    with pytest.raises(InvalidArgumentError, match="NaN or inf"):
        l2_ball(np.full((2, 5, 10), np.nan), 0.9)
    with pytest.raises(InvalidArgumentError, match="at least 2 draws"):
        l2_ball(held[:1][None], 0.9)
    with pytest.raises(InvalidArgumentError, match="kind must be one of"):
        pointwise_intervals(build, 0.9, kind="central")
    with pytest.raises(InvalidArgumentError, match="nodes must be non-empty indices"):
        simultaneous_band(build, 0.9, nodes=[3, 10])
