r"""Gaussian series priors on a Laplacian eigenbasis (Matérn-type; Giordano & Nickl 2020,
Nickl 2023).

.. math:: θ = m + ρ \, s \sum_{k ≤ D} (τ^2 + λ_k)^{−α/2} ξ_k e_k,
          \qquad ξ_k \sim N(0, 1) \text{ iid},

with (λ_k, e_k) the eigenpairs of −Δ on O with Dirichlet (e = 0 on ∂O) or Neumann
(∂_n e = 0) conditions, normalised in L²(O). The covariance of a linear functional is
Var⟨θ, ψ⟩ = Σ_k ρ² s² (τ² + λ_k)^{−α} ⟨e_k, ψ⟩².

* **Smoothness rule.** By Weyl's law λ_k ≍ k^{2/d}, so the pointwise variance
  Σ_k (τ² + λ_k)^{−α} e_k(x)² of the untruncated series is finite iff α > d/2; draws lie in
  the Sobolev space H^b for every b < α − d/2. For α ≤ d/2 the untruncated series does not
  define a continuous field and a :class:`~bayesinv.errors.BayesinvWarning` is issued (the
  truncated prior is still a valid finite-dimensional Gaussian).
* **Weights.** Dirichlet eigenvalues are positive and the default shift is τ² = 0, the
  λ_k^{−α/2} weights of the statistical papers. The Neumann spectrum starts at λ_0 = 0 with
  the constant mode, so λ_k^{−α/2} is undefined there; the default Neumann shift is τ² = 1,
  i.e. covariance (I − Δ_N)^{−α}, whose Cameron–Martin norm is the H^α(O) norm
  Σ (1 + λ_k)^α ⟨θ, e_k⟩². Any τ² ≥ 0 can be set (τ² > 0 is needed when some λ_k = 0).
* **The theory's rescaling.** Posterior contraction results for non-linear inverse problems
  use N-dependent priors θ = N^{−a} θ′ with θ′ the prior above (e.g. Giordano & Nickl 2020;
  Monard, Nickl & Paternain 2021; Nickl & Wang 2022); here ρ = N^{−a} with the default
  a = d/(2α + d) (:func:`rescaling_exponent`) or any user-set a, applied to the fluctuation
  θ − m. The covariance is then N^{−2a} times the unscaled one. The default truncation rule
  that goes with it is D = ⌈N^{d/(2α+d)}⌉ (:func:`default_num_modes`).

Finite elements: (λ_k, e_k) solve K e = λ M e on the P1 space, normalised by eᵀ M e = 1, i.e.
in L²(O) for the FE function; their error is O(h²) (see :mod:`bayesinv.fem.eigen`, which
caches them per mesh).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import integer_at_least, nonnegative_float, positive_float
from ..errors import BayesinvWarning, InvalidArgumentError
from .gaussian import GaussianPrior


def rescaling_exponent(alpha: float, spatial_dim: int) -> float:
    """a = d / (2α + d), the default exponent of the rescaling θ = N^{−a} θ′."""
    alpha = positive_float("alpha", alpha)
    return spatial_dim / (2.0 * alpha + spatial_dim)


def default_num_modes(sample_size: int, alpha: float, spatial_dim: int) -> int:
    """D = ⌈N^{d/(2α+d)}⌉, the truncation level that balances bias and variance for an
    α-regular truth (the theory's default rule)."""
    sample_size = integer_at_least("sample_size", sample_size, 1)
    return max(1, math.ceil(sample_size ** rescaling_exponent(alpha, spatial_dim) - 1e-9))


def unit_scale(eigenvalues, mass_matrix, alpha: float, shift: float) -> float:
    r"""The s with s² Σ_k (τ² + λ_k)^{−α} = |O|: the L²(O) average of the pointwise variance
    Σ_k s²(τ² + λ_k)^{−α} e_k(x)² is then 1 (the e_k are L²-orthonormal, so the average is
    s² Σ_k (τ² + λ_k)^{−α} / |O|), with |O| = 1ᵀ M 1."""
    area = float(np.ones(mass_matrix.shape[0]) @ (mass_matrix @ np.ones(mass_matrix.shape[0])))
    total = float(np.sum((shift + np.asarray(eigenvalues, float)) ** (-alpha)))
    return math.sqrt(area / total)


class SeriesPrior(GaussianPrior):
    r"""A Gaussian prior with covariance Σ_k ρ²s²(τ² + λ_k)^{−α} e_k ⊗ e_k on an
    L²-orthonormal basis (see the module docstring).

    Parameters
    ----------
    eigenvalues : array_like, shape (D,)
        λ_1 ≤ … ≤ λ_D, non-negative, with τ² + λ_k > 0.
    eigenfunctions : array_like, shape (dim, D)
        Nodal values of e_1..e_D, orthonormal in the inner product of ``mass_matrix``.
    mass_matrix : sparse matrix, shape (dim, dim)
        M with ⟨u, v⟩_{L²} = uᵀ M v.
    alpha : float
        Smoothness α; the untruncated series defines a continuous field iff α > d/2
        (a :class:`~bayesinv.errors.BayesinvWarning` is issued otherwise).
    scale : float or None
        s, an overall standard-deviation multiplier. None (default): s is chosen so that
        the prior's pointwise variance averaged over O is 1 (before the rescaling ρ), i.e.
        s² Σ_k (τ² + λ_k)^{−α} = |O| = 1ᵀM1 (:func:`unit_scale`), so that draws have
        unit-order size whatever α, τ² and the domain. (``scale=1`` is the bare weights of
        the papers: on the unit square with α = 2 it gives a prior sd of about 0.05–0.1.)
    mean : float or array, optional
    spatial_dim : int
        d, the dimension of the domain (for the α > d/2 check).
    shift : float
        τ² ≥ 0 in the weights (τ² + λ_k)^{−α/2}; default 0.
    rescaling : float
        ρ > 0, a multiplier of the fluctuation (N^{−a} for the theory's rescaled prior).
    """

    #: "dirichlet" or "neumann" when built from a domain, None for user-supplied eigenpairs
    boundary: str | None = None

    def __init__(self, eigenvalues: ArrayLike, eigenfunctions: ArrayLike,
                 mass_matrix: ArrayLike, *, alpha: float, scale: float | None = None,
                 mean: ArrayLike = 0.0, spatial_dim: int = 2, shift: float = 0.0,
                 rescaling: float = 1.0) -> None:
        self.alpha = positive_float("alpha", alpha)
        self.scale = None if scale is None else positive_float("scale", scale)
        self.rescaling = positive_float("rescaling", rescaling)
        self.shift = nonnegative_float("shift", shift)
        lam = np.asarray(eigenvalues, dtype=float)
        if lam.ndim != 1 or not np.isfinite(lam).all() or not (lam + self.shift > 0).all() \
                or (lam < 0).any():
            raise InvalidArgumentError(
                "eigenvalues must be a 1-d array of non-negative numbers with "
                f"shift + eigenvalue > 0 (shift={self.shift}); got shape {lam.shape}, "
                f"min {lam.min() if lam.size else 'n/a'}")
        if self.alpha <= spatial_dim / 2:
            warnings.warn(
                f"alpha={alpha} <= d/2={spatial_dim / 2}: the untruncated series prior does not "
                f"define a continuous field (draws are in H^b only for b < alpha - d/2); "
                f"choose alpha > {spatial_dim / 2}", BayesinvWarning, stacklevel=2)
        self.spatial_dim = spatial_dim
        self.eigenvalues = lam
        self.eigenfunctions = np.asarray(eigenfunctions, dtype=float)
        self.mass_matrix = mass_matrix
        self.auto_scale = self.scale is None
        if self.scale is None:
            self.scale = unit_scale(lam, mass_matrix, self.alpha, self.shift)
        self.coefficient_sd = self.rescaling * self.scale * (self.shift + lam) ** (-self.alpha / 2)
        super().__init__(self.eigenfunctions * self.coefficient_sd, mean)

    @classmethod
    def laplacian(cls, domain: Any, *, alpha: float, boundary: str = "dirichlet",
                  num_modes: int | None = None, max_eigenvalue: float | None = None,
                  scale: float | None = None, shift: float | None = None,
                  mean: ArrayLike | Callable[[np.ndarray], np.ndarray] = 0.0,
                  sample_size: int | None = None, rescale_exponent: float | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> SeriesPrior:
        """The series prior on the Laplacian eigenbasis of a domain (any P1 mesh).

        Parameters
        ----------
        domain : bayesinv.fem.Domain
        alpha : float
            Smoothness α (> d/2 for a continuous field).
        boundary : {"dirichlet", "neumann"}
        num_modes : int, optional
            D, the number of modes. Or give ``max_eigenvalue`` (keep every λ_k ≤ it), or
            neither together with ``sample_size`` for the rule D = ⌈N^{d/(2α+d)}⌉.
        max_eigenvalue : float, optional
            An eigenvalue cut-off instead of ``num_modes``.
        scale : float or None
            s; None (default): unit average pointwise variance (see :class:`SeriesPrior`).
        shift : float, optional
            τ²; default 0 (Dirichlet) or 1 (Neumann, whose λ_0 = 0).
        mean : float, callable ``mean(x)`` or nodal values
        sample_size : int, optional
            N: rescale the fluctuation by N^{−a} (the theory's rescaled prior).
        rescale_exponent : float, optional
            a; default d/(2α + d). Needs ``sample_size``.
        cache_dir : str or Path, optional
            On-disk eigenpair cache (default ``$BAYESINV_CACHE_DIR``; see
            :mod:`bayesinv.fem.eigen`). Eigenpairs are always cached in memory per mesh.
        """
        from ..fem.eigen import laplacian_eigenpairs

        alpha = positive_float("alpha", alpha)
        d = domain.dim
        if num_modes is not None and max_eigenvalue is not None:
            raise InvalidArgumentError("give num_modes or max_eigenvalue, not both")
        if rescale_exponent is not None and sample_size is None:
            raise InvalidArgumentError(
                "rescale_exponent needs sample_size (the rescaling is N^(-rescale_exponent))")
        rescaling = 1.0
        if sample_size is not None:
            sample_size = integer_at_least("sample_size", sample_size, 1)
            a = (rescaling_exponent(alpha, d) if rescale_exponent is None
                 else positive_float("rescale_exponent", rescale_exponent))
            rescaling = float(sample_size) ** (-a)
            if num_modes is None and max_eigenvalue is None:
                num_modes = default_num_modes(sample_size, alpha, d)
        if num_modes is None and max_eigenvalue is None:
            raise InvalidArgumentError(
                "give num_modes, max_eigenvalue, or sample_size (for D = ceil(N^(d/(2α+d))))")
        if num_modes is not None:
            num_modes = integer_at_least("num_modes", num_modes, 1)
        lam, vecs = laplacian_eigenpairs(domain, num_modes, boundary,
                                         max_eigenvalue=max_eigenvalue, cache_dir=cache_dir)
        if shift is None:
            shift = 0.0 if boundary == "dirichlet" else 1.0
        space = domain.parameter_space
        prior = cls(lam, vecs, space.mass_matrix, alpha=alpha, scale=scale,
                    mean=space.interpolate(mean), spatial_dim=d, shift=shift,
                    rescaling=rescaling)
        prior.boundary = boundary
        return prior

    @classmethod
    def dirichlet_laplacian(cls, domain: Any, *, alpha: float, num_modes: int | None = None,
                            max_eigenvalue: float | None = None, scale: float | None = None,
                            mean: ArrayLike | Callable[[np.ndarray], np.ndarray] = 0.0,
                            **kwargs: Any) -> SeriesPrior:
        """The series prior on the Dirichlet–Laplacian eigenbasis of a domain (λ_k^{−α/2}
        weights): :meth:`laplacian` with ``boundary="dirichlet"``, taking the same arguments
        (``num_modes`` or ``max_eigenvalue``, ``scale``, ``mean`` — a constant, a callable
        ``mean(x)`` or nodal values — ``sample_size``, ...).

        Draws vanish on ∂O (every e_k does), so the prior puts no mass on fields that do
        not: a truth that is non-zero on the boundary is never inside a credible band.
        For a field free on ∂O use ``boundary="neumann"`` in :meth:`laplacian`.
        """
        return cls.laplacian(domain, alpha=alpha, boundary="dirichlet", num_modes=num_modes,
                             max_eigenvalue=max_eigenvalue, scale=scale, mean=mean, **kwargs)

    @property
    def length_scale(self) -> float:
        """ℓ = √(8ν)/κ with κ² the shift τ² and ν = α − d/2 (the Matérn range of the SPDE
        prior with the same operator (κ² − Δ)^{α/2}); inf for shift 0."""
        nu = self.alpha - self.spatial_dim / 2
        return math.sqrt(8 * nu / self.shift) if self.shift > 0 else math.inf

    def with_length_scale(self, length_scale: float) -> SeriesPrior:
        """The same prior with shift κ² = 8ν/ℓ² (ν = α − d/2 > 0): the same eigenpairs,
        α, rescaling ρ and mean; s re-normalised to unit average variance if it was chosen
        so (``scale=None``), else kept (for hierarchical length-scales,
        :class:`~bayesinv.hierarchical.LengthScalePrior`)."""
        length_scale = positive_float("length_scale", length_scale)
        nu = self.alpha - self.spatial_dim / 2
        if nu <= 0:
            raise InvalidArgumentError(
                f"a length-scale needs alpha > d/2 (ν = α − d/2 > 0), got alpha={self.alpha}, "
                f"d={self.spatial_dim}")
        new = type(self)(self.eigenvalues, self.eigenfunctions, self.mass_matrix,
                         alpha=self.alpha, scale=None if self.auto_scale else self.scale,
                         mean=self.mean, spatial_dim=self.spatial_dim,
                         shift=8 * nu / length_scale**2, rescaling=self.rescaling)
        new.boundary = self.boundary
        return new

    @property
    def num_modes(self) -> int:
        return self.latent_dim

    def latent_coordinates(self, theta: ArrayLike) -> np.ndarray:
        """ξ_k = ⟨θ − m, e_k⟩_{L²} / (ρ s (τ² + λ_k)^{−α/2}) (exact on the support)."""
        centred = np.asarray(theta, float) - self.mean
        return (centred @ (self.mass_matrix @ self.eigenfunctions)) / self.coefficient_sd

    def functional_variance(self, psi: np.ndarray) -> float:
        """Var ⟨θ, ψ⟩_{L²} = Σ_k ρ²s²(τ² + λ_k)^{−α} ⟨e_k, ψ⟩² for ψ given by nodal values."""
        proj = self.eigenfunctions.T @ (self.mass_matrix @ np.asarray(psi, float))
        return float(np.sum(self.coefficient_sd**2 * proj**2))
