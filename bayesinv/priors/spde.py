r"""Whittle–Matérn (SPDE) priors on a P1 mesh: sparse factorisations instead of dense kernels.

The Gaussian field θ solving the stochastic PDE

.. math:: (κ^2 − Δ)^β (θ − m) = c\,\mathcal W \quad\text{in } O

(𝒲 white noise, β = 1, 2, …) has covariance c²(κ² − Δ)^{−2β}; on R^d it is the Matérn field
with smoothness ν = 2β − d/2, range ℓ = √(8ν)/κ and marginal variance

.. math:: σ^2 = \frac{c^2\,Γ(ν)}{Γ(ν + d/2)\,(4π)^{d/2}\,κ^{2ν}}
          \qquad (Γ(ν + d/2) = Γ(2β))

(Whittle 1954; Lindgren, Rue & Lindström 2011). ℓ is the "practical range", where the
correlation is ≈ 0.13–0.14; it is twice the Rasmussen–Williams length scale √(2ν)/κ used by
:class:`~bayesinv.priors.kernels.MaternKernel`.

**Discretisation** (P1, Galerkin). With the mass matrix M, the stiffness matrix K and the
boundary mass matrix M_∂ (:mod:`bayesinv.fem.boundary`),

    A = κ² M + K + b M_∂,        θ = m + c (A⁻¹ M)^{β−1} A⁻¹ R ξ,   ξ ~ N(0, I_n),

where R Rᵀ = M turns ξ into the load vector of white noise (R ξ ~ N(0, M)). So for β = 1,
θ = m + c A⁻¹Rξ with covariance c² A⁻¹MA⁻¹ (precision c⁻² A M⁻¹ A: hIPPYlib's
``BiLaplacianPrior``, Villa, Petra & Ghattas 2021), and for β = 2, θ = m + c A⁻¹MA⁻¹Rξ.

* **The noise root R.** By default R = Pᵀ L from a sparse Cholesky factorisation of the
  consistent mass matrix, M[p][:, p] = L Lᵀ (CHOLMOD; note its fill-reducing permutation p, so
  R = PᵀL and not L; :class:`~bayesinv.linalg.SparseCholesky`). This keeps the exact Galerkin
  covariance c²A⁻¹MA⁻¹, needs no element-wise root (hIPPYlib's root maps from a quadrature
  space, so its white noise has several times n entries; ours is square, latent_dim = n), and
  costs one sparse triangular product per map (a fraction of one solve with A;
  benchmarks/results/design_notes.md). ``noise="lumped"``
  uses the row-sum lumped mass M̃ for R *and* for the M between the solves (β ≥ 2), the sparse
  GMRF precision of Lindgren et al. (2011): cheaper (diagonal R) but less accurate — measured
  on the unit square (ℓ = 0.3, central quarter) its pointwise variance is off by 2.1% (β = 1)
  and 1.5% (β = 2) at 64² against 0.4% and 0.9% for the consistent version, and the two
  differ by 11%, 5%, 1.7% (β = 1) at 16², 32², 64². Hence consistent is the default.
* **One factorisation.** A is factorised once at construction; each whitened map costs β
  sparse triangular solve pairs, and so does its transpose
  Tᵀv = c Rᵀ A⁻¹(M A⁻¹)^{β−1} v.
* **Boundary.** With b = 0 (the natural Neumann condition) the pointwise variance near ∂O is
  inflated (doubled at a flat boundary, by reflection); a Dirichlet condition would deflate
  it to 0. The Robin term b ∫_{∂O} θ v ds with b ≈ κ/1.42 (Daon & Stadler 2018, for ν = 1
  in 2-d, the value hIPPYlib uses) keeps it near σ². ``robin=True`` uses b = κ/1.42 for
  β = 1; for β = 2 we measured the boundary/interior variance ratio on the unit square over b
  and use b = 0.35κ, the best multiple found there (see :data:`ROBIN_FACTOR`). With these
  values the variance at the boundary is ≈ 0.86σ² (β = 1) and ≈ 0.84σ² (β = 2) instead
  of 2σ², and within 1% of σ² from a distance ℓ on (unit square, 100², ℓ = 0.1 and 0.2).
* **Log-density.** T is square and invertible, so θ has the density N(m, C) with
  C = c²(A⁻¹M)^{β−1}A⁻¹MA⁻¹(MA⁻¹)^{β−1}, precision Q = c⁻² S M⁻¹ S with the symmetric
  S = A(M⁻¹A)^{β−1}, and log det C = 2n log c + (2β − 1) log det M − 2β log det A, all from
  the two sparse factorisations.

**Parameters.** Either (ν, ℓ, σ²), hIPPYlib's (γ, δ) or (κ, β, σ²) directly; the conversions
and the Robin rule are :mod:`bayesinv.priors.spde_parameters` (re-exported here).

References
----------
P. Whittle (1954), On stationary processes in the plane, Biometrika 41.
F. Lindgren, H. Rue & J. Lindström (2011), An explicit link between Gaussian fields and
Gaussian Markov random fields: the SPDE approach, JRSS-B 73.
T. Bui-Thanh, O. Ghattas, J. Martin & G. Stadler (2013), A computational framework for
infinite-dimensional Bayesian inverse problems I, SIAM J. Sci. Comput. 35.
Y. Daon & G. Stadler (2018), Mitigating the influence of the boundary on PDE-based covariance
operators, Inverse Problems and Imaging 12.
U. Villa, N. Petra & O. Ghattas (2021), hIPPYlib, ACM TOMS 47.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import (
    finite_vector,
    integer_at_least,
    mean_vector,
    nonnegative_float,
    one_of,
    positive_float,
)
from ..errors import InvalidArgumentError
from ..linalg import SparseCholesky
from .base import WhitenedPrior
from .kernels import MaternKernel
from .spde_parameters import (
    ROBIN_FACTOR,
    beta_from_nu,
    hippylib_operator,
    matern_operator,
    matern_variance_constant,
    robin_coefficient,
)

__all__ = ["ROBIN_FACTOR", "WhittleMaternPrior", "beta_from_nu", "matern_variance_constant"]


class WhittleMaternPrior(WhitenedPrior):
    r"""The SPDE prior (κ² − Δ)^β (θ − m) = c𝒲 on a P1 mesh, in whitened form (see the module
    docstring for the discretisation, parameters and boundary treatment).

    Parameters
    ----------
    mass_matrix, stiffness_matrix : sparse matrix, shape (n, n)
        M and K of the P1 space.
    kappa : float
        κ > 0.
    beta : int
        β ≥ 1 (1 and 2 are the common choices); ν = 2β − d/2 must be > 0.
    variance : float
        σ², the marginal variance of the Matérn field on R^d (sets c).
    boundary_mass_matrix : sparse matrix, optional
        M_∂, needed when ``robin_coefficient`` > 0.
    robin_coefficient : float
        b ≥ 0 in A = κ²M + K + bM_∂.
    mean : float or array, shape (n,)
    spatial_dim : int
        d.
    noise : {"consistent", "lumped"}
        R from the Cholesky factor of M, or the lumped mass (see module docstring).
    backend : {None, "cholmod", "superlu"}
        Sparse factorisation backend (:class:`~bayesinv.linalg.SparseCholesky`).
    """

    is_linear = True

    def __init__(self, mass_matrix: ArrayLike, stiffness_matrix: ArrayLike, *, kappa: float,
                 beta: int = 1, variance: float = 1.0,
                 boundary_mass_matrix: ArrayLike | None = None,
                 robin_coefficient: float = 0.0, mean: ArrayLike = 0.0, spatial_dim: int = 2,
                 noise: str = "consistent", backend: str | None = None) -> None:
        self.kappa = positive_float("kappa", kappa)
        self.beta = integer_at_least("beta", beta, 1)
        self.variance = positive_float("variance", variance)
        self.spatial_dim = integer_at_least("spatial_dim", spatial_dim, 1)
        self.nu = 2.0 * self.beta - self.spatial_dim / 2
        if self.nu <= 0:
            raise InvalidArgumentError(
                f"beta={beta} gives ν = 2β − d/2 = {self.nu} <= 0 on a {spatial_dim}-d domain "
                f"(infinite pointwise variance); use beta >= {spatial_dim // 4 + 1}")
        self.noise = one_of("noise", noise, ("consistent", "lumped"))
        self.robin_coefficient = nonnegative_float("robin_coefficient", robin_coefficient)
        M = sp.csc_matrix(mass_matrix, dtype=float)
        K = sp.csc_matrix(stiffness_matrix, dtype=float)
        if M.shape != K.shape or M.shape[0] != M.shape[1]:
            raise InvalidArgumentError(
                f"mass and stiffness matrices must be square of one shape, got {M.shape} and "
                f"{K.shape}")
        self.dim = self.latent_dim = M.shape[0]
        if self.noise == "lumped":
            M = sp.diags(np.asarray(M.sum(axis=1)).ravel()).tocsc()
        self.mass_matrix = M
        if self.robin_coefficient > 0 and boundary_mass_matrix is None:
            raise InvalidArgumentError("robin_coefficient > 0 needs boundary_mass_matrix")
        self.stiffness_matrix, self.backend = K, backend
        self.boundary_mass_matrix = (None if self.robin_coefficient == 0
                                     else sp.csc_matrix(boundary_mass_matrix))
        self._mass = SparseCholesky(M, backend, name="mass matrix")
        self._factorise()
        self.mean = mean_vector("mean", mean, self.dim)

    def _factorise(self) -> None:
        """A = κ²M + K + bM_∂, its sparse Cholesky factor, and c from σ² and κ."""
        A = self.kappa**2 * self.mass_matrix + self.stiffness_matrix
        if self.boundary_mass_matrix is not None:  # robin_coefficient > 0
            A = A + self.robin_coefficient * self.boundary_mass_matrix
        self.operator = A.tocsc()
        self._op = SparseCholesky(self.operator, self.backend,
                                  name="SPDE operator κ²M + K + bM_∂")
        self.noise_scale = math.sqrt(
            self.variance / matern_variance_constant(self.nu, self.kappa, self.spatial_dim))

    def with_length_scale(self, length_scale: float) -> WhittleMaternPrior:
        """The same prior with range ℓ = ``length_scale`` (κ = √(8ν)/ℓ) and the same marginal
        variance σ², β, mean and noise root. The Robin coefficient is scaled with κ (b/κ kept,
        the rule of ``robin=True``). Shares M, K, M_∂ and the mass factorisation; only
        κ²M + K + bM_∂ is factorised anew (for hierarchical length-scales,
        :class:`~bayesinv.hierarchical.LengthScalePrior`)."""
        length_scale = positive_float("length_scale", length_scale)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.kappa = math.sqrt(8 * self.nu) / length_scale
        new.robin_coefficient = self.robin_coefficient * new.kappa / self.kappa
        new._factorise()
        return new

    def fingerprint(self) -> dict:
        """κ, β, σ², the Robin coefficient, the noise root and the operator (checkpoints)."""
        return {"kappa": self.kappa, "beta": self.beta, "variance": self.variance,
                "robin": self.robin_coefficient, "noise": self.noise,
                "operator": self.operator, "mass": self.mass_matrix}

    # -- construction from the usual parametrisations ------------------------------------------

    @classmethod
    def from_matern(cls, domain: Any, *, length_scale: float, variance: float = 1.0,
                    nu: float | None = None, beta: int | None = None,
                    robin: bool | float = True,
                    mean: ArrayLike | Callable[[np.ndarray], np.ndarray] = 0.0,
                    noise: str = "consistent", backend: str | None = None
                    ) -> WhittleMaternPrior:
        """The SPDE prior with Matérn parameters (ν, ℓ, σ²) on a domain's P1 space.

        Parameters
        ----------
        domain : bayesinv.fem.Domain
        length_scale : float
            ℓ = √(8ν)/κ, the practical range (correlation ≈ 0.13 at distance ℓ).
        variance : float
            σ², the marginal variance (attained in the interior).
        nu, beta : optional
            Give one: ν = 2β − d/2 (default β = 1, i.e. ν = 1 in 2-d).
        robin : bool or float
            True: b = ROBIN_FACTOR[β]·κ; False: b = 0 (Neumann); a float: b itself.
        mean : float, callable ``mean(x)`` or nodal values
        """
        kappa, beta = matern_operator(domain.dim, length_scale, nu, beta)
        return cls._on_domain(domain, kappa=kappa, beta=beta, variance=variance, robin=robin,
                              mean=mean, noise=noise, backend=backend)

    @classmethod
    def from_hippylib(cls, domain: Any, *, gamma: float, delta: float, beta: int = 1,
                      robin: bool | float = True,
                      mean: ArrayLike | Callable[[np.ndarray], np.ndarray] = 0.0,
                      noise: str = "consistent", backend: str | None = None
                      ) -> WhittleMaternPrior:
        """The SPDE prior with hIPPYlib's coefficients: operator γ(−Δ) + δ = γ(κ² − Δ).

        κ = √(δ/γ), c = γ^{−β}; with β = 1 this is hIPPYlib's ``BiLaplacianPrior(Vh, γ, δ,
        robin_bc=True)`` (whose Robin coefficient is γκ/1.42, i.e. b = κ/1.42 here).
        """
        kappa, beta, variance = hippylib_operator(domain.dim, gamma, delta, beta)
        return cls._on_domain(domain, kappa=kappa, beta=beta, variance=variance, robin=robin,
                              mean=mean, noise=noise, backend=backend)

    @classmethod
    def _on_domain(cls, domain, *, kappa, beta, variance, robin, mean, noise, backend):
        from ..fem.boundary import boundary_mass_matrix

        kappa = positive_float("kappa", kappa)
        space = domain.parameter_space
        b = robin_coefficient(robin, beta, kappa)
        Mb = boundary_mass_matrix(space) if b > 0 else None
        return cls(space.mass_matrix, space.stiffness_matrix, kappa=kappa, beta=beta,
                   variance=variance, boundary_mass_matrix=Mb, robin_coefficient=b,
                   mean=space.interpolate(mean), spatial_dim=domain.dim, noise=noise,
                   backend=backend)

    # -- parameters in the other conventions ---------------------------------------------------

    @property
    def length_scale(self) -> float:
        """ℓ = √(8ν)/κ."""
        return math.sqrt(8 * self.nu) / self.kappa

    @property
    def gamma(self) -> float:
        """hIPPYlib's γ = c^{−1/β}."""
        return self.noise_scale ** (-1.0 / self.beta)

    @property
    def delta(self) -> float:
        """hIPPYlib's δ = γκ²."""
        return self.gamma * self.kappa**2

    def correlation(self, r: ArrayLike) -> np.ndarray:
        """The Matérn correlation of the field on R^d at distance r (for comparison): the
        kernel of :class:`~bayesinv.priors.kernels.MaternKernel` with ℓ = √(2ν)/κ."""
        return MaternKernel(self.nu, math.sqrt(2 * self.nu) / self.kappa).correlation(r)

    # -- the whitened map ----------------------------------------------------------------------

    def _columns(self, x, length):
        """(..., n) → (n, batch) and a function to reshape back."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1:] != (length,):
            raise InvalidArgumentError(f"expected last dimension {length}, got shape {x.shape}")
        lead = x.shape[:-1]
        return x.reshape(-1, length).T, (lambda y: y.T.reshape(*lead, y.shape[0]))

    def _apply(self, cols):
        """(A⁻¹M)^{β−1} A⁻¹ applied to columns."""
        y = self._op.solve(cols)
        for _ in range(self.beta - 1):
            y = self._op.solve(self.mass_matrix @ y)
        return y

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        """θ = m + c (A⁻¹M)^{β−1} A⁻¹ R ξ (batched over leading dimensions)."""
        xi = self.check_latent(xi)
        cols, back = self._columns(xi, self.latent_dim)
        return self.mean + back(self.noise_scale * self._apply(self._mass.sqrt_matvec(cols)))

    def to_physical_jvp(self, xi: ArrayLike | None, v: ArrayLike) -> np.ndarray:
        """T v (T is linear: ``xi`` is not used and may be None)."""
        cols, back = self._columns(v, self.latent_dim)
        return back(self.noise_scale * self._apply(self._mass.sqrt_matvec(cols)))

    def to_physical_vjp(self, xi: ArrayLike | None, v: ArrayLike) -> np.ndarray:
        """Tᵀ v = c Rᵀ A⁻¹ (M A⁻¹)^{β−1} v (``xi`` is not used and may be None)."""
        cols, back = self._columns(v, self.dim)
        return back(self.noise_scale * self._mass.sqrt_rmatvec(self._apply(cols)))

    # -- moments -------------------------------------------------------------------------------

    def covariance_apply(self, v: ArrayLike) -> np.ndarray:
        """C v = T Tᵀ v."""
        return self.to_physical_jvp(None, self.to_physical_vjp(None, v))

    def pointwise_variance(self, nodes: ArrayLike | None = None, block: int = 256) -> np.ndarray:
        """Var θ(x_i) = |Tᵀ e_i|² at the given node indices (all by default), in blocks."""
        nodes = np.arange(self.dim) if nodes is None else np.asarray(nodes, dtype=np.int64)
        out = np.empty(nodes.size)
        for start in range(0, nodes.size, block):
            idx = nodes[start:start + block]
            E = np.zeros((idx.size, self.dim))
            E[np.arange(idx.size), idx] = 1.0
            out[start:start + block] = (self.to_physical_vjp(None, E) ** 2).sum(axis=1)
        return out

    def dense_factor(self) -> np.ndarray:
        """T as a dense (n, n) array (for small meshes and tests)."""
        return self.to_physical_jvp(None, np.eye(self.latent_dim)).T

    # -- density in θ coordinates --------------------------------------------------------------

    def _S(self, u):
        """S u = A (M⁻¹A)^{β−1} u (S is symmetric)."""
        y = u
        for _ in range(self.beta - 1):
            y = self._mass.solve(self.operator @ y)
        return self.operator @ y

    def latent_coordinates(self, theta: ArrayLike) -> np.ndarray:
        """ξ = T⁻¹(θ − m) = c⁻¹ R⁻¹ S (θ − m)."""
        theta = finite_vector("theta", theta, self.dim)
        return self._mass.sqrt_solve(self._S(theta - self.mean)) / self.noise_scale

    def log_det_covariance(self) -> float:
        """log det C = 2n log c + (2β − 1) log det M − 2β log det A."""
        return (2 * self.dim * math.log(self.noise_scale)
                + (2 * self.beta - 1) * self._mass.logdet() - 2 * self.beta * self._op.logdet())

    def logpdf(self, theta: ArrayLike) -> float:
        """log N(θ; m, C) = −½ (θ−m)ᵀQ(θ−m) − ½ log det(2πC), Q = c⁻² S M⁻¹ S."""
        theta = finite_vector("theta", theta, self.dim)
        z = self._S(theta - self.mean)
        quad = float(z @ self._mass.solve(z)) / self.noise_scale**2
        return -0.5 * quad - 0.5 * self.dim * math.log(2 * math.pi) \
            - 0.5 * self.log_det_covariance()

    def grad_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """∇ log p(θ) = −Q(θ − m) = −c⁻² S M⁻¹ S (θ − m)."""
        theta = finite_vector("theta", theta, self.dim)
        return -self._S(self._mass.solve(self._S(theta - self.mean))) / self.noise_scale**2
