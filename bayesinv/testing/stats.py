r"""Calibrated tests of MCMC output against known answers (see TESTING.md in the design guide).

Every check here has a stated false-failure probability: when the sampler is right, the check
fails with probability at most ``family_alpha`` (asymptotically in the chain length), on every
machine. Two ingredients:

**Replicate-chain t-tests** (:func:`check_moments`). C independent chains, each started from
its own draw and run past its warm-up, give C independent, asymptotically normal estimates of
E f and of E (f − μ)² for each scalar functional f with known mean μ and sd s. The statistic

    t = (mean of the C chain estimates − truth) / (their standard deviation / √C)

is Student-t with C − 1 degrees of freedom under the null, whatever the chains'
autocorrelation: no ESS or MCSE estimate enters, which is why this test keeps its nominal
level where an ESS-scaled z-test with few chains does not (Geyer 1992; TESTING.md). A family
of 2K tests (K means, K second moments about the true mean) is rejected at family-wise level α
when some |t| exceeds the Bonferroni threshold t_{C−1}^{-1}(1 − α/(4K)).

**A calibrated R-hat gate** (:func:`rhat_threshold`). For M split chains each of effective
size n_e, stationary and independent, the between/within variance ratio gives

    R̂² ≈ 1 − 1/n + F / n_e,   F ~ χ²_{M−1}/(M−1)

(the chain means are independent N(μ, σ²/n_e); Gelman & Rubin 1992, Vehtari et al. 2021). A
coordinate is "not converged" when its R-hat exceeds √(1 + q/n_e) with q the Bonferroni
quantile of F over the coordinates tested (ArviZ's rank-normalised R-hat is the larger of a
bulk and a folded R-hat, so each coordinate counts twice, and n_e is the smaller of the bulk
and folded ESS per split chain). A fixed cut-off such as 1.01 has no
such guarantee: at ESS ≈ 1000 over a dozen coordinates it fails stationary chains most of the
time. ``tests/test_stats.py`` checks the gate's rate on exactly stationary AR(1) chains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from ..arviz_io import dataset_from_draws, ess, rhat


def bonferroni_threshold(num_tests: int, family_alpha: float = 1e-3) -> float:
    """|z| threshold for K two-sided normal tests at family-wise level α."""
    return float(scipy.stats.norm.ppf(1.0 - family_alpha / (2.0 * num_tests)))


def t_threshold(num_tests: int, dof: int, family_alpha: float = 1e-3) -> float:
    """|t| threshold for K two-sided Student-t tests (``dof`` degrees of freedom) at
    family-wise level α (Bonferroni)."""
    return float(scipy.stats.t.ppf(1.0 - family_alpha / (2.0 * num_tests), dof))


def rhat_threshold(ess_per_chain: ArrayLike, num_chains: int, num_tests: int,
                   family_alpha: float = 1e-3) -> NDArray[np.float64]:
    r"""The R-hat above which a coordinate is flagged, calibrated for stationary chains.

    Parameters
    ----------
    ess_per_chain : array_like
        Effective sample size per split chain (bulk ESS / (2 × chains)) of each coordinate.
    num_chains : int
        Number of chains (each is split in two, so M = 2 × chains).
    num_tests : int
        Number of R-hat values compared (coordinates × 2 for ArviZ's bulk/folded maximum).
    family_alpha : float
        Probability that any of them exceeds its threshold when the chains are stationary.

    Returns
    -------
    numpy.ndarray
        √(1 + q / n_e) with q the (1 − α/K) quantile of χ²_{M−1}/(M−1) (module docstring).
    """
    m = 2 * int(num_chains)
    q = scipy.stats.chi2.ppf(1.0 - family_alpha / num_tests, m - 1) / (m - 1)
    return np.sqrt(1.0 + q / np.maximum(np.asarray(ess_per_chain, dtype=float), 1.0))


@dataclass
class ConvergenceCheck:
    """R-hat of every functional against its calibrated limit, and the bulk ESS.

    ``passed``: every R-hat within its limit (:func:`rhat_threshold`; false-failure probability
    ``family_alpha`` for stationary chains) and every bulk ESS above ``min_ess`` (a precision
    requirement: run long enough that it holds with overwhelming probability, e.g. an expected
    ESS of at least 3 × ``min_ess``).
    """

    rhat: NDArray[np.float64]
    rhat_limit: NDArray[np.float64]
    ess_bulk: NDArray[np.float64]
    min_ess: float

    @property
    def passed(self) -> bool:
        """Every R-hat within its limit and every bulk ESS above ``min_ess``."""
        return bool(np.all(self.rhat <= self.rhat_limit) and np.all(self.ess_bulk > self.min_ess))

    def __str__(self) -> str:
        worst = int(np.argmax(self.rhat - self.rhat_limit))
        return (f"R-hat {self.rhat[worst]:.4f} vs calibrated limit {self.rhat_limit[worst]:.4f} "
                f"(functional {worst}); bulk ESS min {self.ess_bulk.min():.0f}")


def check_convergence(draws: ArrayLike, family_alpha: float = 1e-3,
                      min_ess: float = 400.0) -> ConvergenceCheck:
    """The calibrated R-hat gate (module docstring) for draws of shape (chain, draw, K)."""
    array = np.asarray(draws, dtype=float)
    chains, k = array.shape[0], array.shape[-1]
    data = dataset_from_draws({"f": array.reshape(chains, array.shape[1], -1)})
    ess_bulk = ess(data, method="bulk")["f"].values
    # ArviZ's R-hat is the larger of the bulk R-hat and the R-hat of the folded draws
    # |f − median|; each follows the law above with its own ESS (they differ: a sampler with
    # antithetic moves has bulk ESS above the draw count and folded ESS below it), so the
    # smaller of the two sets the limit.
    ess_folded = ess(data, method="folded")["f"].values
    n_e = np.minimum(ess_bulk, ess_folded) / (2 * chains)
    return ConvergenceCheck(
        rhat=rhat(data)["f"].values,
        rhat_limit=rhat_threshold(n_e, chains, 2 * k, family_alpha),
        ess_bulk=ess_bulk, min_ess=min_ess)


@dataclass
class MomentCheck:
    """t-statistics of chain means and second moments against the truth, plus convergence.

    ``passed`` is the calibrated test of the law and ``convergence`` the calibrated R-hat gate
    (:class:`ConvergenceCheck`); the false-failure probability is split evenly between them.
    """

    t_mean: NDArray[np.float64]
    t_var: NDArray[np.float64]
    threshold: float
    convergence: ConvergenceCheck

    @property
    def converged(self) -> bool:
        """The calibrated R-hat gate passed (:attr:`ConvergenceCheck.passed`)."""
        return self.convergence.passed

    @property
    def max_abs_t(self) -> float:
        """The largest |t| over the means and second moments."""
        return float(max(np.abs(self.t_mean).max(), np.abs(self.t_var).max()))

    @property
    def passed(self) -> bool:
        """Every |t| within the Bonferroni threshold."""
        return self.max_abs_t <= self.threshold

    def __str__(self) -> str:
        return (f"max|t| = {self.max_abs_t:.2f} (threshold {self.threshold:.2f}); "
                f"{self.convergence}")


def check_moments(draws: ArrayLike, mean: ArrayLike, sd: ArrayLike, family_alpha: float = 1e-3,
                  min_ess: float = 400.0) -> MomentCheck:
    """Test draws of shape (chain, draw, K) against expected means and sds (length K).

    Replicate-chain t-tests (module docstring) with C = number of chains, which should be
    ≥ 16 for power; the chains must be independent (their own streams and starts) and their
    warm-up already discarded. The total false-failure probability of ``passed`` and
    ``converged`` together is ``family_alpha``, each getting half.
    """
    array = np.asarray(draws, dtype=float)
    mu, s = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    chains, _, k = array.shape
    if chains < 4:
        raise ValueError(f"check_moments needs >= 4 independent chains, got {chains}")
    chain_mean = array.mean(axis=1)                         # (C, K)
    chain_var = ((array - mu) ** 2).mean(axis=1)            # E (f − μ)² = s² per chain
    root_c = np.sqrt(chains)

    def t(values: np.ndarray, truth: np.ndarray) -> np.ndarray:
        return (values.mean(axis=0) - truth) / (values.std(axis=0, ddof=1) / root_c)

    half = family_alpha / 2.0
    return MomentCheck(
        t_mean=t(chain_mean, mu),
        t_var=t(chain_var, s**2),
        threshold=t_threshold(2 * k, chains - 1, half),
        convergence=check_convergence(array, half, min_ess),
    )
