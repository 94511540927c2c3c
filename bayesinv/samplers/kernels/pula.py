r"""Prior-preconditioned ULA in whitened coordinates, Crank–Nicolson form ("pULA").

    x_{k+1} = a x_k + b ∇ℓ(x_k) + c η_k,   a = (2−δ)/(2+δ),  b = 2δ/(2+δ),  c = √(8δ)/(2+δ),

the pCN-Langevin proposal (:mod:`.pcnl`) taken without the Metropolis–Hastings correction.

Interpretation. "Prior-preconditioned" Langevin is the SDE dθ = C ∇_θ log π(θ) dt + √2 C^½ dW
with C the prior covariance; in whitened coordinates (θ = m + Lξ, C = LLᵀ) it is
dx = (−x + ∇ℓ(x)) dt + √2 dW. Its Euler–Maruyama discretisation is plain ULA on ξ
(:mod:`.ula`). Here the linear prior part is discretised by the θ = ½ (Crank–Nicolson) rule
and the likelihood part explicitly, as in Beskos, Roberts, Stuart & Voss (2008) and Cotter,
Roberts, Stuart & White (2013, §4.3). Consequences:

* with ℓ ≡ 0 the chain is pCN with β = c, leaving the prior N(0, I) *exactly* invariant for
  every δ (explicit ULA has stationary variance 1/(1 − δ/2) instead): no bias in the
  prior-dominated directions, which are most of them for a PDE posterior;
* on a Gaussian target, writing ∇ℓ(x) = h − Q x (Q = P − I the data precision), the chain is
  the AR(1) x' = (aI − bQ)x + b h + c η whose stationary mean is *exactly* μ = P⁻¹h (since
  1 − a = b) and whose covariance solves S = A S Aᵀ + c² I, A = aI − bQ
  (:meth:`bayesinv.testing.LinearGaussianProblem.pula_stationary`); it is stable iff
  δ < 2/λ_max(Q), a condition on the likelihood curvature only.

Like ULA it is biased for fixed δ (S − Σ = O(δ)); a non-finite evaluation is flagged
``diverging`` and the step is not taken (:func:`.ula.update`).
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import FloatArray, GradientState, crank_nicolson_langevin_proposal, gradient_step
from .ula import ULAInfo, ULAState, accept, init, logdensity, update, uses_gradient

__all__ = ["ULAInfo", "ULAState", "accept", "init", "logdensity", "propose", "step", "update",
           "uses_gradient"]


@numba.njit(cache=True)
def propose(state: GradientState, step_size: float, sqrt_precond: FloatArray,
            inv_sqrt_precond: FloatArray, rng: np.random.Generator) -> FloatArray:
    """a x + b ∇ℓ(x) + c η, with ∇ℓ(x) = ∇log π(x) + x from the state."""
    return crank_nicolson_langevin_proposal(state.position, state.grad + state.position,
                                            step_size, rng)


#: One pULA step on a compiled target (see :mod:`bayesinv.samplers.compiled`).
step = gradient_step(propose, accept)
