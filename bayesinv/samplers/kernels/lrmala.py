r"""MALA preconditioned by a low-rank Laplace covariance Γ = I − V D Vᵀ (O(k r) per step).

The MALA of :mod:`.mala` with the constant preconditioner C = Γ and its symmetric root
R = Γ^{1/2}:

    y = x + δ Γ ∇log π(x) + √(2δ) Γ^{1/2} η,
    log q(x → y) = −|Γ^{−1/2}(y − x) − δ Γ^{1/2} ∇log π(x)|² / (4δ)  (+ const),

with Γ, Γ^{±1/2} applied from the packed eigenpairs (:mod:`._lowrank`), never as k × k
matrices. For the same random stream it makes the same moves as :mod:`.mala` with the dense
R = Γ^{1/2} (tested); Metropolis–Hastings makes it exact for any δ. The preconditioner is the
packed array P, passed in the ``sqrt_precond`` slot.
"""

from __future__ import annotations

import numba
import numpy as np

from . import _lowrank as lr
from ._common import (
    FloatArray,
    GradientState,
    MetropolisInfo,
    all_finite,
    gradient_init,
    gradient_step,
    metropolis_update,
    state_logdensity,
)

LowRankMALAState = GradientState
uses_gradient = True

#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity
#: the state (x, log π(x), ∇log π(x))
init = gradient_init


@numba.njit(cache=True)
def propose(state: GradientState, step_size: float, P: FloatArray, unused: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    """y = x + δ Γ ∇log π(x) + √(2δ) Γ^{1/2} η."""
    noise = rng.standard_normal(state.position.shape[0])
    return (state.position + step_size * lr.cov_apply(P, state.grad)
            + np.sqrt(2.0 * step_size) * lr.sqrt_apply(P, noise))


@numba.njit(cache=True)
def transition_logpdf(to: FloatArray, frm: FloatArray, grad_frm: FloatArray, step_size: float,
                      P: FloatArray) -> float:
    """log q(frm → to) up to a constant: −|Γ^{−1/2}(to − frm) − δ Γ^{1/2} ∇log π(frm)|²/(4δ)."""
    z = lr.inv_sqrt_apply(P, to - frm) - step_size * lr.sqrt_apply(P, grad_frm)
    return -(z @ z) / (4.0 * step_size)


@numba.njit(cache=True)
def log_acceptance_ratio(state: GradientState, proposal: FloatArray, logdensity: float,
                         grad: FloatArray, step_size: float, P: FloatArray) -> float:
    forward = transition_logpdf(proposal, state.position, state.grad, step_size, P)
    backward = transition_logpdf(state.position, proposal, grad, step_size, P)
    return logdensity - state.logdensity + backward - forward


@numba.njit(cache=True)
def accept(state: GradientState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, P: FloatArray, unused: FloatArray,
           rng: np.random.Generator) -> tuple[GradientState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (one uniform drawn, always)."""
    ok = np.isfinite(logdensity) and all_finite(grad)
    log_ratio = -np.inf
    if ok:
        log_ratio = log_acceptance_ratio(state, proposal, logdensity, grad, step_size, P)
    return metropolis_update(state, LowRankMALAState(proposal, logdensity, grad), log_ratio,
                             ok, rng)


#: One step on a compiled target (P in the ``sqrt_precond`` slot).
step = gradient_step(propose, accept)
