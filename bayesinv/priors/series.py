r"""Gaussian series priors on an eigenbasis (Matérn-type; Giordano & Nickl 2020, Nickl 2023).

    θ = m + Σ_{k ≤ D} s λ_k^{−α/2} ξ_k e_k,     ξ_k ~ N(0, 1) iid,

with (λ_k, e_k) the eigenpairs of the Dirichlet Laplacian −Δ e = λ e on O (e = 0 on ∂O),
normalised in L²(O). The draws are in the Sobolev space H^β for β < α − d/2, so for a
continuous field take α > d/2 (a warning is issued otherwise). The covariance of a linear
functional is Var⟨θ, ψ⟩ = Σ_k s² λ_k^{−α} ⟨e_k, ψ⟩².

Finite elements: (λ_k, e_k) solve K e = λ M e on the P1 space (stiffness K, mass M, interior
vertices), normalised by eᵀ M e = 1, i.e. in L²(O) for the FE function; their error is O(h²).
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import integer_at_least, positive_float
from ..errors import BayesinvWarning, InvalidArgumentError
from .gaussian import GaussianPrior


class SeriesPrior(GaussianPrior):
    """A Gaussian prior with covariance Σ_k s² λ_k^{−α} e_k ⊗ e_k on an L²-orthonormal basis.

    Parameters
    ----------
    eigenvalues : array_like, shape (D,)
        λ_1 ≤ … ≤ λ_D, positive.
    eigenfunctions : array_like, shape (dim, D)
        Nodal values of e_1..e_D, orthonormal in the inner product of ``mass_matrix``.
    mass_matrix : sparse matrix, shape (dim, dim)
        M with ⟨u, v⟩_{L²} = uᵀ M v.
    alpha : float
        Smoothness α (> d/2 for continuous draws).
    scale : float
        s, an overall standard-deviation multiplier.
    mean : float or array, optional
    spatial_dim : int
        d, the dimension of the domain (for the α > d/2 check).
    """

    def __init__(self, eigenvalues, eigenfunctions, mass_matrix, *, alpha: float,
                 scale: float = 1.0, mean=0.0, spatial_dim: int = 2):
        self.alpha = positive_float("alpha", alpha)
        self.scale = positive_float("scale", scale)
        lam = np.asarray(eigenvalues, dtype=float)
        if lam.ndim != 1 or not (lam > 0).all():
            raise InvalidArgumentError("eigenvalues must be a 1-d array of positive numbers")
        if self.alpha <= spatial_dim / 2:
            warnings.warn(
                f"alpha={alpha} <= d/2={spatial_dim / 2}: the untruncated series prior does not "
                f"define a continuous field (draws are in H^b only for b < alpha - d/2); "
                f"choose alpha > {spatial_dim / 2}", BayesinvWarning, stacklevel=2)
        self.eigenvalues = lam
        self.eigenfunctions = np.asarray(eigenfunctions, dtype=float)
        self.mass_matrix = mass_matrix
        self.coefficient_sd = self.scale * lam ** (-self.alpha / 2)
        super().__init__(self.eigenfunctions * self.coefficient_sd, mean)

    @classmethod
    def dirichlet_laplacian(cls, domain, *, alpha: float, num_modes: int, scale: float = 1.0,
                            mean=0.0) -> SeriesPrior:
        """The series prior on the Dirichlet–Laplacian eigenbasis of a domain.

        ``mean`` may be a constant, a callable ``mean(x)`` or nodal values.
        """
        from ..fem.eigen import laplacian_eigenpairs

        num_modes = integer_at_least("num_modes", num_modes, 1)
        lam, vecs = laplacian_eigenpairs(domain, num_modes)
        space = domain.parameter_space
        return cls(lam, vecs, space.mass_matrix, alpha=alpha, scale=scale,
                   mean=space.interpolate(mean), spatial_dim=domain.dim)

    @property
    def num_modes(self) -> int:
        return self.latent_dim

    def latent_coordinates(self, theta) -> np.ndarray:
        """ξ_k = ⟨θ − m, e_k⟩_{L²} / (s λ_k^{−α/2}) (exact on the support)."""
        centred = np.asarray(theta, float) - self.mean
        return (centred @ (self.mass_matrix @ self.eigenfunctions)) / self.coefficient_sd

    def functional_variance(self, psi: np.ndarray) -> float:
        """Var ⟨θ, ψ⟩_{L²} = Σ_k s² λ_k^{−α} ⟨e_k, ψ⟩² for ψ given by nodal values."""
        proj = self.eigenfunctions.T @ (self.mass_matrix @ np.asarray(psi, float))
        return float(np.sum(self.coefficient_sd**2 * proj**2))
