"""Checks users can run on their own whitened priors θ = T(ξ) (e.g. a decoder they bring).

:func:`check_prior_transport` treats T as a forward map ξ ↦ θ and runs
:func:`~bayesinv.testing.check_forward_map` on it: the Taylor test of ``to_physical_vjp``
(|⟨v, T(ξ+εh) − T(ξ)⟩ − ε⟨J_Tᵀv, h⟩| = O(ε²)) and the dot-product test
⟨J_T h, v⟩ = ⟨h, J_Tᵀ v⟩ of ``to_physical_jvp`` against it. Together they pin down both
derivatives: the Taylor test validates J_Tᵀ, the dot-product test J_T against J_Tᵀ.
"""

from __future__ import annotations

import numpy as np

from .checks import TaylorReport, check_forward_map


class _TransportAsMap:
    """A prior's transport ξ ↦ T(ξ) seen through the forward-map interface of the checks."""

    has_jvp = True

    def __init__(self, prior):
        self.prior = prior

    def __call__(self, xi):
        return self.prior.to_physical(xi)

    def value_and_pullback(self, xi):
        xi = np.array(xi, dtype=float)
        return self.prior.to_physical(xi), lambda v: self.prior.to_physical_vjp(xi, v)

    def jvp(self, xi, h):
        return self.prior.to_physical_jvp(xi, h)


def check_prior_transport(prior, xi=None, rng=None, *, eps0: float | None = None,
                          halvings: int = 6) -> TaylorReport:
    """Taylor and dot-product tests of a prior's ``to_physical_vjp`` / ``to_physical_jvp`` at
    ξ (default: a draw from N(0, I)); ``report.passed()`` checks rate 2 and the identity."""
    rng = np.random.default_rng(rng)
    xi = prior.sample_latent(rng) if xi is None else prior.check_latent(xi)
    return check_forward_map(_TransportAsMap(prior), xi, rng, eps0=eps0, halvings=halvings)
