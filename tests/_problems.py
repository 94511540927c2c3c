"""The linear-Gaussian problem and the deliberately inexact low-rank Laplace reference shared by
the DILI/delayed-acceptance tests and the low-rank sampler tests (module-scoped fixtures
``problem`` and ``truncated`` there).

Imported as ``from _problems import ...`` (pytest puts ``tests/`` on ``sys.path``, as it has no
``__init__.py``).
"""

from __future__ import annotations

import numpy as np

import bayesinv
from bayesinv.laplace import LaplaceApproximation
from bayesinv.lowrank import LowRankEigen
from bayesinv.testing import linear_gaussian

K = 30


def lowrank_problem():
    """A K-dimensional linear-Gaussian problem with 12 observations (noise sd 0.05)."""
    return linear_gaussian(dim=K, num_observations=12, noise_std=0.05, seed=3)


def inexact_laplace(problem) -> LaplaceApproximation:
    """A deliberately inexact reference: the exact eigenvectors with eigenvalues × 0.7 in 10
    of 12 directions (two informed directions left in the complement), at a mean shifted by
    0.3 posterior sds, so that the Metropolis–Hastings correction has work to do."""
    exact = bayesinv.laplace(problem.posterior, map=problem.mean_latent, threshold=1e-10)
    e = exact.eigen
    keep = np.r_[0:10]
    eig = LowRankEigen(0.7 * e.values[keep], e.vectors[:, keep], 0, 0, 0.0, True)
    shifted = problem.mean_latent + 0.3 * np.sqrt(np.diag(problem.cov_latent))
    return LaplaceApproximation(problem.posterior, shifted, eig)


def sampler_problem():
    """12 parameters, 6 observations: half the directions are prior-dominated (the sampler
    tests' linear-Gaussian problem)."""
    return linear_gaussian(dim=12, num_observations=6, noise_std=0.3, seed=3)


def functionals(problem, xi, cov, mean=None):
    """(draws, mean, sd) of the coordinates of ``xi`` plus its projections on the two leading
    and two trailing posterior directions, under N(``mean``, ``cov``) (default mean: the
    exact posterior's), for :func:`bayesinv.testing.check_moments`."""
    mean = problem.mean_latent if mean is None else mean
    _, vecs = np.linalg.eigh(problem.cov_latent)
    V = np.column_stack([vecs[:, :2], vecs[:, -2:]])
    draws = np.concatenate([xi, xi @ V], axis=-1)
    mean = np.concatenate([mean, mean @ V])
    sd = np.sqrt(np.concatenate([np.diag(cov), np.diag(V.T @ cov @ V)]))
    return draws, mean, sd
