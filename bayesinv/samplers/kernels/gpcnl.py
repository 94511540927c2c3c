r"""Generalised pCN-Langevin: ∞-MALA with the low-rank Laplace approximation as reference.

With π ∝ e^w N(m, Γ) (w as in :mod:`.gpcn`, g = ∇w = ∇ℓ − m + V Λ Vᵀ(ξ − m)), the
Crank–Nicolson discretisation of the Γ-preconditioned Langevin SDE dξ = (−(ξ − m) + Γ g(ξ)) dt
+ √2 Γ^{1/2} dW, implicit in the reference part, proposes

    y = m + a (x − m) + b Γ g(x) + c Γ^{1/2} η,   (a, b, c) = ((2−δ), 2δ, √(8δ)) / (2+δ),

i.e. :mod:`.pcnl` in the coordinates u = Γ^{−1/2}(ξ − m), in which the reference is N(0, I).
Transforming pCN-Langevin's acceptance ratio back (⟨u' − u, ∇_u w⟩ = ⟨y − x, g⟩, |∇_u w|² =
gᵀΓg) gives

    log α(x, y) = ρ(x, y) − ρ(y, x),
    ρ(x, y) = −w(x) − ½⟨y − x, g(x)⟩ − (δ/4)⟨x + y − 2m, g(x)⟩ + (δ/4) g(x)ᵀ Γ g(x),

again free of ½|ξ|² terms, so it is well defined in function space (Beskos, Roberts, Stuart &
Voss 2008; Cotter et al. 2013, §4.3; with a Laplace reference as in Pinski et al. 2015 and
hIPPYlib-MUQ's "inf-MALA with the Laplace proposal"). The state caches w(x) and g(x).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from . import _lowrank as lr
from ._common import (
    FloatArray,
    MetropolisInfo,
    all_finite,
    crank_nicolson_coefficients,
    gradient_step,
    loglik_from_logdensity,
    metropolis_update,
    state_logdensity,
)


class GPCNLState(NamedTuple):
    """position x; logdensity log π(x); grad ∇log π(x); potential w(x); ref_grad g = ∇w(x);
    cov_ref_grad Γ g (used by the proposal from x and by both ρ terms of the ratio)."""

    position: np.ndarray
    logdensity: float
    grad: np.ndarray
    potential: float
    ref_grad: np.ndarray
    cov_ref_grad: np.ndarray


uses_gradient = True


@numba.njit(cache=True)
def reference_state(position: FloatArray, logdensity: float, grad: FloatArray, P: FloatArray,
                    on_lis: bool) -> GPCNLState:
    """The state at x: w(x) and g(x) from one projection Vᵀ(x − m), and Γ g(x) once — each
    step costs 6 passes over the k × r eigenvectors (one state and the proposal's noise).
    ``on_lis``: g replaced by its projection V Vᵀ g onto span(V) (DILI, :mod:`.dili`)."""
    w, g = lr.reference_potential_and_gradient(
        P, position, loglik_from_logdensity(logdensity, position), grad + position)
    if on_lis:
        g = lr.project_span(P, g)
    return GPCNLState(position, logdensity, grad, w, g, lr.cov_apply(P, g))


@numba.njit(cache=True)
def init(position: FloatArray, logdensity: float, grad: FloatArray, P: FloatArray) -> GPCNLState:
    """The state at x (:func:`reference_state` with the full gradient)."""
    return reference_state(position, logdensity, grad, P, False)


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity


@numba.njit(cache=True)
def propose(state: GPCNLState, step_size: float, P: FloatArray, unused: FloatArray,
            rng: np.random.Generator) -> FloatArray:
    a, b, c = crank_nicolson_coefficients(step_size)
    noise = rng.standard_normal(state.position.shape[0])
    m = lr.mean(P)
    return (m + a * (state.position - m) + b * state.cov_ref_grad
            + c * lr.sqrt_apply(P, noise))


@numba.njit(cache=True)
def _rho(x: FloatArray, w_x: float, g_x: FloatArray, cov_g_x: FloatArray, y: FloatArray,
         m: FloatArray, step_size: float) -> float:
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return (-w_x - 0.5 * ((y - x) @ g_x) - 0.25 * step_size * ((x + y - 2.0 * m) @ g_x)  # type: ignore[return-value]
            + 0.25 * step_size * (g_x @ cov_g_x))


@numba.njit(cache=True)
def log_acceptance_ratio(state: GPCNLState, new: GPCNLState, step_size: float, P: FloatArray
                        ) -> float:
    m = lr.mean(P)
    x, y = state.position, new.position
    return (_rho(x, state.potential, state.ref_grad, state.cov_ref_grad, y, m, step_size)
            - _rho(y, new.potential, new.ref_grad, new.cov_ref_grad, x, m, step_size))


@numba.njit(cache=True)
def reference_accept(state: GPCNLState, proposal: FloatArray, logdensity: float, grad: FloatArray,
                     step_size: float, P: FloatArray, rng: np.random.Generator, on_lis: bool
                    ) -> tuple[GPCNLState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (one uniform drawn, always), the
    proposal's state made by :func:`reference_state` (``on_lis``: DILI's)."""
    ok = np.isfinite(logdensity) and all_finite(grad)
    if ok:
        new = reference_state(proposal, logdensity, grad, P, on_lis)
        log_ratio = log_acceptance_ratio(state, new, step_size, P)
    else:
        new = GPCNLState(proposal, logdensity, grad, -np.inf, grad, grad)
        log_ratio = -np.inf
    return metropolis_update(state, new, log_ratio, ok, rng)


@numba.njit(cache=True)
def accept(state: GPCNLState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, P: FloatArray, unused: FloatArray,
           rng: np.random.Generator) -> tuple[GPCNLState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (:func:`reference_accept`)."""
    return reference_accept(state, proposal, logdensity, grad, step_size, P, rng, False)


#: One step on a compiled target (P in the ``sqrt_precond`` slot).
step = gradient_step(propose, accept)
