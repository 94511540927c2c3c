"""Pieces shared by the kernels, written once: the Langevin proposal and the Metropolis test.

All kernels are ``numba.njit`` pure functions over NamedTuple states and NumPy arrays; they
never raise (non-finite values are reported through flags) and take an explicit
``numpy.random.Generator``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def langevin_proposal(position, grad, step_size, rng):
    """x + δ ∇log π(x) + √(2δ) η,  η ~ N(0, I): the Euler–Maruyama step of the Langevin SDE."""
    noise = rng.standard_normal(position.shape[0])
    return position + step_size * grad + np.sqrt(2.0 * step_size) * noise


@numba.njit(cache=True)
def preconditioned_langevin_proposal(position, grad, step_size, sqrt_precond, rng):
    """x + δ R Rᵀ ∇log π(x) + √(2δ) R η: Langevin with constant preconditioner C = R Rᵀ.

    This is the plain Langevin step in the coordinates ζ = R⁻¹ x.
    """
    noise = rng.standard_normal(position.shape[0])
    drift = sqrt_precond @ (sqrt_precond.T @ grad)
    return position + step_size * drift + np.sqrt(2.0 * step_size) * (sqrt_precond @ noise)


@numba.njit(cache=True)
def metropolis_accept(log_ratio, rng):
    """Accept with probability min(1, exp(log_ratio)); a NaN or −inf ratio is a rejection.

    Returns (accepted, acceptance probability). One uniform draw per call, always, so that the
    random stream does not depend on the outcome.
    """
    u = rng.random()
    if not np.isfinite(log_ratio):
        if log_ratio == np.inf:
            return True, 1.0
        return False, 0.0
    prob = 1.0 if log_ratio >= 0.0 else np.exp(log_ratio)
    return np.log(u) < log_ratio, prob


@numba.njit(cache=True)
def all_finite(x):
    for v in x.ravel():  # noqa: SIM110 (numba does not compile all() over a generator)
        if not np.isfinite(v):
            return False
    return True
