r"""DILI: dimension-independent likelihood-informed MCMC (Cui, Law & Marzouk 2016), fixed LIS.

The likelihood-informed subspace (LIS) is span(V), V (k × r) the leading eigenvectors of the
prior-preconditioned Gauss–Newton misfit Hessian at the MAP ξ* with eigenvalues λ_j ≥ a
threshold (:func:`bayesinv.laplace`); P_r = V Vᵀ. The reference Gaussian is

    N(m, Γ),  m = P_r ξ*,  Γ = I − V diag(λ/(1+λ)) Vᵀ,

i.e. the Laplace approximation on the LIS and the prior N(0, I) on its complement (where the
data are, by construction of the LIS, barely informative). In the coordinates
u = Γ^{−1/2}(ξ − m) the proposal is pCN-Langevin (:mod:`.pcnl`) whose drift is the gradient of
w = log π − log N(m, Γ) *projected onto the LIS*: with g = ∇w and h = P_r g,

    y = m + a (x − m) + b Γ h(x) + c Γ^{1/2} η,   (a, b, c) = ((2−δ), 2δ, √(8δ)) / (2+δ),

which splits into an operator-weighted Crank–Nicolson Langevin move on the LIS (Γ h = V
((Vᵀg)/(1+λ))) and plain pCN with β = c on the complement (Γ = I, drift 0 there, mean 0) —
Cui et al.'s "LI-Langevin" proposal with the LIS computed once at the MAP (their fixed-LIS
variant; they also adapt the LIS from posterior samples, which this kernel does not). The
Metropolis–Hastings ratio is pCN-Langevin's with ∇_u w replaced by the drift P_r ∇_u w (its
derivation uses only the Gaussian form of the proposal), which transformed back is
:func:`.gpcnl.log_acceptance_ratio` with the cached g and Γg replaced by h and Γh (so the
state is gpCN-Langevin's, and so are :func:`propose` and :func:`log_acceptance_ratio`). It is
free of ½|ξ|² terms, so it is well defined in function space.

The packed reference P (:mod:`._lowrank`) carries V, λ and m = P_r ξ*; :func:`lis_reference`
makes it from a Laplace approximation's packed array and marks it (P[r, k] = 1) so that a
checkpointed P is used as it is (bit-identical resumes). With r = k it is :mod:`.gpcnl`
(P_r = I); with r = 0 it is :mod:`.pcn` with β = c (tested).
"""

from __future__ import annotations

import numba
import numpy as np

from . import _lowrank as lr
from ._common import FloatArray, MetropolisInfo, gradient_step, state_logdensity
from .gpcnl import GPCNLState as DILIState
from .gpcnl import log_acceptance_ratio, propose, reference_accept, reference_state

__all__ = ["DILIState", "accept", "init", "lis_reference", "log_acceptance_ratio",
           "logdensity", "project_lis", "propose", "step", "uses_gradient"]

uses_gradient = True

#: value of the unused slot P[r, k] marking a reference whose mean is already projected
_LIS_MARK = 1.0

#: P_r g = V Vᵀ g
project_lis = lr.project_span


def lis_reference(P: np.ndarray) -> np.ndarray:
    """The DILI reference from a packed Laplace approximation: the mean replaced by its
    projection V Vᵀ ξ* onto the LIS (a marked P is returned unchanged)."""
    P = np.array(P, dtype=float)
    r, k = P.shape[0] - 1, P.shape[1] - 1
    if P[r, k] == _LIS_MARK:
        return P
    V = P[:r, :k]
    P[r, :k] = V.T @ (V @ P[r, :k])
    P[r, k] = _LIS_MARK
    return P


@numba.njit(cache=True)
def init(position: FloatArray, logdensity: float, grad: FloatArray, P: FloatArray) -> DILIState:
    """State at x: log π, ∇log π, w(x), the projected reference gradient h(x) = P_r ∇w(x) (in
    the ``ref_grad`` field) and Γ h(x) (in ``cov_ref_grad``)."""
    return reference_state(position, logdensity, grad, P, True)


#: log π at a state (the ``lp`` statistic).
logdensity = state_logdensity


@numba.njit(cache=True)
def accept(state: DILIState, proposal: FloatArray, logdensity: float, loglik: float,
           grad: FloatArray, step_size: float, P: FloatArray, unused: FloatArray,
           rng: np.random.Generator) -> tuple[DILIState, MetropolisInfo]:
    """Metropolis–Hastings test of an evaluated proposal (one uniform drawn, always)."""
    return reference_accept(state, proposal, logdensity, grad, step_size, P, rng, True)


#: One DILI step on a compiled target (P in the ``sqrt_precond`` slot).
step = gradient_step(propose, accept)
