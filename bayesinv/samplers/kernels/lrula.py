r"""ULA preconditioned by a low-rank Laplace covariance Γ = I − V D Vᵀ (O(k r) per step).

    x' = x + δ Γ ∇log π(x) + √(2δ) Γ^{1/2} η

(:mod:`.ula` with C = Γ; the proposal of :mod:`.lrmala` without the accept step). On a
Gaussian target N(μ, P⁻¹) the stationary law is N(μ, S), S = A S Aᵀ + 2δ Γ, A = I − δ Γ P
(:meth:`bayesinv.testing.LinearGaussianProblem.ula_stationary` with C = Γ): biased for fixed
δ, exact as δ → 0. A non-finite evaluation is flagged ``diverging`` and not taken.
"""

from __future__ import annotations

import numba

from ._common import MetropolisInfo
from .lrmala import propose
from .ula import ULAInfo, ULAState, init, logdensity, update

__all__ = ["ULAInfo", "ULAState", "init", "logdensity", "propose", "step", "update"]


@numba.njit
def step(state, step_size, P, unused, rng, logdensity_and_grad, args):
    """One step on a compiled target (P in the ``sqrt_precond`` slot)."""
    proposal = propose(state, step_size, P, rng)
    lp, g = logdensity_and_grad(proposal, args)
    new, info = update(state, proposal, lp, g)
    return new, MetropolisInfo(0.0 if info.diverging else 1.0, not info.diverging,
                               info.diverging)
