"""Checks users can run on their own forward maps and priors (Taylor and dot-product tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import integer_at_least


@dataclass
class TaylorReport:
    r"""Result of :func:`check_forward_map`.

    ``r0[i] = ‖G(θ+ε_i h) − G(θ)‖`` (expected rate 1) and
    ``r1[i] = |⟨w, G(θ+ε_i h) − G(θ)⟩ − ε_i ⟨Jᵀw, h⟩|`` (expected rate 2), for
    ε_i = ε₀ 2^{−i}; ``rates1`` are the observed log₂ ratios of successive r1;
    ``dot_product_error`` = |⟨Jh, w⟩ − ⟨h, Jᵀw⟩| / (|⟨Jh, w⟩| + tiny) when a tangent map exists.
    """

    eps: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    rates0: np.ndarray
    rates1: np.ndarray
    dot_product_error: float | None

    def passed(self, rate_tol: float = 0.2, dot_tol: float = 1e-8) -> bool:
        ok = bool(np.all(np.abs(self.rates1 - 2.0) <= rate_tol))
        if self.dot_product_error is not None:
            ok = ok and self.dot_product_error <= dot_tol
        return ok

    def __str__(self) -> str:
        lines = ["     eps          r0          r1   rate1"]
        for i, e in enumerate(self.eps):
            rate = "" if i == 0 else f"{self.rates1[i - 1]:7.3f}"
            lines.append(f"{e:9.3e} {self.r0[i]:11.4e} {self.r1[i]:11.4e} {rate}")
        if self.dot_product_error is not None:
            lines.append(f"adjoint dot-product relative error: {self.dot_product_error:.2e}")
        return "\n".join(lines)


def check_forward_map(forward, theta, rng=None, *, direction=None, weights=None,
                      eps0: float | None = None, halvings: int = 6) -> TaylorReport:
    """Taylor test of the adjoint gradient of a forward map (and the dot-product test).

    With a random direction h and random observation weights w, the remainder
    |⟨w, G(θ+εh) − G(θ)⟩ − ε ⟨Jᵀ w, h⟩| must fall like ε² if the pullback is the transpose of
    the derivative. ``eps0`` defaults to 0.1/‖h‖_∞ (a change of 0.1 in the field).
    """
    halvings = integer_at_least("halvings", halvings, 2)
    rng = np.random.default_rng(rng)
    theta = np.asarray(theta, dtype=float)
    h = rng.standard_normal(theta.shape) if direction is None else np.asarray(direction, float)
    y0, pullback = forward.value_and_pullback(theta)
    w = rng.standard_normal(y0.shape) if weights is None else np.asarray(weights, float)
    grad_h = float(pullback(w) @ h)
    eps0 = 0.1 / np.abs(h).max() if eps0 is None else eps0
    eps = eps0 * 0.5 ** np.arange(halvings)
    r0, r1 = [], []
    for e in eps:
        dy = forward(theta + e * h) - y0
        r0.append(np.linalg.norm(dy))
        r1.append(abs(float(w @ dy) - e * grad_h))
    r0, r1 = np.array(r0), np.array(r1)
    dot_error = None
    if getattr(forward, "has_jvp", False):
        jh = float(forward.jvp(theta, h) @ w)
        dot_error = abs(jh - grad_h) / (abs(jh) + 1e-300)
    return TaylorReport(eps, r0, r1, np.log2(r0[:-1] / r0[1:]), np.log2(r1[:-1] / r1[1:]),
                        dot_error)
