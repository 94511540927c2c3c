"""The calibrated checks of :mod:`bayesinv.testing.stats` keep their stated error rates.

Exactly stationary Gaussian AR(1) chains (started in their stationary law) stand in for a
correct sampler: the checks must fail them at most at the stated rate, and must reject chains
whose law is wrong. Many replicates are run at once as extra coordinates.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bayesinv.arviz_io import dataset_from_draws, ess, rhat
from bayesinv.testing import check_moments
from bayesinv.testing.stats import rhat_threshold


def _ar1(rng, chains, draws, coords, rho):
    """Stationary AR(1) chains with N(0, 1) marginals, shape (chains, draws, coords)."""
    x = np.empty((chains, draws, coords))
    x[:, 0] = rng.standard_normal((chains, coords))
    noise = np.sqrt(1 - rho**2) * rng.standard_normal((chains, draws, coords))
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def _family_failures(failed_per_coord, family_size):
    return failed_per_coord.reshape(-1, family_size).any(axis=1)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-4)
def test_calibrated_rhat_gate_keeps_its_rate_where_a_fixed_cutoff_fails(rng):
    """4 chains of 1000 steps, ρ = 0.9 (bulk ESS ≈ 200), families of 12 coordinates, 100
    families. The gate at family level 0.2 fails at most 20% of them (a one-sided binomial
    check at level 1e-4, which is this test's false-failure probability); the fixed cut-off
    1.01 fails almost all of them, which is why no test may rely on it."""
    chains, coords, families, alpha = 4, 12, 100, 0.2
    draws = _ar1(rng, chains, 1000, coords * families, rho=0.9)
    data = dataset_from_draws({"f": draws})
    r = rhat(data)["f"].values
    n_e = np.minimum(ess(data, method="bulk")["f"].values,
                     ess(data, method="folded")["f"].values) / (2 * chains)
    limit = rhat_threshold(n_e, chains, 2 * coords, alpha)
    calibrated = _family_failures(r > limit, coords).sum()
    fixed = _family_failures(r > 1.01, coords).sum()
    assert scipy.stats.binom.sf(calibrated - 1, families, alpha) > 1e-4, calibrated
    assert fixed > 0.9 * families, fixed


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-4)
def test_chain_mean_t_tests_keep_their_rate_and_detect_a_wrong_law(rng):
    """16 stationary chains, ρ = 0.8: ``check_moments`` at family level 0.2 passes at least
    80% of 60 correct families (binomial check at 1e-4: this test's false-failure
    probability), and rejects every family whose truth is off by 0.2 sd in the mean or
    10% in the sd (|t| ≈ 12 against a threshold ≈ 5.5: power ≈ 1)."""
    chains, coords, families, alpha = 16, 4, 60, 0.2
    draws = _ar1(rng, chains, 2000, coords * families, rho=0.8)
    wrong = 0
    for f in range(families):
        block = draws[..., f * coords:(f + 1) * coords]
        ok = check_moments(block, np.zeros(coords), np.ones(coords), family_alpha=alpha,
                           min_ess=100)
        wrong += not (ok.passed and ok.converged)
        shifted = check_moments(block, np.full(coords, 0.2), np.ones(coords))
        wider = check_moments(block, np.zeros(coords), np.full(coords, 1.1))
        assert not shifted.passed and not wider.passed, (shifted, wider)
    assert scipy.stats.binom.sf(wrong - 1, families, alpha) > 1e-4, wrong


def test_check_moments_needs_independent_chains():
    with pytest.raises(ValueError, match=">= 4 independent chains"):
        check_moments(np.zeros((2, 100, 3)), np.zeros(3), np.ones(3))
