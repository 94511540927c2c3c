"""MCSE z-tests for MCMC output against known answers (see TESTING.md in the design guide).

For each scalar functional, z = (estimate − truth) / MCSE with ArviZ's MCSE of the mean or of
the standard deviation. A family of K tests is rejected at family-wise level α when some
|z| exceeds the Bonferroni threshold Φ⁻¹(1 − α/(2K)). Convergence (R-hat, bulk ESS) is checked
first and reported separately: "not converged" is a different failure from "wrong law".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from ..diagnostics.arviz_io import dataset_from_draws, ess, mcse, rhat


def bonferroni_threshold(num_tests: int, family_alpha: float = 1e-3) -> float:
    """|z| threshold for K two-sided tests at family-wise level α."""
    return float(scipy.stats.norm.ppf(1.0 - family_alpha / (2.0 * num_tests)))


@dataclass
class MomentCheck:
    """z-scores of sampled means and sds against expected values, with convergence numbers."""

    z_mean: np.ndarray
    z_sd: np.ndarray
    rhat: np.ndarray
    ess_bulk: np.ndarray
    threshold: float

    @property
    def converged(self) -> bool:
        return bool(np.all(self.rhat < 1.01) and np.all(self.ess_bulk > 400))

    @property
    def max_abs_z(self) -> float:
        return float(max(np.abs(self.z_mean).max(), np.abs(self.z_sd).max()))

    @property
    def passed(self) -> bool:
        return self.max_abs_z <= self.threshold

    def __str__(self) -> str:
        return (f"max|z| = {self.max_abs_z:.2f} (threshold {self.threshold:.2f}); "
                f"R-hat max {self.rhat.max():.4f}; bulk ESS min {self.ess_bulk.min():.0f}")


def check_moments(draws, mean, sd, family_alpha: float = 1e-3) -> MomentCheck:
    """Compare draws of shape (chain, draw, K) with expected means and sds (length K)."""
    draws = np.asarray(draws, dtype=float)
    data = dataset_from_draws({"f": draws})
    m_hat = draws.mean(axis=(0, 1))
    s_hat = draws.std(axis=(0, 1), ddof=1)
    mcse_mean = mcse(data, method="mean")["f"].values
    mcse_sd = mcse(data, method="sd")["f"].values
    k = draws.shape[-1]
    return MomentCheck(
        z_mean=(m_hat - np.asarray(mean)) / mcse_mean,
        z_sd=(s_hat - np.asarray(sd)) / mcse_sd,
        rhat=rhat(data)["f"].values,
        ess_bulk=ess(data, method="bulk")["f"].values,
        threshold=bonferroni_threshold(2 * k, family_alpha),
    )
