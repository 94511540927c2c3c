r"""Random-walk Metropolis (RWM) in whitened coordinates — the baseline pCN is compared with.

    y = x + s η,  η ~ N(0, I);   accept with prob. min(1, exp(log π(y) − log π(x))),

log π(x) = ℓ(x) − ½|x|². The prior term makes the acceptance rate at fixed s fall to zero as
the discretisation dimension grows (Roberts, Gelman & Gilks 1997: s must shrink like d^{−½},
optimal acceptance ≈ 0.234), whereas pCN's does not (Cotter, Roberts, Stuart & White 2013,
Fig. 1). A proposal with non-finite log density is a rejection, flagged ``diverging``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._common import FloatArray, MetropolisInfo, metropolis_update, state_logdensity, value_step

uses_gradient = False


class RWMState(NamedTuple):
    """position: x (whitened); logdensity: log π(x)."""

    position: np.ndarray
    logdensity: float


RWMInfo = MetropolisInfo


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity


@numba.njit(cache=True)
def init(position: FloatArray, logdensity: float) -> RWMState:
    return RWMState(position, logdensity)


@numba.njit(cache=True)
def propose(state: RWMState, scale: float, sqrt_precond: FloatArray, inv_sqrt_precond: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    return state.position + scale * rng.standard_normal(state.position.shape[0])


@numba.njit(cache=True)
def accept(state: RWMState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, scale: float, sqrt_precond: FloatArray, inv_sqrt_precond: FloatArray,
           rng: np.random.Generator) -> tuple[RWMState, MetropolisInfo]:
    ok = np.isfinite(logdensity)
    return metropolis_update(state, RWMState(proposal, logdensity),
                             logdensity - state.logdensity, ok, rng)


#: One RWM step on a compiled target (no gradient computed).
step = value_step(propose, accept)
