r"""ULA preconditioned by a low-rank Laplace covariance Γ = I − V D Vᵀ (O(k r) per step).

    x' = x + δ Γ ∇log π(x) + √(2δ) Γ^{1/2} η

(:mod:`.ula` with C = Γ; the proposal of :mod:`.lrmala` without the accept step). On a
Gaussian target N(μ, P⁻¹) the stationary law is N(μ, S), S = A S Aᵀ + 2δ Γ, A = I − δ Γ P
(:meth:`bayesinv.testing.LinearGaussianProblem.ula_stationary` with C = Γ): biased for fixed
δ, exact as δ → 0. A non-finite evaluation is flagged ``diverging`` and not taken.
"""

from __future__ import annotations

from ._common import gradient_step
from .lrmala import propose
from .ula import ULAInfo, ULAState, accept, init, logdensity, update, uses_gradient

__all__ = ["ULAInfo", "ULAState", "accept", "init", "logdensity", "propose", "step", "update",
           "uses_gradient"]

#: One step on a compiled target (P in the ``sqrt_precond`` slot).
step = gradient_step(propose, accept)
