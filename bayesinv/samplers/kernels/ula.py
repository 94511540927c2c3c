r"""Unadjusted Langevin algorithm (ULA).

    x_{k+1} = x_k + δ ∇log π(x_k) + √(2δ) η_k,     η_k ~ N(0, I),

the Euler–Maruyama discretisation of the Langevin diffusion, with no accept/reject step.
For fixed δ the chain is biased: for a Gaussian target N(μ, P⁻¹) its stationary law is
N(μ, S) with S = (I − δP) S (I − δP)ᵀ + 2δ I (Durmus & Moulines 2017); Nickl & Wang (2022)
prove polynomial-time convergence from a warm start for the Schrödinger model.

In whitened coordinates x = ξ (θ = m + Lξ for a Gaussian prior N(m, C), C = L Lᵀ) this *is*
the prior-preconditioned ULA of θ: substituting θ = m + Lx gives
θ' = θ + δ C ∇_θ log π(θ) + √(2δ) C^½ η. (For the Crank–Nicolson variant that leaves the
prior exactly invariant, see :mod:`.pula`.)

With a further constant preconditioner C = R Rᵀ in ξ (e.g. the inverse Gauss–Newton Hessian
at the MAP, a Laplace approximation), the step is x + δ C ∇log π(x) + √(2δ) R η: plain ULA in
the coordinates ζ = R⁻¹x, with stationary law N(μ, S), S = A S Aᵀ + 2δ C, A = I − δ C P on a
Gaussian target. Preconditioning removes the ill-conditioning of informative data, where
plain ULA needs ~λ_max(P) steps per relaxation time.

The kernel protocol of :mod:`._common`: ``propose(state, δ, R, R⁻¹, rng)`` (R = ``IDENTITY``
for C = I), the target evaluated at the proposal, then ``accept`` (which here only moves:
:func:`update`). A non-finite evaluation is flagged ``diverging`` and the chain stays where it
was; ``acceptance_rate`` is 1 for a step taken, 0 for a diverging one.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._common import (
    FloatArray,
    GradientState,
    MetropolisInfo,
    all_finite,
    gradient_init,
    gradient_step,
    langevin_propose,
    state_logdensity,
)

uses_gradient = True

#: position: x_k (whitened coordinates); logdensity: log π(x_k); grad: ∇log π(x_k).
ULAState = GradientState


class ULAInfo(NamedTuple):
    """diverging: the step produced a non-finite log density or gradient (not taken)."""

    diverging: bool


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity
#: the state (x, log π(x), ∇log π(x))
init = gradient_init
#: x + δ C ∇log π(x) + √(2δ) R η (R = ``IDENTITY``: plain ULA)
propose = langevin_propose


@numba.njit(cache=True)
def update(state: GradientState, proposal: FloatArray, logdensity: float, grad: FloatArray
          ) -> tuple[GradientState, ULAInfo]:
    """Move to the proposal unless its evaluation is non-finite (then flag a divergence)."""
    if np.isfinite(logdensity) and all_finite(grad) and all_finite(proposal):
        return ULAState(proposal, logdensity, grad), ULAInfo(False)
    return state, ULAInfo(True)


@numba.njit(cache=True)
def accept(state: GradientState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, sqrt_precond: FloatArray,
           inv_sqrt_precond: FloatArray, rng: np.random.Generator
          ) -> tuple[GradientState, MetropolisInfo]:
    """The protocol's second half: :func:`update`, reported as a MetropolisInfo (acceptance 1
    for a step taken, 0 and ``diverging`` for a non-finite evaluation; no uniform drawn)."""
    new, info = update(state, proposal, logdensity, grad)
    return new, MetropolisInfo(0.0 if info.diverging else 1.0, not info.diverging,
                               info.diverging)


#: One ULA step on a compiled target (see :mod:`bayesinv.samplers.compiled`).
step = gradient_step(propose, accept)
