"""Link functions f = Φ(θ) from a parameter field θ to a physical coefficient f.

Each link maps nodal values elementwise and provides its derivative Φ', which the adjoint
gradient uses: ∂/∂θ_k = Φ'(θ_k) ∂/∂f_k. Fields are represented by nodal values, so the
coefficient is the P1 interpolant of Φ(θ) (not Φ of the interpolant); the discrete forward map
is then differentiated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import positive_float
from .errors import ForwardSolveError, InvalidArgumentError


@dataclass(frozen=True)
class Link:
    """Base class: ``link(theta)`` gives f, ``link.derivative(theta)`` gives Φ'(θ)."""

    name = "link"

    def __call__(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError("Link is abstract")

    def derivative(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError("Link is abstract")


@dataclass(frozen=True)
class ExpLink(Link):
    """Φ(θ) = exp(θ): f > 0 for every θ; Φ' = Φ. Overflow (θ ≳ 709) is a failed solve."""

    name = "exp"

    def __call__(self, theta):
        with np.errstate(over="ignore"):
            f = np.exp(theta)
        if not np.isfinite(f).all():
            raise ForwardSolveError("exp link overflowed: the parameter is too large")
        return f

    def derivative(self, theta):
        return self(theta)


@dataclass(frozen=True)
class RegularLink(Link):
    r"""A regular link with bounded derivatives (Nickl 2023, §1.2; Nickl & Wang 2022):

    .. math:: Φ(θ) = f_{\min} + (1 - f_{\min})\,\log(1 + e^{θ}) / \log 2,

    a shifted, rescaled softplus: Φ(0) = 1, Φ > f_min, Φ' = (1 − f_min) σ(θ)/log 2 ∈ (0, 1.45),
    and all higher derivatives bounded. Unlike exp, Φ grows only linearly, which the
    theory's stability estimates need.
    """

    f_min: float = 0.5
    name = "regular"

    def __post_init__(self):
        f_min = positive_float("f_min", self.f_min)
        if f_min >= 1:
            raise InvalidArgumentError(f"f_min must be in (0, 1) so that Φ(0) = 1, got {f_min}")

    def __call__(self, theta):
        return self.f_min + (1.0 - self.f_min) * np.logaddexp(0.0, theta) / np.log(2.0)

    def derivative(self, theta):
        return (1.0 - self.f_min) / np.log(2.0) * 0.5 * (1.0 + np.tanh(0.5 * np.asarray(theta)))


LINKS = {"exp": ExpLink, "regular": RegularLink}


def get_link(link) -> Link:
    """A :class:`Link` from a name (``"exp"``, ``"regular"``) or an existing Link."""
    if isinstance(link, Link):
        return link
    if link not in LINKS:
        raise InvalidArgumentError(f"link must be one of {sorted(LINKS)} or a Link, got {link!r}")
    return LINKS[link]()
