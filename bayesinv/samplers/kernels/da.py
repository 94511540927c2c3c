r"""Two-stage delayed acceptance (Christen & Fox 2005) with a pCN proposal.

With π ∝ e^ℓ N(0, I) (whitened coordinates) and a cheap surrogate log-likelihood ℓ̃, a pCN
proposal y = √(1 − β²) x + β η (reversible with respect to the prior) is

1. screened with the surrogate: accepted to stage 2 with probability
   α₁ = min(1, exp(ℓ̃(y) − ℓ̃(x))) — no full solve; a rejection here ends the step;
2. corrected with the full likelihood: accepted with probability
   α₂ = min(1, exp([ℓ(y) − ℓ(x)] − [ℓ̃(y) − ℓ̃(x)])).

Stage 2 is the Metropolis–Hastings test of the effective proposal q*(x, y) = α₁(x, y)
q(x, y): since α₁(y, x)/α₁(x, y) = exp(−(ℓ̃(y) − ℓ̃(x))) and pCN's q is reversible with
respect to the prior, π(y) q*(y, x) / (π(x) q*(x, y)) is exactly the stage-2 ratio, so the
chain is reversible with respect to the *full* posterior whatever the surrogate (Christen &
Fox 2005, J. Comput. Graph. Stat. 14, Theorem 1); a poor surrogate only lowers α₂. As the
prior terms cancel in both stages (pCN), both ratios are free of ½|ξ|² terms and
dimension-robust. The surrogate must be
evaluated at every proposal; the full posterior only at the proposals that pass stage 1.

The state caches ℓ(x) and ℓ̃(x) and counts the full and surrogate evaluations made so far by
this chain (floats, so that a checkpoint stores them with the state). The ``acceptance_rate``
statistic is 1{stage 1 passed} · α₂, an unbiased estimate of the overall acceptance
probability α₁α₂ (what warm-up adapts β to).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._common import (
    FloatArray,
    MetropolisInfo,
    loglik_state_logdensity,
    metropolis_accept,
    metropolis_update,
)


class DAState(NamedTuple):
    """position x; loglik ℓ(x); surrogate_loglik ℓ̃(x); full_solves and surrogate_solves:
    evaluations of ℓ and ℓ̃ by this chain so far (the initial ones included)."""

    position: np.ndarray
    loglik: float
    surrogate_loglik: float
    full_solves: float
    surrogate_solves: float


@numba.njit(cache=True)
def init(position: FloatArray, loglik: float, surrogate_loglik: float, full_solves: float = 1.0,
         surrogate_solves: float = 1.0) -> DAState:
    return DAState(position, loglik, surrogate_loglik, full_solves, surrogate_solves)


#: log π(ξ) = ℓ − ½|ξ|² at a state (the ``lp`` statistic).
logdensity = loglik_state_logdensity


uses_gradient = False


@numba.njit(cache=True)
def propose(state: DAState, beta: float, sqrt_precond: FloatArray, inv_sqrt_precond: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    """pCN's proposal √(1 − β²) x + β η (:func:`.pcn.propose`, compiled for this state type
    here so that pCN's dispatcher keeps one signature)."""
    noise = rng.standard_normal(state.position.shape[0])
    return np.sqrt(1.0 - beta * beta) * state.position + beta * noise


@numba.njit(cache=True)
def first_stage(state: DAState, proposal_surrogate_loglik: float, rng: np.random.Generator) -> bool:
    """Stage 1: whether the proposal passes the surrogate test (one uniform drawn, always);
    a non-finite surrogate value is a rejection."""
    accepted, _ = metropolis_accept(proposal_surrogate_loglik - state.surrogate_loglik, rng)
    return bool(np.isfinite(proposal_surrogate_loglik) and accepted)


@numba.njit(cache=True)
def reject_first(state: DAState, proposal_surrogate_loglik: float
                ) -> tuple[DAState, MetropolisInfo]:
    """The step's outcome when stage 1 rejects: unchanged position, one surrogate evaluation
    counted, no full one; ``diverging`` if the surrogate value was not finite."""
    new = DAState(state.position, state.loglik, state.surrogate_loglik, state.full_solves,
                  state.surrogate_solves + 1.0)
    return new, MetropolisInfo(0.0, False, not np.isfinite(proposal_surrogate_loglik))


@numba.njit(cache=True)
def second_stage(state: DAState, proposal: FloatArray, proposal_loglik: float,
                 proposal_surrogate_loglik: float, rng: np.random.Generator
                ) -> tuple[DAState, MetropolisInfo]:
    """Stage 2: the Metropolis–Hastings correction with the full log-likelihood (one uniform
    drawn); a non-finite ℓ(y) (failed solve) is a rejection flagged ``diverging``."""
    full, surr = state.full_solves + 1.0, state.surrogate_solves + 1.0
    current = DAState(state.position, state.loglik, state.surrogate_loglik, full, surr)
    new = DAState(proposal, proposal_loglik, proposal_surrogate_loglik, full, surr)
    log_ratio = ((proposal_loglik - state.loglik)
                 - (proposal_surrogate_loglik - state.surrogate_loglik))
    return metropolis_update(current, new, log_ratio, np.isfinite(proposal_loglik), rng)


@numba.njit(cache=True)
def linearized_loglik(A: FloatArray, x: FloatArray) -> float:
    """ℓ̃(x) = −½|a₀ − A₁ x|² for A = [a₀ | A₁] (m × (k+1)): the Gaussian log-likelihood of a
    linear map, up to a constant (see :func:`bayesinv.samplers.delayed_acceptance.
    linearized_surrogate`)."""
    m, k = A.shape[0], A.shape[1] - 1
    s = 0.0
    for i in range(m):
        r = A[i, 0]
        for j in range(k):
            r -= A[i, j + 1] * x[j]
        s += r * r
    return -0.5 * s
