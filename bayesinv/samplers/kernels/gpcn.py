r"""Generalised pCN (gpCN): pCN with a Gaussian reference N(m, Γ) instead of the prior.

    ξ' = m + √(1 − β²) (ξ − m) + β Γ^{1/2} η,   η ~ N(0, I),

which is reversible with respect to N(m, Γ); accept with probability min(1, exp(w(ξ') −
w(ξ))), w = log π − log N(·; m, Γ). With π ∝ e^ℓ N(0, I) and the low-rank Laplace
approximation Γ = (I + V Λ Vᵀ)⁻¹ at m = ξ* (:mod:`bayesinv.laplace`),

    w(ξ) = ℓ(ξ) − ⟨ξ, m⟩ + ½ Σ_j λ_j ⟨v_j, ξ − m⟩²  (+ const),

with no ½|ξ|² terms: N(m, Γ) and the prior are equivalent measures in infinite dimensions
(Γ − I has finite rank), so the acceptance rate does not degenerate under mesh refinement,
and when the posterior is close to its Laplace approximation β can be large (β = 1 is an
independence sampler). Pinski, Simpson, Stuart & Weber (2015), SIAM J. Sci. Comput. 37;
Rudolf & Sprungk (2018), Found. Comput. Math. 18 (spectral gaps); hIPPYlib-MUQ's gpCN. With
r = 0 and m = 0 it is :mod:`.pcn` (same arithmetic; tested). P, the packed reference
(:mod:`._lowrank`), travels in the ``sqrt_precond`` slot.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from . import _lowrank as lr
from ._common import (
    FloatArray,
    MetropolisInfo,
    loglik_state_logdensity,
    metropolis_update,
    value_step,
)

uses_gradient = False


class GPCNState(NamedTuple):
    """position: ξ; loglik: ℓ(ξ); potential: w(ξ) (see the module docstring)."""

    position: np.ndarray
    loglik: float
    potential: float


GPCNInfo = MetropolisInfo


@numba.njit(cache=True)
def init(position: FloatArray, loglik: float, P: FloatArray) -> GPCNState:
    return GPCNState(position, loglik, lr.reference_potential(P, position, loglik))


#: log π(ξ) = ℓ − ½|ξ|² at a state (the ``lp`` statistic).
logdensity = loglik_state_logdensity


@numba.njit(cache=True)
def propose(state: GPCNState, beta: float, P: FloatArray, unused: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    noise = rng.standard_normal(state.position.shape[0])
    m = lr.mean(P)
    return m + np.sqrt(1.0 - beta * beta) * (state.position - m) + beta * lr.sqrt_apply(P, noise)


@numba.njit(cache=True)
def accept(state: GPCNState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, beta: float, P: FloatArray, unused: FloatArray,
           rng: np.random.Generator) -> tuple[GPCNState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal: log α = w(ξ') − w(ξ) (from ℓ)."""
    ok = np.isfinite(loglik)
    potential = lr.reference_potential(P, proposal, loglik) if ok else -np.inf
    return metropolis_update(state, GPCNState(proposal, loglik, potential),
                             potential - state.potential, ok, rng)


#: One gpCN step on a compiled target (log π only, no gradient computed).
step = value_step(propose, accept)
