r"""Metropolis-adjusted Langevin algorithm (MALA).

ULA's proposal y = x + δ C ∇log π(x) + √(2δ) R η (C = R Rᵀ, C = I by default) with the
Metropolis–Hastings correction

    log α(x, y) = log π(y) − log π(x) + log q(y → x) − log q(x → y),
    log q(x → y) = −|R⁻¹(y − x) − δ Rᵀ∇log π(x)|² / (4δ)  (+ const),

so the chain is reversible with respect to π exactly, whatever δ (Roberts & Tweedie 1996;
Roberts & Rosenthal 1998, whose optimal-scaling result gives the target acceptance ≈ 0.574).
log α(x, y) = −log α(y, x) (antisymmetry; tested). In whitened coordinates the prior part
½|x|² enters log π, so MALA's acceptance degenerates under mesh refinement unless δ shrinks
with the dimension (contrast :mod:`.pcnl`).

A proposal whose log density or gradient is not finite (a failed forward solve) is a
rejection, flagged ``diverging``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import (
    IDENTITY,
    FloatArray,
    GradientState,
    MetropolisInfo,
    all_finite,
    gradient_init,
    gradient_step,
    langevin_propose,
    langevin_transition_logpdf,
    metropolis_update,
    state_logdensity,
)

#: position: x; logdensity: log π(x); grad: ∇log π(x).
MALAState = GradientState
MALAInfo = MetropolisInfo
uses_gradient = True


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity
#: the state (x, log π(x), ∇log π(x))
init = gradient_init
#: y = x + δ C ∇log π(x) + √(2δ) R η (pass ``IDENTITY`` for C = I): ULA's proposal
propose = langevin_propose


@numba.njit(cache=True)
def log_acceptance_ratio(state: GradientState, proposal: FloatArray, logdensity: float,
                         grad: FloatArray, step_size: float, sqrt_precond: FloatArray,
                         inv_sqrt_precond: FloatArray) -> float:
    """log α(x, y) for the current state x and a proposal y with log π(y), ∇log π(y)."""
    forward = langevin_transition_logpdf(proposal, state.position, state.grad, step_size,
                                         sqrt_precond, inv_sqrt_precond)
    backward = langevin_transition_logpdf(state.position, proposal, grad, step_size,
                                          sqrt_precond, inv_sqrt_precond)
    return logdensity - state.logdensity + backward - forward


@numba.njit(cache=True)
def accept(state: GradientState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, sqrt_precond: FloatArray,
           inv_sqrt_precond: FloatArray, rng: np.random.Generator
          ) -> tuple[GradientState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (one uniform drawn, always)."""
    ok = np.isfinite(logdensity) and all_finite(grad)
    log_ratio = -np.inf
    if ok:
        log_ratio = log_acceptance_ratio(state, proposal, logdensity, grad, step_size,
                                         sqrt_precond, inv_sqrt_precond)
    return metropolis_update(state, MALAState(proposal, logdensity, grad), log_ratio, ok, rng)


#: One MALA step on a compiled target (see :mod:`bayesinv.samplers.compiled`).
step = gradient_step(propose, accept)

__all__ = ["IDENTITY", "MALAInfo", "MALAState", "accept", "init", "log_acceptance_ratio",
           "propose", "step", "uses_gradient"]
