r"""Gaussian-process priors given by a covariance kernel on points (e.g. FE nodes).

Kernels are stationary and isotropic, k(x, y) = σ² ρ(|x − y|), with the conventions of
Rasmussen & Williams (2006, §4.2):

* squared exponential: ρ(r) = exp(−r²/(2ℓ²));
* Matérn: ρ(r) = 2^{1−ν}/Γ(ν) (√(2ν) r/ℓ)^ν K_ν(√(2ν) r/ℓ), with the closed forms
  ν = 1/2: e^{−s}, ν = 3/2: (1 + √3 s) e^{−√3 s}, ν = 5/2: (1 + √5 s + 5s²/3) e^{−√5 s}
  (s = r/ℓ), K_ν the modified Bessel function (``scipy.special.kv``) for other ν, and the
  squared exponential as ν → ∞.

The Matérn length scale ℓ here is the Rasmussen–Williams one, κ = √(2ν)/ℓ; the SPDE prior's
"range" √(8ν)/κ (:mod:`bayesinv.priors.spde`) is twice it.

:class:`KernelPrior` turns the kernel matrix C_ij = k(x_i, x_j) into a whitened prior
θ = m + Lξ with either

* a Cholesky factor L (C + jitter·I = L Lᵀ): exact, latent dimension n, O(n³) set-up and
  O(n²) per map — a clear error names the jitter when C is not numerically positive definite
  (squared-exponential matrices on fine point sets are singular to machine precision; add
  jitter or use the eigen factor); or
* a truncated eigen (Karhunen–Loève) factor L = W^{−1/2} V_r Λ_r^{1/2} from the eigenpairs of
  W^{1/2} C W^{1/2}, keeping the fewest modes r whose eigenvalues add up to a requested
  fraction of the trace. With quadrature weights W = diag(w) (e.g. the lumped P1 mass, the
  default on a FE space) this is the Nyström discretisation of the L²(O) Karhunen–Loève
  expansion, and the fraction is that of the integrated variance ∫ Var θ(x) dx; with w = 1 it
  is the Euclidean eigen-decomposition of C. The latent dimension is r ≪ n for smooth kernels.

Dense kernels cost O(n²) memory: about 140 MB at 4 225 nodes (64² mesh) and 2.2 GB at 16 641
(128²). For fine state meshes put the kernel prior on a coarser parameter mesh and interpolate
(:class:`~bayesinv.priors.interpolated.InterpolatedPrior`), or use the sparse SPDE prior.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as spla
import scipy.spatial.distance
import scipy.special
from numpy.typing import ArrayLike

from .._validation import (
    float_in_interval,
    nonnegative_float,
    one_of,
    points_2d,
    positive_float,
)
from ..errors import InvalidArgumentError
from .gaussian import GaussianPrior

#: Up to this many points the eigen factor uses a dense symmetric eigensolver (all modes);
#: above it, Lanczos (ARPACK) for the leading modes, doubling their number until enough.
DENSE_EIGH_LIMIT = 2000


def _log_kv(nu: float, t: np.ndarray) -> np.ndarray:
    """log K_ν(t) for t > 0: from ``scipy.special.kve`` where it is finite and positive, else
    from the uniform (Debye) expansion K_ν(νz) ≈ √(π/(2ν)) e^{−νη} (1+z²)^{−1/4}
    (1 − u₁(p)/ν + u₂(p)/ν²), η = √(1+z²) + log(z/(1+√(1+z²))), p = (1+z²)^{−1/2}
    (Abramowitz & Stegun 9.7.8; relative error O(ν^{−3}), used only for large ν, where
    K_ν overflows near 0)."""
    with np.errstate(over="ignore", divide="ignore"):
        kve = scipy.special.kve(nu, t)
        out = np.log(kve) - t
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = _log_kv_debye(nu, t[bad])
    return out


def _log_kv_debye(nu: float, t: np.ndarray) -> np.ndarray:
    """The uniform (Debye) expansion of log K_ν(t) to second order (see :func:`_log_kv`)."""
    z = t / nu
    sq = np.sqrt(1.0 + z * z)
    eta = sq + np.log(z / (1.0 + sq))
    p = 1.0 / sq
    u1 = (3 * p - 5 * p**3) / 24
    u2 = (81 * p**2 - 462 * p**4 + 385 * p**6) / 1152
    return (0.5 * np.log(np.pi / (2 * nu)) - nu * eta - 0.5 * np.log(sq)
            + np.log1p(-u1 / nu + u2 / nu**2))


class Kernel(ABC):
    """A stationary isotropic covariance kernel k(x, y) = σ² ρ(|x − y|)."""

    def __init__(self, length_scale: float, variance: float = 1.0):
        self.length_scale = positive_float("length_scale", length_scale)
        self.variance = positive_float("variance", variance)

    @abstractmethod
    def correlation(self, r: ArrayLike) -> np.ndarray:
        """ρ(r) for distances r ≥ 0."""

    def __call__(self, X, Y=None) -> np.ndarray:
        """The kernel matrix k(x_i, y_j), X of shape (n, d), Y of shape (m, d) (default X)."""
        X = points_2d("X", X)
        Y = X if Y is None else points_2d("Y", Y)
        if X.shape[1] != Y.shape[1]:
            raise InvalidArgumentError(f"X and Y must have the same number of columns, got "
                                       f"{X.shape[1]} and {Y.shape[1]}")
        r = scipy.spatial.distance.cdist(X, Y)
        return self.variance * self.correlation(r)


class SquaredExponentialKernel(Kernel):
    """k(x, y) = σ² exp(−|x − y|²/(2ℓ²)) (infinitely smooth draws)."""

    def correlation(self, r: ArrayLike) -> np.ndarray:
        s = np.asarray(r, dtype=float) / self.length_scale
        return np.exp(-0.5 * s * s)

    def __repr__(self):
        return (f"SquaredExponentialKernel(length_scale={self.length_scale:g}, "
                f"variance={self.variance:g})")


class MaternKernel(Kernel):
    """Matérn kernel with smoothness ν > 0 (draws are C^k for k < ν); see module docstring."""

    def __init__(self, nu: float, length_scale: float, variance: float = 1.0):
        super().__init__(length_scale, variance)
        if nu == np.inf:
            self.nu = np.inf
        else:
            self.nu = positive_float("nu", nu)

    def correlation(self, r: ArrayLike) -> np.ndarray:
        s = np.abs(np.asarray(r, dtype=float)) / self.length_scale
        nu = self.nu
        if nu == 0.5:
            return np.exp(-s)
        if nu == 1.5:
            t = math.sqrt(3.0) * s
            return (1.0 + t) * np.exp(-t)
        if nu == 2.5:
            t = math.sqrt(5.0) * s
            return (1.0 + t + t * t / 3.0) * np.exp(-t)
        if nu == np.inf:
            return np.exp(-0.5 * s * s)
        t = math.sqrt(2.0 * nu) * s
        pos = t > 0
        out = np.ones_like(t)
        tp = t[pos]
        log_rho = (1.0 - nu) * math.log(2.0) - math.lgamma(nu) + nu * np.log(tp) \
            + _log_kv(nu, tp)
        out[pos] = np.minimum(np.exp(log_rho), 1.0)   # ≤ 1 also within the expansion error
        return out

    def __repr__(self):
        return (f"MaternKernel(nu={self.nu:g}, length_scale={self.length_scale:g}, "
                f"variance={self.variance:g})")


def _cut(lam: np.ndarray, total: float, fraction: float, limit: int) -> int:
    """The fewest leading modes reaching ``fraction`` of ``total``, rounded up to whole
    (numerically) degenerate eigenspaces so that the factor does not depend on the basis an
    eigensolver picks inside one (rounded down instead when ``limit`` would split it)."""
    captured = np.cumsum(lam) / total
    r = min(int(np.searchsorted(captured, fraction - 1e-12)) + 1, lam.size,
            int(np.count_nonzero(lam > lam[0] * 1e-14)))
    same = lambda i: lam[i] >= lam[i - 1] * (1 - 1e-8)  # noqa: E731
    while r < lam.size and same(r):
        r += 1
    if r > limit:
        r = limit
        while 1 < r < lam.size and same(r):
            r -= 1
    return r


def _eigen_factor(C: np.ndarray, weights: np.ndarray, fraction: float, max_rank):
    """L = W^{−1/2} V_r Λ_r^{1/2} keeping the fewest modes reaching ``fraction`` of the trace."""
    n = C.shape[0]
    sw = np.sqrt(weights)
    B = sw[:, None] * C * sw[None, :]
    total = float(np.trace(B))
    limit = n if max_rank is None else min(n, max_rank)
    if n <= DENSE_EIGH_LIMIT:
        lam, V = scipy.linalg.eigh(B)
        lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
        r = _cut(lam, total, fraction, limit)
    else:  # Lanczos on the leading part, doubling the number of modes until enough
        k = min(n - 1, 64)
        while True:
            lam, V = spla.eigsh(B, k=k, which="LA",
                                v0=np.random.default_rng(0).standard_normal(n))
            lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
            r = _cut(lam, total, fraction, limit)
            if r < k or k >= min(n - 1, limit):
                break
            k = min(n - 1, 2 * k)
    L = (V[:, :r] * np.sqrt(lam[:r])) / sw[:, None]
    return L, float(lam[:r].sum() / total), lam[:r]


def _cholesky_with_jitter(C: np.ndarray, jitters):
    """(L, jitter) for the first jitter with which C + jitter·I = L Lᵀ factorises; raises
    LinAlgError when none does."""
    eye = np.eye(C.shape[0])
    for i, jitter in enumerate(jitters):
        try:
            return scipy.linalg.cholesky(C + jitter * eye, lower=True), jitter
        except np.linalg.LinAlgError:
            if i == len(jitters) - 1:
                raise
    raise AssertionError("unreachable: jitters is never empty")


class KernelPrior(GaussianPrior):
    r"""θ = m + Lξ with C = k(x_i, x_j) at given points: Cholesky or truncated KL factor.

    Parameters
    ----------
    points : array_like, shape (n, d)
        Where the field is represented (e.g. FE node coordinates).
    kernel : Kernel
        E.g. ``MaternKernel(nu=2.5, length_scale=0.2, variance=1.0)``.
    mean : float or array, shape (n,)
    factor : {"cholesky", "eigen"}
    jitter : float or None
        Added to the diagonal before the Cholesky factorisation (≥ 0). None (default): the
        smallest of 0, 10⁻¹²·σ², 10⁻¹¹·σ², …, 10⁻⁶·σ² (σ² the kernel variance) with which
        the factorisation succeeds — smooth kernels such as the squared exponential are
        numerically singular at nearby points; the value used is the attribute ``jitter``.
        A given value is used as is (an error names it when it is not enough).
    variance_fraction : float
        For ``factor="eigen"``: keep the fewest modes capturing this fraction of the
        (weighted) total variance, in (0, 1].
    max_rank : int, optional
        For ``factor="eigen"``: an upper bound on the number of modes.
    weights : array_like, shape (n,), optional
        Quadrature weights w_i for the eigen factor (L²-KL); default 1.

    Attributes
    ----------
    explained_variance : float
        Fraction of the total variance kept (1 for Cholesky).
    kl_eigenvalues : ndarray or None
        The kept eigenvalues (eigen factor).
    """

    def __init__(self, points: ArrayLike, kernel: Kernel, *, mean: ArrayLike = 0.0,
                 factor: str = "cholesky", jitter: float | None = None,
                 variance_fraction: float = 0.99, max_rank: int | None = None,
                 weights: ArrayLike | None = None) -> None:
        if not isinstance(kernel, Kernel):
            raise InvalidArgumentError(
                f"kernel must be a bayesinv.priors.kernels.Kernel, got {type(kernel).__name__}")
        self.points = points_2d("points", points)
        self.kernel = kernel
        self._options: dict[str, Any] = {"factor": factor, "jitter": jitter,
                         "variance_fraction": variance_fraction, "max_rank": max_rank,
                         "weights": weights}
        self.factor_kind = one_of("factor", factor, ("cholesky", "eigen"))
        self.jitter = None if jitter is None else nonnegative_float("jitter", jitter)
        n = self.points.shape[0]
        C = kernel(self.points)
        self.kl_eigenvalues = None
        if self.factor_kind == "cholesky":
            candidates = ([self.jitter] if self.jitter is not None else
                          [0.0, *(kernel.variance * 10.0 ** e for e in range(-12, -5))])
            try:
                L, self.jitter = _cholesky_with_jitter(C, candidates)
            except np.linalg.LinAlgError as exc:
                self.jitter = candidates[-1]
                suggestion = max(1e-10, 100 * self.jitter) * kernel.variance
                raise InvalidArgumentError(
                    f"the {kernel!r} covariance at {n} points is not positive definite with "
                    f"jitter={self.jitter:g}: increase jitter (e.g. jitter={suggestion:.1e}) "
                    f"or use factor='eigen'") from exc
            self.explained_variance = 1.0
        else:
            self.variance_fraction = float_in_interval("variance_fraction", variance_fraction,
                                                       0.0, 1.0)
            w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
            if w.shape != (n,) or not np.all(w > 0):
                raise InvalidArgumentError(
                    f"weights must be {n} positive numbers, got shape {w.shape}")
            L, self.explained_variance, self.kl_eigenvalues = _eigen_factor(
                C, w, self.variance_fraction, max_rank)
        super().__init__(L, mean)

    @property
    def length_scale(self) -> float:
        """The kernel's ℓ."""
        return self.kernel.length_scale

    def with_length_scale(self, length_scale: float) -> KernelPrior:
        """The same prior with the kernel's ℓ = ``length_scale`` (points, variance, mean and
        factor options kept; the factor is recomputed, O(n³)), for hierarchical
        length-scales (:class:`~bayesinv.hierarchical.LengthScalePrior`)."""
        kernel = copy.copy(self.kernel)
        kernel.length_scale = positive_float("length_scale", length_scale)
        return type(self)(self.points, kernel, mean=self.mean, **self._options)

    @classmethod
    def on_space(cls, space: Any, kernel: Kernel, *,
                 mean: ArrayLike | Callable[[np.ndarray], np.ndarray] = 0.0,
                 factor: str = "cholesky", jitter: float | None = None,
                 variance_fraction: float = 0.99, max_rank: int | None = None,
                 l2_weights: bool = True) -> KernelPrior:
        """The kernel prior on the nodes of a FE space (``mean`` may be a callable).

        With ``factor="eigen"`` and ``l2_weights`` the KL expansion is taken in L²(O), with the
        lumped mass as quadrature weights.
        """
        weights = None
        if factor == "eigen" and l2_weights:
            weights = np.asarray(space.mass_matrix.sum(axis=1)).ravel()
        return cls(space.coordinates, kernel, mean=space.interpolate(mean), factor=factor,
                   jitter=jitter, variance_fraction=variance_fraction, max_rank=max_rank,
                   weights=weights)
