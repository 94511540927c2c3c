r"""A damped Newton method on assembled Jacobians (version-independent, deterministic).

Solves F_F(u) = 0 for the free dofs (u = g on the Dirichlet dofs throughout):

    J_FF(u_k) δ = −F_F(u_k),     u_{k+1} = u_k + α_k δ,

with α_k = 1, halved while ‖F_F(u_k + α δ)‖ > (1 − 10⁻⁴ α) ‖F_F(u_k)‖ (Armijo backtracking on
the residual norm, at most ``max_backtracks`` halvings). Converged when the full step is small,
‖δ‖_∞ ≤ ``step_tolerance`` (1 + ‖u‖_∞), or the residual is, ‖F_F‖ ≤ ``residual_tolerance``
‖F_F(u_0)‖ (after at least one step). Not converging within ``max_iterations`` raises
:class:`~bayesinv.errors.ForwardSolveError` — inside a chain, a rejected proposal (pCN, MALA)
or a flagged divergence (ULA). The initial guess is fixed (no warm start from the previous θ),
so G(θ) does not depend on the order of evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._validation import integer_at_least, positive_float
from ..errors import ForwardSolveError

if TYPE_CHECKING:
    from .jacobian import Factor


@dataclass(frozen=True)
class NewtonOptions:
    """Options of :func:`newton_solve` (see the module docstring)."""

    max_iterations: int = 25
    step_tolerance: float = 1e-11
    residual_tolerance: float = 1e-12
    max_backtracks: int = 8

    def __post_init__(self) -> None:
        integer_at_least("max_iterations", self.max_iterations, 1)
        positive_float("step_tolerance", self.step_tolerance)
        positive_float("residual_tolerance", self.residual_tolerance)
        integer_at_least("max_backtracks", self.max_backtracks, 0)


def newton_solve(u: np.ndarray, free: np.ndarray, residual: Callable[[np.ndarray], np.ndarray],
                 factorize: Callable[[np.ndarray], Factor], options: NewtonOptions
                 ) -> tuple[np.ndarray, int]:
    """Newton's method from the full dof vector ``u`` (modified in place).

    ``residual(u)`` returns F_F(u) (free rows); ``factorize(u)`` the factorised J_FF(u).
    Returns (u, iterations).
    """
    r = residual(u)
    norm0 = norm = float(np.linalg.norm(r))
    if not np.isfinite(norm):
        raise ForwardSolveError("Newton: the residual at the initial guess is not finite")
    for it in range(1, options.max_iterations + 1):
        step = -factorize(u).solve(r)
        if not np.isfinite(step).all():
            raise ForwardSolveError(f"Newton: non-finite step at iteration {it}")
        base = u[free].copy()
        alpha = 1.0
        for _ in range(options.max_backtracks + 1):
            u[free] = base + alpha * step
            r = residual(u)
            new = float(np.linalg.norm(r))
            if np.isfinite(new) and new <= (1.0 - 1e-4 * alpha) * norm:
                break
            alpha *= 0.5
        else:
            if not np.isfinite(new):
                raise ForwardSolveError(f"Newton: the residual became non-finite at iteration {it}")
        norm = new
        small_step = alpha == 1.0 and (np.abs(step).max(initial=0.0)
                                       <= options.step_tolerance * (1.0 + np.abs(u).max()))
        if small_step or norm <= options.residual_tolerance * norm0 or norm == 0.0:
            return u, it
    raise ForwardSolveError(
        f"Newton did not converge in {options.max_iterations} iterations (residual "
        f"{norm:.3e}, initially {norm0:.3e})")
