r"""Preconditioned Crank–Nicolson (pCN) in whitened coordinates.

    ξ' = √(1 − β²) ξ + β η,   η ~ N(0, I);   accept with prob. min(1, exp(ℓ(ξ') − ℓ(ξ))),

where ℓ is the log-likelihood of T(ξ). The proposal is reversible with respect to the prior
N(0, I), so the acceptance ratio involves the likelihood only and does not degenerate under
mesh refinement (Cotter, Roberts, Stuart & White 2013, Statist. Sci. 28). β = 1 proposes
independent prior draws; a constant likelihood accepts every proposal. (Giordano's codes
write √(1 − 2δ) and √(2δ), i.e. β = √(2δ).)
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._common import (
    FloatArray,
    MetropolisInfo,
    loglik_state_logdensity,
    metropolis_update,
    value_step,
)

uses_gradient = False


class PCNState(NamedTuple):
    """position: ξ (whitened); loglik: ℓ(T(ξ)), the log-likelihood at the position."""

    position: np.ndarray
    loglik: float


#: acceptance_rate: min(1, exp(ℓ' − ℓ)); is_accepted; diverging: ℓ' was not finite.
PCNInfo = MetropolisInfo


@numba.njit(cache=True)
def init(position: FloatArray, loglik: float) -> PCNState:
    return PCNState(position, loglik)


#: log π(ξ) = ℓ − ½|ξ|² at a state (the ``lp`` statistic).
logdensity = loglik_state_logdensity


@numba.njit(cache=True)
def propose(state: PCNState, beta: float, sqrt_precond: FloatArray, inv_sqrt_precond: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    noise = rng.standard_normal(state.position.shape[0])
    return np.sqrt(1.0 - beta * beta) * state.position + beta * noise


@numba.njit(cache=True)
def accept(state: PCNState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, beta: float, sqrt_precond: FloatArray, inv_sqrt_precond: FloatArray,
           rng: np.random.Generator) -> tuple[PCNState, MetropolisInfo]:
    """Metropolis–Hastings test of a pCN proposal with log-likelihood ``loglik`` (the only
    part of the evaluation used)."""
    ok = np.isfinite(loglik)
    return metropolis_update(state, PCNState(proposal, loglik), loglik - state.loglik, ok, rng)


#: One pCN step on a compiled target: log π only, ℓ = log π + ½|ξ|² (no gradient computed).
step = value_step(propose, accept)
