"""Link functions f = Φ(θ) from a parameter field θ to a physical coefficient f.

Each link maps nodal values elementwise and provides its derivative Φ', which the adjoint
gradient uses: ∂/∂θ_k = Φ'(θ_k) ∂/∂f_k. Fields are represented by nodal values, so the
coefficient is the P1 interpolant of Φ(θ) (not Φ of the interpolant); the discrete forward map
is then differentiated exactly.

Available links (``get_link(name)``):

* ``"exp"``: Φ(θ) = e^θ (:class:`ExpLink`);
* ``"regular"``: Φ(θ) = f_min + (1 − f_min) log(1 + e^θ)/log 2 (:class:`RegularLink`), a
  shifted softplus with Φ(0) = 1 and bounded derivatives of all orders;
* ``"identity"``: Φ(θ) = θ (:class:`IdentityLink`), with a positivity check: a parameter with
  some nodal value ≤ 0 is a failed solve (:class:`~bayesinv.errors.ForwardSolveError`), which
  samplers treat as a rejection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import nonnegative_float, positive_float
from .errors import ForwardSolveError, InvalidArgumentError


@dataclass(frozen=True)
class Link:
    """Base class: ``link(theta)`` gives f, ``link.derivative(theta)`` gives Φ'(θ)."""

    name = "link"

    def __call__(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError("Link is abstract")

    def derivative(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError("Link is abstract")

    def second_derivative(self, theta: np.ndarray) -> np.ndarray:
        """Φ''(θ), needed by full (second-order) Hessians; links that do not define it raise."""
        raise InvalidArgumentError(
            f"link {getattr(self, 'name', type(self).__name__)!r} ({type(self).__name__}) has "
            f"no second_derivative, which the full Hessian needs; define "
            f"second_derivative(theta) or use hessian=\"gauss-newton\"")


@dataclass(frozen=True)
class ExpLink(Link):
    """Φ(θ) = f_min + exp(θ) (f_min = 0 by default): f > f_min for every θ; Φ' = exp(θ).

    ``ExpLink(f_min=1.0)`` is the link f = 1 + e^θ of Giordano's Darcy experiments. Overflow
    (θ ≳ 709) is a failed solve.
    """

    f_min: float = 0.0
    name = "exp"

    def __post_init__(self):
        nonnegative_float("f_min", self.f_min)

    def _exp(self, theta):
        with np.errstate(over="ignore"):
            e = np.exp(theta)
        if not np.isfinite(e).all():
            raise ForwardSolveError("exp link overflowed: the parameter is too large")
        return e

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        e = self._exp(theta)
        return e + self.f_min if self.f_min else e

    def derivative(self, theta: np.ndarray) -> np.ndarray:
        return self._exp(theta)

    def second_derivative(self, theta: np.ndarray) -> np.ndarray:
        return self._exp(theta)


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

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        return self.f_min + (1.0 - self.f_min) * np.logaddexp(0.0, theta) / np.log(2.0)

    def derivative(self, theta: np.ndarray) -> np.ndarray:
        return (1.0 - self.f_min) / np.log(2.0) * 0.5 * (1.0 + np.tanh(0.5 * np.asarray(theta)))

    def second_derivative(self, theta: np.ndarray) -> np.ndarray:
        """Φ'' = (1 − f_min) σ(θ)(1 − σ(θ)) / log 2, σ(θ)(1 − σ(θ)) = (1 − tanh²(θ/2)) / 4."""
        t = np.tanh(0.5 * np.asarray(theta, dtype=float))
        return (1.0 - self.f_min) / np.log(2.0) * 0.25 * (1.0 - t * t)


@dataclass(frozen=True)
class IdentityLink(Link):
    """Φ(θ) = θ: the parameter is the coefficient itself; Φ' = 1.

    The PDEs need f > 0 (ellipticity, coercivity), so a θ with a nodal value ≤ 0 raises
    :class:`~bayesinv.errors.ForwardSolveError` naming the smallest value: inside a chain it is
    a rejected proposal, not a crash.
    """

    name = "identity"

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.size and not theta.min() > 0.0:  # also catches NaN
            raise ForwardSolveError(
                f"identity link needs f = θ > 0 at every node; min θ = {theta.min():.4g} "
                f"at node {int(np.argmin(theta))}")
        return theta.copy()

    def derivative(self, theta: np.ndarray) -> np.ndarray:
        return np.ones_like(np.asarray(theta, dtype=float))

    def second_derivative(self, theta: np.ndarray) -> np.ndarray:
        return np.zeros_like(np.asarray(theta, dtype=float))


LINKS = {"exp": ExpLink, "regular": RegularLink, "identity": IdentityLink}


def coefficient(link: Link, theta: np.ndarray) -> np.ndarray:
    """f = Φ(θ), checked where a forward map takes it: real, finite, one value per node and
    f > 0 everywhere (ellipticity of the Darcy and heat operators, coercivity of the
    Schrödinger one). A user's link giving f ≤ 0 would otherwise return −G(θ) or finite
    garbage from an indefinite operator; here it is a failed solve
    (:class:`~bayesinv.errors.ForwardSolveError`, a rejected proposal inside a chain) naming
    the smallest value. A wrong shape or a complex f is a bug of the link: InvalidArgumentError.
    """
    f = np.asarray(link(theta))
    if np.iscomplexobj(f) or f.dtype.kind not in "biuf" or f.shape != np.shape(theta):
        raise InvalidArgumentError(
            f"link {getattr(link, 'name', type(link).__name__)!r} must return a real array of "
            f"shape {np.shape(theta)} (one value per node), got dtype {f.dtype}, shape "
            f"{f.shape}")
    f = f.astype(float, copy=False)
    if f.size and not f.min() > 0.0:  # also NaN
        i = int(np.nanargmin(f)) if not np.isnan(f).all() else 0
        raise ForwardSolveError(
            f"link {getattr(link, 'name', type(link).__name__)!r} gave f = {f[i]:.4g} at node "
            f"{i}; the PDE needs f > 0 at every node")
    return f


def get_link(link: str | Link) -> Link:
    """A :class:`Link` from a name (``"exp"``, ``"regular"``, ``"identity"``) or a Link."""
    if isinstance(link, Link):
        return link
    if link not in LINKS:
        raise InvalidArgumentError(f"link must be one of {sorted(LINKS)} or a Link, got {link!r}")
    return LINKS[link]()
