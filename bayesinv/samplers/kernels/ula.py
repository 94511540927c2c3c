r"""Unadjusted Langevin algorithm (ULA).

    ϑ_{k+1} = ϑ_k + δ ∇log π(ϑ_k) + √(2δ) η_k,     η_k ~ N(0, I),

the Euler–Maruyama discretisation of the Langevin diffusion, with no accept/reject step.
For fixed δ the chain is biased: for a Gaussian target N(μ, P⁻¹) its stationary law is
N(μ, S) with S = (I − δP) S (I − δP)ᵀ + 2δ I (Durmus & Moulines 2017); Nickl & Wang (2022)
prove polynomial-time convergence from a warm start for the Schrödinger model.

With a constant preconditioner C = R Rᵀ (e.g. the inverse Gauss–Newton Hessian at the MAP,
a Laplace approximation), the step is ϑ + δ C ∇log π(ϑ) + √(2δ) R η: plain ULA in the
coordinates ζ = R⁻¹ϑ, with stationary law N(μ, S), S = A S Aᵀ + 2δ C, A = I − δ C P on a
Gaussian target. Preconditioning removes the ill-conditioning of informative data, where
plain ULA needs ~λ_max(P) steps per relaxation time.

Interpreted use (PDE targets): ``proposal = propose(state, δ, rng)``, evaluate the target at
``proposal`` in Python, then ``update(state, proposal, logdensity, grad)``. A non-finite
evaluation is flagged ``diverging`` and the chain stays where it was.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._common import all_finite, langevin_proposal, preconditioned_langevin_proposal


class ULAState(NamedTuple):
    """position: ϑ_k (whitened coordinates); logdensity: log π(ϑ_k); grad: ∇log π(ϑ_k)."""

    position: np.ndarray
    logdensity: float
    grad: np.ndarray


class ULAInfo(NamedTuple):
    """diverging: the step produced a non-finite log density or gradient (not taken)."""

    diverging: bool


@numba.njit(cache=True)
def init(position, logdensity, grad):
    return ULAState(position, logdensity, grad)


@numba.njit(cache=True)
def propose(state, step_size, rng):
    return langevin_proposal(state.position, state.grad, step_size, rng)


@numba.njit(cache=True)
def propose_preconditioned(state, step_size, sqrt_precond, rng):
    return preconditioned_langevin_proposal(state.position, state.grad, step_size,
                                            sqrt_precond, rng)


@numba.njit(cache=True)
def update(state, proposal, logdensity, grad):
    """Move to the proposal unless its evaluation is non-finite (then flag a divergence)."""
    if np.isfinite(logdensity) and all_finite(grad) and all_finite(proposal):
        return ULAState(proposal, logdensity, grad), ULAInfo(False)
    return state, ULAInfo(True)
