r"""The low-rank Laplace approximation of a posterior, in whitened coordinates.

At the MAP estimate ξ* the Gauss–Newton Laplace approximation of π(ξ | Y) is N(ξ*, Γ) with
Γ = (I + H)⁻¹, H the prior-preconditioned data-misfit Hessian (:mod:`bayesinv.lowrank`).
With the leading eigenpairs H ≈ V Λ Vᵀ (V orthonormal, k × r) the Sherman–Morrison–Woodbury
identity gives, exactly for the rank-r operator,

.. math:: Γ = I − V D V^T,\quad D = \operatorname{diag}\frac{λ_j}{1 + λ_j},\qquad
          Γ^{1/2} = I + V \big((1 + Λ)^{−1/2} − I\big) V^T,
          \qquad Γ^{−1} = I + V Λ V^T

(Bui-Thanh, Ghattas, Martin & Stadler 2013, SIAM J. Sci. Comput. 35; Villa, Petra & Ghattas
2021, hIPPYlib, ACM TOMS 47). Every action costs O(k r) and nothing k × k is formed. For a
linear–Gaussian problem with full rank (or all nonzero eigenvalues kept) and the exact MAP it is
the posterior itself.

With ``hessian="full"`` H is the full misfit Hessian (:class:`~bayesinv.lowrank.FullHessian`,
second-order adjoints), which makes N(ξ*, (I + H)⁻¹) the exact second-order expansion of
log π at the MAP; its negative eigenvalues are dropped with a warning (see :func:`laplace`).

In θ = T(ξ) the approximation is the push-forward of N(ξ*, Γ) (exactly Gaussian for the linear
T of Gaussian priors: N(T(ξ*), J_T Γ J_Tᵀ)).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._validation import integer_at_least
from ._version import __version__
from .arviz_io import build_inference_data
from .errors import BayesinvWarning, InvalidArgumentError
from .lowrank import HessianName, LowRankEigen, check_hessian, low_rank_hessian
from .optimize import MAPResult, find_map
from .posterior import Posterior
from .protocols import Seed

if TYPE_CHECKING:
    from arviz import InferenceData


class LaplaceApproximation:
    """N(ξ*, Γ), Γ = I − V D Vᵀ, in whitened coordinates (see the module docstring).

    Build it with :func:`laplace`. Attributes: ``mean`` (ξ*), ``values`` (λ, descending),
    ``vectors`` (V), ``eigen`` (the :class:`~bayesinv.lowrank.LowRankEigen`), ``posterior``,
    ``setup_time`` and ``setup_solves`` (MAP + Hessian).
    """

    def __init__(self, posterior: Posterior, mean: ArrayLike, eigen: LowRankEigen, *,
                 setup_time: float = float("nan"), setup_solves: int = 0) -> None:
        self.posterior = posterior
        self.mean = np.asarray(mean, dtype=float)
        self.eigen = eigen
        self.values = np.asarray(eigen.values, dtype=float)
        self.vectors = np.asarray(eigen.vectors, dtype=float)
        self.dim = self.mean.shape[0]
        self.setup_time, self.setup_solves = setup_time, setup_solves
        if self.vectors.shape != (self.dim, self.values.shape[0]):
            raise InvalidArgumentError(
                f"eigenvectors must have shape ({self.dim}, {self.values.shape[0]}), got "
                f"{self.vectors.shape}")
        if not (np.isfinite(self.values).all() and (self.values >= 0).all()
                and np.isfinite(self.vectors).all() and np.isfinite(self.mean).all()):
            raise InvalidArgumentError(
                "the Laplace approximation needs a finite mean and finite eigenpairs with "
                "eigenvalues >= 0")

    @property
    def rank(self) -> int:
        return int(self.values.shape[0])

    def _low_rank(self, x: ArrayLike, coefficients: np.ndarray) -> np.ndarray:
        """x + V (c ⊙ Vᵀ x) for x of shape (k,) or (..., k)."""
        x = np.asarray(x, dtype=float)
        return x + ((x @ self.vectors) * coefficients) @ self.vectors.T

    def covariance_apply(self, x: ArrayLike) -> np.ndarray:
        """Γ x = x − V D Vᵀ x."""
        return self._low_rank(x, -self.values / (1.0 + self.values))

    def precision_apply(self, x: ArrayLike) -> np.ndarray:
        """Γ⁻¹ x = x + V Λ Vᵀ x."""
        return self._low_rank(x, self.values)

    def sqrt_apply(self, z: ArrayLike) -> np.ndarray:
        """Γ^{1/2} z (the symmetric square root)."""
        return self._low_rank(z, 1.0 / np.sqrt(1.0 + self.values) - 1.0)

    def inv_sqrt_apply(self, x: ArrayLike) -> np.ndarray:
        """Γ^{−1/2} x."""
        return self._low_rank(x, np.sqrt(1.0 + self.values) - 1.0)

    def log_det_covariance(self) -> float:
        """log det Γ = −Σ log(1 + λ_j)."""
        return float(-np.log1p(self.values).sum())

    def logpdf(self, xi: ArrayLike) -> np.ndarray | float:
        """log N(ξ; ξ*, Γ) in whitened coordinates (ξ of shape (k,) or (..., k))."""
        xi = self.posterior.prior.check_latent(xi)
        d = xi - self.mean
        quad = np.einsum("...i,...i->...", d, self.precision_apply(d))
        out = -0.5 * quad - 0.5 * self.dim * np.log(2 * np.pi) - 0.5 * self.log_det_covariance()
        return float(out) if np.ndim(out) == 0 else out

    def sample_latent(self, size: int | None = None, seed: Seed = None) -> np.ndarray:
        """ξ = ξ* + Γ^{1/2} z, z ~ N(0, I): shape (k,) or (size, k)."""
        rng = np.random.default_rng(seed)
        shape = (self.dim,) if size is None else (integer_at_least("size", size, 1), self.dim)
        return self.mean + self.sqrt_apply(rng.standard_normal(shape))

    def sample(self, size: int | None = None, seed: Seed = None) -> np.ndarray:
        """θ = T(ξ) for ξ from :meth:`sample_latent`: shape (dim,) or (size, dim)."""
        return self.posterior.prior.to_physical(self.sample_latent(size, seed))

    def pointwise_variance(self, block: int = 256) -> np.ndarray:
        """Var θ_i under the approximation linearised at ξ*: diag(J Jᵀ) − Σ_j D_j (J v_j)²,
        J = J_T(ξ*) (exact for Gaussian priors). diag(J Jᵀ), the prior's pointwise variance,
        comes from the prior's ``pointwise_variance`` or ``factor`` when it is linear, otherwise
        from |Jᵀ e_i|² in blocks of vector–Jacobian products."""
        prior = self.posterior.prior
        if prior.is_linear and hasattr(prior, "pointwise_variance"):
            prior_var = np.asarray(prior.pointwise_variance(), dtype=float)
        elif prior.is_linear and isinstance(factor := getattr(prior, "factor", None), np.ndarray):
            prior_var = np.einsum("ij,ij->i", factor, factor)
        else:
            prior_var = np.empty(prior.dim)
            for start in range(0, prior.dim, block):
                idx = np.arange(start, min(start + block, prior.dim))
                rows = [prior.to_physical_vjp(self.mean, np.eye(1, prior.dim, int(i))[0])
                        for i in idx]
                prior_var[idx] = np.einsum("ij,ij->i", rows, rows)
        if self.rank == 0:
            return prior_var
        JV = np.column_stack([prior.to_physical_jvp(self.mean, self.vectors[:, j])
                              for j in range(self.rank)])
        return prior_var - (JV**2) @ (self.values / (1.0 + self.values))

    def inference_data(self, draws: int = 1000, chains: int = 4, seed: Seed = None,
                       store_theta: bool = True) -> InferenceData:
        """Independent draws as ArviZ InferenceData, usable with the credible sets of
        :mod:`bayesinv.diagnostics` (``posterior``: ``xi``, ``theta``; ``sample_stats``:
        ``lp`` = log N(ξ; ξ*, Γ)). Chain c uses ``SeedSequence(seed).spawn(chains)[c]``."""
        from .seeds import seed_sequence

        draws = integer_at_least("draws", draws, 1)
        chains = integer_at_least("chains", chains, 1)
        seed_seq = seed_sequence(seed)
        start = time.perf_counter()
        xi = np.stack([self.sample_latent(draws, s) for s in seed_seq.spawn(chains)])
        post = {"xi": xi}
        if store_theta:
            post["theta"] = self.posterior.prior.to_physical(xi)
        like = self.posterior.likelihood
        forward = like.forward
        constant = {}
        if hasattr(forward, "design"):
            constant["design"] = np.asarray(forward.design)
        if hasattr(forward, "parameter_space"):
            constant["node_coordinates"] = forward.parameter_space.coordinates
        return build_inference_data(
            posterior=post, sample_stats={"lp": np.asarray(self.logpdf(xi))}, log_likelihood=None,
            observed_data={"y": like.data}, constant_data=constant,
            space=getattr(forward, "parameter_space", None),
            attrs={"sampler": "laplace", "rank": self.rank, "draws": draws, "chains": chains,
                   "warmup": 0, "thin": 1, "seed": str(seed_seq.entropy),
                   "seed_spawn_key": str(tuple(seed_seq.spawn_key)),
                   "setup_time": self.setup_time, "num_setup_solves": self.setup_solves,
                   "sampling_time": time.perf_counter() - start, "noise_std": like.noise_std,
                   "inference_library": "bayesinv", "inference_library_version": __version__})

    def packed(self) -> np.ndarray:
        """The (r + 1, k + 1) array the low-rank sampler kernels take: row j < r is
        (v_j, λ_j), row r is (ξ*, 0) (see :mod:`bayesinv.samplers.kernels._lowrank`)."""
        from .samplers.kernels._lowrank import pack

        return pack(self.vectors, self.values, self.mean)

    def fingerprint(self) -> dict[str, np.ndarray]:
        """What identifies the approximation (for checkpoint settings digests)."""
        return {"laplace_mean": self.mean, "laplace_values": self.values,
                "laplace_vectors": self.vectors}

    def __repr__(self) -> str:
        return (f"LaplaceApproximation(k={self.dim}, rank={self.rank}, "
                f"λ_max={self.values[0] if self.rank else 0.0:.3g}, "
                f"λ_min={self.values[-1] if self.rank else 0.0:.3g})")


def laplace(posterior: Posterior, map: MAPResult | ArrayLike | None = None, *,
            rank: int | None = None, threshold: float = 0.1, oversampling: int = 10,
            initial_rank: int = 20, max_rank: int | None = None, seed: Seed = 0,
            hessian: HessianName = "gauss-newton") -> LaplaceApproximation:
    r"""The Laplace approximation N(ξ*, (I + H)⁻¹) with H ≈ V Λ Vᵀ low-rank.

    H is the Gauss–Newton misfit Hessian (default) or, with ``hessian="full"``, the full one
    including the forward map's second derivatives (:class:`~bayesinv.lowrank.FullHessian`:
    maps with ``linearize_second_order``, a GaussianLikelihood and a Gaussian prior), the
    exact second-order Taylor expansion of the log posterior at the MAP. The full H can have
    negative eigenvalues (a residual pulling against the curvature, or ξ* not a MAP); the
    eigensolver ranks eigenvalues by |λ|, and the negative ones are dropped with a
    :class:`~bayesinv.errors.BayesinvWarning` (λ = 0: the prior's variance in that
    direction, narrower than the full Laplace variance 1/(1 + λ) when −1 < λ < 0), since the
    low-rank covariance and the samplers built on it need λ ≥ 0.

    Parameters
    ----------
    posterior : Posterior
        Its forward map needs a tangent-linear map (``linearize``).
    map : MAPResult or array_like, optional
        The MAP estimate (a :func:`bayesinv.find_map` result or a whitened position ξ*);
        computed by :func:`~bayesinv.find_map` (``method="newton-cg"``) when not given.
    rank : int, optional
        A fixed rank 1 ≤ r ≤ k; otherwise adaptive: eigenvalues ≥ ``threshold`` are kept.
    threshold, oversampling, initial_rank, max_rank, seed
        See :func:`bayesinv.lowrank.randomized_eigh`.
    hessian : {"gauss-newton", "full"}
        Which misfit Hessian (see above).

    Returns
    -------
    LaplaceApproximation
        With ``setup_time`` and ``setup_solves`` (MAP + Hessian) recorded.
    """
    if not isinstance(posterior, Posterior):
        raise InvalidArgumentError(
            f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
    hessian = check_hessian(hessian)  # before the MAP search
    counts = posterior.likelihood.forward.counts
    before = sum(counts.as_dict().values())
    start = time.perf_counter()
    if map is None:
        xi_map = find_map(posterior, method="newton-cg").position
    elif isinstance(map, MAPResult):
        xi_map = map.position
    else:
        xi_map = np.asarray(map, dtype=float)
        if xi_map.shape != (posterior.prior.latent_dim,) or not np.isfinite(xi_map).all():
            raise InvalidArgumentError(
                f"map must be a MAPResult or a finite whitened position of shape "
                f"({posterior.prior.latent_dim},), got shape {xi_map.shape}")
    eigen = low_rank_hessian(posterior, xi_map, rank=rank, threshold=threshold,
                             oversampling=oversampling, initial_rank=initial_rank,
                             max_rank=max_rank, seed=seed, hessian=hessian)
    eigen = _drop_negative(eigen)
    return LaplaceApproximation(posterior, xi_map, eigen,
                                setup_time=time.perf_counter() - start,
                                setup_solves=sum(counts.as_dict().values()) - before)


def _drop_negative(eigen: LowRankEigen) -> LowRankEigen:
    """The eigenpairs with λ ≥ 0, warning about the others (see :func:`laplace`)."""
    negative = eigen.values < 0
    if not negative.any():
        return eigen
    smallest = float(eigen.values.min())
    note = ("; I + H is not positive definite there: is the point a MAP?" if smallest <= -1
            else "")
    warnings.warn(
        f"the full Hessian has {int(negative.sum())} negative eigenvalue(s) among the "
        f"{eigen.rank} computed (smallest {smallest:.3g}); they are dropped (λ = 0, the "
        f"prior's variance in those directions){note}", BayesinvWarning, stacklevel=3)
    keep = ~negative
    return replace(eigen, values=eigen.values[keep], vectors=eigen.vectors[:, keep])


def sample_laplace(posterior: Posterior, *, seed: Seed = None, draws: int = 1000,
                   chains: int = 4, store_theta: bool = True, **kwargs: Any) -> InferenceData:
    """Draws from :func:`laplace` ``(posterior, **kwargs)`` as InferenceData: a module-level
    function usable as a coverage-study method,
    ``InferenceSpec(sample_laplace, {"draws": 1000, "threshold": 0.01})``."""
    approx = laplace(posterior, **kwargs)
    return approx.inference_data(draws=draws, chains=chains, seed=seed,
                                 store_theta=store_theta)
