"""The prior contract: every prior is a transport of white noise, θ = T(ξ), ξ ~ N(0, I_k).

Samplers work in the whitened coordinates ξ. pCN needs only T; gradient-based samplers also
need the vector–Jacobian product ``to_physical_vjp(xi, v) = J_T(ξ)ᵀ v``, so that
∇_ξ log π(ξ | Y) = J_T(ξ)ᵀ ∇_θ ℓ(T(ξ)) − ξ; Gauss–Newton curvature (step sizes, Laplace
preconditioners) also uses the Jacobian–vector product ``to_physical_jvp(xi, v) = J_T(ξ) v``.
A new prior family is one new ``T`` with its VJP (and JVP).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._rowwise import rowwise
from .._validation import integer_at_least
from ..errors import InvalidArgumentError
from ..protocols import Seed


class WhitenedPrior:
    """Base class of priors; subclasses define ``dim``, ``latent_dim``, ``to_physical`` and
    ``to_physical_vjp`` (and ``to_physical_jvp``); priors with a density in θ coordinates
    (every Gaussian prior here) also define ``logpdf`` and ``grad_logpdf``.
    :func:`bayesinv.testing.check_prior` verifies the contract for any prior; instances
    satisfy :class:`~bayesinv.protocols.PriorProtocol`."""

    #: length of θ (e.g. number of mesh vertices)
    dim: int
    #: length of ξ
    latent_dim: int
    #: True when T is affine (Gaussian priors): enables exact linear-Gaussian formulas.
    is_linear: bool = False

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        """θ = T(ξ); ``xi`` may have leading batch dimensions (..., latent_dim)."""
        raise TypeError(f"{type(self).__name__} must implement to_physical")

    def to_physical_rows(self, xi: ArrayLike) -> np.ndarray:
        """θ = T(ξ) for a batch (..., latent_dim), one row at a time.

        Unlike a batched ``to_physical``, each row's value does not depend on how many rows
        are passed together (see :mod:`bayesinv._rowwise`): this is what stored draws use, so
        that streamed, resumed and in-memory runs hold bit-identical θ.
        """
        return rowwise(self.to_physical, xi)

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J_T(ξ)ᵀ v for v of length ``dim``."""
        raise TypeError(f"{type(self).__name__} must implement to_physical_vjp")

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J_T(ξ) v for v of length ``latent_dim``."""
        raise TypeError(f"{type(self).__name__} does not implement to_physical_jvp")

    def map_start(self) -> np.ndarray:
        """Where MAP searches start by default: ξ = 0, the prior mode, for Gaussian priors."""
        return np.zeros(self.latent_dim)

    def logpdf(self, theta: ArrayLike) -> float:
        """log density of θ (for Gaussian priors: w.r.t. Lebesgue measure on the support)."""
        raise TypeError(f"{type(self).__name__} has no density in θ coordinates; use "
                        f"logpdf_latent (the samplers only need the whitened density)")

    def grad_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """∇_θ log p(θ)."""
        raise TypeError(f"{type(self).__name__} has no density in θ coordinates")

    def check_latent(self, xi: ArrayLike, name: str = "xi") -> np.ndarray:
        """``xi`` as a float array whose last dimension is ``latent_dim``."""
        xi = np.asarray(xi, dtype=float)
        if xi.shape[-1:] != (self.latent_dim,):
            raise InvalidArgumentError(
                f"{name} must have last dimension {self.latent_dim} (the latent dimension), "
                f"got shape {xi.shape}")
        return xi

    def check_single_latent(self, xi: ArrayLike, name: str = "xi") -> np.ndarray:
        """``xi`` as one latent vector (no batch): a C-contiguous float array of shape
        (latent_dim,), for priors whose transport takes one ξ at a time."""
        xi = self.check_latent(xi, name)
        if xi.ndim != 1:
            raise InvalidArgumentError(
                f"{name} must be a single latent vector of shape ({self.latent_dim},) here, got "
                f"shape {xi.shape}")
        return np.ascontiguousarray(xi)

    def sample_latent(self, rng: Seed = None, size: int | None = None) -> np.ndarray:
        """ξ ~ N(0, I): shape (latent_dim,) or (size, latent_dim)."""
        rng = np.random.default_rng(rng)
        shape = (self.latent_dim,) if size is None else (
            integer_at_least("size", size, 1), self.latent_dim)
        return rng.standard_normal(shape)

    def sample(self, rng: Seed = None, size: int | None = None) -> np.ndarray:
        """Draws θ = T(ξ) from the prior: shape (dim,) or (size, dim)."""
        return self.to_physical(self.sample_latent(rng, size))

    def logpdf_latent(self, xi: ArrayLike) -> float:
        """log N(ξ; 0, I)."""
        xi = self.check_latent(xi)
        return float(-0.5 * xi @ xi - 0.5 * self.latent_dim * np.log(2 * np.pi))


def prior_description(prior) -> dict:
    """What identifies a prior, for checkpoint fingerprints
    (:func:`bayesinv.samplers.checkpoint.problem_fingerprint`): its type, its factor and mean
    when they are arrays, and its own ``fingerprint()`` where it defines one (priors whose
    map is not given by a dense factor: SPDE priors, wrappers of another prior)."""
    parts = {"type": type(prior).__qualname__}
    for name in ("factor", "mean"):
        if isinstance(getattr(prior, name, None), np.ndarray):
            parts[name] = getattr(prior, name)
    if callable(getattr(prior, "fingerprint", None)):
        parts["fingerprint"] = prior.fingerprint()
    return parts
