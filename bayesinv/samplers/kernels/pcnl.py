r"""pCN-Langevin (∞-MALA) in whitened coordinates.

Proposal (the Crank–Nicolson discretisation of the prior-preconditioned Langevin SDE
dx = (−x + ∇ℓ(x)) dt + √2 dW, implicit in the prior part, explicit in the likelihood part):

    y = a x + b ∇ℓ(x) + c η,   a = (2−δ)/(2+δ),  b = 2δ/(2+δ),  c = √(8δ)/(2+δ),  η ~ N(0, I),

with ℓ the log-likelihood of T(x) (Beskos, Roberts, Stuart & Voss 2008; Cotter, Roberts,
Stuart & White 2013, §4.3, their θ = ½ "pCNL"). Since a² + c² = 1, without the drift this is
pCN with β = c, which is reversible with respect to the prior N(0, I).

Acceptance (derivation). Write q(x → y) = N(a x + b g(x), c² I), g = ∇ℓ, and q₀(x → y) =
N(a x, c² I) the pCN kernel, for which N(0, I)(dx) q₀(x → dy) is symmetric. Then

    π(y) q(y → x) / (π(x) q(x → y)) = exp(ℓ(y) − ℓ(x)) · [q/q₀](y → x) / [q/q₀](x → y),
    log [q/q₀](x → y) = (b/c²) ⟨y − a x, g(x)⟩ − (b²/(2c²)) |g(x)|²,

with b/c² = (2+δ)/4 and b²/(2c²) = δ/4. Collecting the terms in x (and using
(2+δ)/4 · (y − a x) = ½(y − x) + (δ/4)(x + y)) gives Cotter et al.'s (4.7):

    log α(x, y) = ρ(x, y) − ρ(y, x),
    ρ(x, y) = −ℓ(x) − ½⟨y − x, g(x)⟩ − (δ/4)⟨x + y, g(x)⟩ + (δ/4)|g(x)|².

Only likelihood terms appear (no ½|x|²): the acceptance is well defined for the infinite-
dimensional prior and does not degenerate under mesh refinement, while the gradient steers
proposals in the data-informed directions. The state caches log π and ∇log π like the other
gradient kernels; ℓ = log π + ½|x|² and ∇ℓ = ∇log π + x are recovered here. A proposal whose
log density or gradient is not finite is a rejection, flagged ``diverging``. δ ∈ (0, 2)
keeps a > −1; the adaptive driver caps δ below 2 (δ = 2 proposes independent prior draws
shifted by ∇ℓ).
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import (
    FloatArray,
    GradientState,
    MetropolisInfo,
    all_finite,
    crank_nicolson_langevin_proposal,
    gradient_init,
    gradient_step,
    loglik_from_logdensity,
    metropolis_update,
    state_logdensity,
)

#: position: x; logdensity: log π(x) = ℓ(x) − ½|x|²; grad: ∇log π(x) = ∇ℓ(x) − x.
PCNLState = GradientState
PCNLInfo = MetropolisInfo
uses_gradient = True


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity
#: the state (x, log π(x), ∇log π(x))
init = gradient_init


@numba.njit(cache=True)
def propose(state: GradientState, step_size: float, sqrt_precond: FloatArray,
            inv_sqrt_precond: FloatArray, rng: np.random.Generator) -> FloatArray:
    """y = a x + b ∇ℓ(x) + c η (see the module docstring)."""
    return crank_nicolson_langevin_proposal(state.position, state.grad + state.position,
                                            step_size, rng)


@numba.njit(cache=True)
def _rho(x: FloatArray, loglik_x: float, grad_loglik_x: FloatArray, y: FloatArray, step_size: float
        ) -> float:
    """ρ(x, y) = −ℓ(x) − ½⟨y − x, g(x)⟩ − (δ/4)⟨x + y, g(x)⟩ + (δ/4)|g(x)|²."""
    g = grad_loglik_x
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return (-loglik_x - 0.5 * ((y - x) @ g) - 0.25 * step_size * ((x + y) @ g)  # type: ignore[return-value]
            + 0.25 * step_size * (g @ g))


@numba.njit(cache=True)
def log_acceptance_ratio(state: GradientState, proposal: FloatArray, logdensity: float,
                         grad: FloatArray, step_size: float) -> float:
    """log α(x, y) = ρ(x, y) − ρ(y, x) for the state x and a proposal y with log π(y), ∇log π(y)."""
    x, y = state.position, proposal
    loglik_x = loglik_from_logdensity(state.logdensity, x)
    loglik_y = loglik_from_logdensity(logdensity, y)
    return (_rho(x, loglik_x, state.grad + x, y, step_size)
            - _rho(y, loglik_y, grad + y, x, step_size))


@numba.njit(cache=True)
def accept(state: GradientState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, sqrt_precond: FloatArray,
           inv_sqrt_precond: FloatArray, rng: np.random.Generator
          ) -> tuple[GradientState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (one uniform drawn, always)."""
    ok = np.isfinite(logdensity) and all_finite(grad)
    log_ratio = -np.inf
    if ok:
        log_ratio = log_acceptance_ratio(state, proposal, logdensity, grad, step_size)
    return metropolis_update(state, PCNLState(proposal, logdensity, grad), log_ratio, ok, rng)


#: One pCN-Langevin step on a compiled target (see :mod:`bayesinv.samplers.compiled`).
step = gradient_step(propose, accept)
