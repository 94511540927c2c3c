r"""Matrix-free Gauss–Newton curvature and its low-rank eigendecomposition.

In whitened coordinates ξ (θ = T(ξ), ξ ~ N(0, I)) the Gauss–Newton Hessian of the data misfit
Φ(ξ) = |Y − G(T(ξ))|² / (2σ²) is the *prior-preconditioned* misfit Hessian

.. math:: H(ξ) = B^T B / σ^2, \qquad B = J(T(ξ))\, J_T(ξ),

and H v costs one tangent-linear and one adjoint solve, both reusing the factorisation made
once at ξ (the forward map's ``linearize``). Informative data make H large in a few
directions and nearly zero in the rest (the prior dominates there), so H ≈ V Λ Vᵀ with a rank r
that is set by the data, not by the mesh (Bui-Thanh, Ghattas, Martin & Stadler 2013; Flath et
al. 2011). :func:`randomized_eigh` computes it by the randomized double-pass method of Halko,
Martinsson & Tropp (2011, Alg. 5.3 with oversampling p), growing the basis until the smallest
retained eigenvalue falls below a threshold: O(r) Hessian actions, O(k r) memory, never a
dense k × k matrix.

:class:`FullHessian` is the whole misfit Hessian, the Gauss–Newton part plus the term of the
forward map's second derivatives,

.. math:: H(ξ) = J_T^T\Big(\frac{J^T J}{σ^2} + \sum_i \frac{G_i(θ) − Y_i}{σ^2}\,
          ∇^2 G_i(θ)\Big) J_T, \qquad θ = T(ξ),

for maps with second-order adjoints (``ForwardMap.linearize_second_order``) and priors with a
linear transport T (all Gaussian priors; a nonlinear T would add Σ_k (∇_θ Φ)_k ∇²T_k, which is
not supported). Each action costs the same two solves as a Gauss–Newton one (incremental
forward and adjoint) plus one adjoint solve per ξ. It equals the Gauss–Newton Hessian where
the residual vanishes and may be indefinite away from the MAP.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validation import integer_at_least, positive_float
from .errors import InvalidArgumentError
from .posterior import Posterior
from .protocols import Seed

#: the name of a misfit Hessian (see :data:`HESSIANS`)
HessianName = Literal["gauss-newton", "full"]


class WhitenedLinearization:
    """v ↦ B v and w ↦ Bᵀ w at ξ, with B = J(T(ξ)) J_T(ξ); one forward solve to set up."""

    def __init__(self, posterior: Posterior, xi: ArrayLike) -> None:
        prior, like = posterior.prior, posterior.likelihood
        if not like.forward.has_jvp:
            raise InvalidArgumentError(
                "Gauss–Newton curvature needs a forward map with a tangent-linear map "
                f"(linearize); {type(like.forward).__name__} has none")
        self.xi = prior.check_latent(xi)
        self.prior = prior
        _, self._jvp, self._pullback = like.forward.linearize(prior.to_physical(self.xi))
        self.sigma2 = like.noise_std**2

    def matvec(self, v: ArrayLike) -> np.ndarray:
        """B v (one tangent-linear solve)."""
        return self._jvp(self.prior.to_physical_jvp(self.xi, v))

    def rmatvec(self, w: ArrayLike) -> np.ndarray:
        """Bᵀ w (one adjoint solve)."""
        return self.prior.to_physical_vjp(self.xi, self._pullback(w))


class _HessianOperator(ABC):
    """matmat from matvec: H V column by column, every column sharing one factorisation."""

    dim: int
    num_actions: int

    @abstractmethod
    def matvec(self, v: ArrayLike) -> np.ndarray:
        """H v for v of shape (k,)."""

    def matmat(self, V: ArrayLike) -> np.ndarray:
        """H V for a block V of shape (k, m) (m actions, one shared factorisation)."""
        V = np.asarray(V, dtype=float)
        if V.ndim != 2 or V.shape[0] != self.dim:
            raise InvalidArgumentError(f"V must have shape ({self.dim}, m), got {V.shape}")
        out = np.empty_like(V)
        for j in range(V.shape[1]):
            out[:, j] = self.matvec(V[:, j])
        return out

    def _vector(self, v: ArrayLike) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if v.shape != (self.dim,):
            raise InvalidArgumentError(f"v must have shape ({self.dim},), got {v.shape}")
        self.num_actions += 1
        return v


class GaussNewtonHessian(_HessianOperator):
    r"""Matrix-free Gauss–Newton Hessian of the whitened data misfit at ξ.

    ``matvec(v) = J_Tᵀ Jᵀ J J_T v / σ²`` (one tangent + one adjoint solve); ``matmat(V)``
    applies it to the k × m block V column by column, all columns sharing the factorisation
    made once at construction (one forward solve). ``num_actions`` counts Hessian actions.

    Parameters
    ----------
    posterior : Posterior
        Its forward map must have a tangent-linear map (``linearize``).
    xi : array_like, shape (k,)
        Whitened point ξ (e.g. the MAP estimate).
    """

    def __init__(self, posterior: Posterior, xi: ArrayLike) -> None:
        if not isinstance(posterior, Posterior):
            raise InvalidArgumentError(
                f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
        self._lin = WhitenedLinearization(posterior, xi)
        self.xi = self._lin.xi
        self.dim = self.xi.shape[0]
        self.num_actions = 0

    def matvec(self, v: ArrayLike) -> np.ndarray:
        """H v for v of shape (k,)."""
        v = self._vector(v)
        lin = self._lin
        return lin.rmatvec(lin.matvec(v)) / lin.sigma2


class FullHessian(_HessianOperator):
    r"""Matrix-free full (second-order) Hessian of the whitened data misfit at ξ (see the
    module docstring): ``matvec``/``matmat`` as :class:`GaussNewtonHessian`, with one forward
    and one adjoint solve at construction and one tangent + one adjoint solve per action, all
    with one factorisation.

    Parameters
    ----------
    posterior : Posterior
        A :class:`~bayesinv.GaussianLikelihood` (Φ = |Y − G|²/(2σ²)) whose forward map has
        second derivatives (``has_second_order``: the built-in elliptic and heat maps,
        :class:`~bayesinv.fem.VariationalForwardMap`, linear and X-ray maps) and a prior with a
        linear transport T (``prior.is_linear``).
    xi : array_like, shape (k,)
    """

    def __init__(self, posterior: Posterior, xi: ArrayLike) -> None:
        from .likelihood import GaussianLikelihood

        if not isinstance(posterior, Posterior):
            raise InvalidArgumentError(
                f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
        prior, like = posterior.prior, posterior.likelihood
        forward = like.forward
        if not forward.has_second_order:
            raise InvalidArgumentError(
                f"the full Hessian needs second derivatives of the forward map "
                f"(linearize_second_order); {type(forward).__name__} has none: use "
                f"hessian=\"gauss-newton\"")
        if not isinstance(like, GaussianLikelihood):
            raise InvalidArgumentError(
                f"the full Hessian is implemented for bayesinv.GaussianLikelihood (iid noise, "
                f"known σ), got {type(like).__name__}: use hessian=\"gauss-newton\"")
        if not prior.is_linear:
            raise InvalidArgumentError(
                f"the full Hessian supports priors with a linear transport θ = T(ξ) (Gaussian "
                f"priors); {type(prior).__name__} is nonlinear and its second derivative is "
                f"not available: use hessian=\"gauss-newton\"")
        self.xi = prior.check_latent(xi)
        self.dim = self.xi.shape[0]
        self.num_actions = 0
        self._prior = prior
        sigma2 = like.noise_std**2
        y, _, _, curvature = forward.linearize_second_order(prior.to_physical(self.xi))
        self.residual = np.asarray(like.data, dtype=float) - y
        self._apply = curvature(-self.residual / sigma2, gn_scale=1.0 / sigma2)

    def matvec(self, v: ArrayLike) -> np.ndarray:
        """H v for v of shape (k,)."""
        v = self._vector(v)
        prior = self._prior
        return prior.to_physical_vjp(self.xi, self._apply(prior.to_physical_jvp(self.xi, v)))


#: the Hessians :func:`low_rank_hessian` and :func:`bayesinv.laplace` accept
HESSIANS: dict[str, type[GaussNewtonHessian] | type[FullHessian]] = {
    "gauss-newton": GaussNewtonHessian, "full": FullHessian}


def check_hessian(hessian: object) -> HessianName:
    """``hessian`` if it names one of :data:`HESSIANS`, else a clear error."""
    if not isinstance(hessian, str) or hessian not in HESSIANS:
        raise InvalidArgumentError(
            f"hessian must be one of {sorted(HESSIANS)}, got {hessian!r}")
    return "full" if hessian == "full" else "gauss-newton"


def make_hessian(posterior: Posterior, xi: ArrayLike, hessian: HessianName = "gauss-newton"
                 ) -> GaussNewtonHessian | FullHessian:
    """A :class:`GaussNewtonHessian` or :class:`FullHessian` by name."""
    return HESSIANS[check_hessian(hessian)](posterior, xi)


@dataclass(frozen=True, eq=False)
class LowRankEigen:
    """H ≈ V diag(λ) Vᵀ: the r leading eigenpairs (λ descending, V orthonormal, k × r).

    ``num_actions``: Hessian actions used; ``basis_size``: columns of the final randomized
    basis; ``converged``: the smallest computed eigenvalue fell below ``threshold`` (or the
    basis spanned the whole space), so no eigenvalue ≥ threshold was missed.
    """

    values: np.ndarray
    vectors: np.ndarray
    num_actions: int
    basis_size: int
    threshold: float
    converged: bool

    @property
    def rank(self) -> int:
        return int(self.values.shape[0])


def _orthonormal_complement(Y: np.ndarray, Q: np.ndarray | None) -> np.ndarray:
    """An orthonormal basis of the columns of Y projected off span(Q) (twice, for round-off)."""
    for _ in range(2):
        if Q is not None and Q.shape[1]:
            Y = Y - Q @ (Q.T @ Y)
        Y, _ = np.linalg.qr(Y)
    return Y


def randomized_eigh(matmat: Callable[[np.ndarray], np.ndarray], dim: int, *,
                    rank: int | None = None, threshold: float = 0.1,
                    oversampling: int = 10, initial_rank: int = 20,
                    max_rank: int | None = None, seed: Seed = 0,
                    indefinite: bool = False) -> LowRankEigen:
    r"""Leading eigenpairs of a symmetric positive semi-definite operator by the randomized
    double-pass method (Halko, Martinsson & Tropp 2011, §5.3, with oversampling).

    With ``indefinite=True`` the operator may have negative eigenvalues (a full Hessian away
    from the MAP): "leading" and the threshold then refer to |λ|, and the returned λ keep
    their signs (sorted descending). Otherwise negative round-off eigenvalues are set to 0.

    Pass 1: Y = H Ω for a Gaussian k × (r + p) block Ω, Q = orth(Y). Pass 2: T = Qᵀ (H Q),
    T = S Λ Sᵀ, V = Q S. With ``rank=None`` the basis grows (doubling, each new block
    orthogonalised against the old one; T is extended by the new block's actions only) until
    the smallest of the leading ``basis − p`` eigenvalues is below ``threshold``; the
    eigenpairs with λ ≥ threshold are returned. Cost: 2 × basis actions, O(k × basis) memory.

    Parameters
    ----------
    matmat : callable
        V ↦ H V for blocks of shape (dim, m).
    dim : int
        k.
    rank : int, optional
        A fixed number of eigenpairs (1 ≤ rank ≤ k); then the threshold is not used.
    threshold : float
        Keep eigenvalues ≥ threshold (adaptive mode). In the Laplace covariance a dropped
        eigenvalue λ changes the variance in its direction by λ/(1 + λ).
    oversampling : int
        p ≥ 0 extra columns (Halko et al. recommend 5–10).
    initial_rank : int
        First basis size (minus oversampling) in adaptive mode.
    max_rank : int, optional
        Cap on the rank in adaptive mode (default k); reaching it leaves ``converged`` False.
    seed : int, Generator or None
        For the Gaussian test matrices.
    indefinite : bool
        Rank the eigenvalues by |λ| and keep their signs.
    """
    dim = integer_at_least("dim", dim, 1)
    oversampling = integer_at_least("oversampling", oversampling, 0)
    rng = np.random.default_rng(seed)
    if rank is not None:
        rank = integer_at_least("rank", rank, 1)
        if rank > dim:
            raise InvalidArgumentError(
                f"rank={rank} is larger than the parameter dimension k={dim}; give "
                f"1 <= rank <= {dim}")
        cap = rank
        size = min(rank + oversampling, dim)
    else:
        threshold = positive_float("threshold", threshold)
        cap = dim if max_rank is None else integer_at_least("max_rank", max_rank, 1)
        if cap > dim:
            raise InvalidArgumentError(
                f"max_rank={max_rank} is larger than the parameter dimension k={dim}")
        size = min(integer_at_least("initial_rank", initial_rank, 1) + oversampling, dim)
    Q: np.ndarray | None = None  # the basis so far, and H Q and Qᵀ H Q
    HQ: np.ndarray = np.empty((0, 0))
    T: np.ndarray = np.empty((0, 0))
    actions = 0
    while True:
        new = size - (0 if Q is None else Q.shape[1])
        Y = matmat(rng.standard_normal((dim, new)))
        Qn = _orthonormal_complement(Y, Q)
        HQn = matmat(Qn)
        actions += 2 * new
        if Q is None:
            Q, HQ, T = Qn, HQn, Qn.T @ HQn
        else:
            cross = HQ.T @ Qn
            T = np.block([[T, cross], [cross.T, Qn.T @ HQn]])
            Q, HQ = np.hstack([Q, Qn]), np.hstack([HQ, HQn])
        T = 0.5 * (T + T.T)
        lam, S = np.linalg.eigh(T)
        if indefinite:
            order = np.argsort(-np.abs(lam), kind="stable")
            lam, S = lam[order], S[:, order]
        else:  # (a reversed view: the same BLAS call, so the same rounding, as before)
            lam, S = lam[::-1], S[:, ::-1]
        size_of = np.abs(lam) if indefinite else lam
        reliable = size if size == dim else max(size - oversampling, 1)
        if rank is not None:
            keep = min(rank, size)
            converged = True
            break
        below = size_of[:reliable] < threshold
        if below.any() or size == dim:
            keep = int(np.count_nonzero(size_of[:reliable] >= threshold))
            converged = True
            break
        if reliable >= cap:
            keep, converged = cap, False
            break
        size = min(2 * size, dim, cap + oversampling)
    if indefinite:
        signed = np.argsort(-lam[:keep], kind="stable")
        values, vectors = lam[:keep][signed], Q @ S[:, :keep][:, signed]
    else:
        values, vectors = np.maximum(lam[:keep], 0.0), Q @ S[:, :keep]
    return LowRankEigen(values, vectors, actions, Q.shape[1], float(threshold), converged)


def low_rank_hessian(posterior: Posterior, xi: ArrayLike, *,
                     hessian: HessianName = "gauss-newton", **kwargs: Any) -> LowRankEigen:
    """Leading eigenpairs of the whitened misfit Hessian at ξ: ``hessian="gauss-newton"``
    (:class:`GaussNewtonHessian`, positive semi-definite) or ``"full"`` (:class:`FullHessian`,
    possibly indefinite: eigenpairs ranked by |λ|, signs kept), by :func:`randomized_eigh`
    (keyword arguments go to it). Costs one forward solve (plus one adjoint solve for "full")
    and 2 solves per Hessian action."""
    H = make_hessian(posterior, xi, hessian)
    return randomized_eigh(H.matmat, H.dim, indefinite=hessian == "full", **kwargs)
