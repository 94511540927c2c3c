r"""A low-rank Gaussian N(m, Γ), Γ = I − V D Vᵀ, for the kernels: O(k r) actions in numba.

The Laplace approximation of :mod:`bayesinv.laplace` (whitened coordinates) is passed to the
kernels as one *packed* array P of shape (r + 1, k + 1):

* row j < r: the eigenvector v_j in P[j, :k] and its eigenvalue λ_j ≥ 0 in P[j, k];
* row r: the mean m in P[r, :k] (P[r, k] unused).

It travels in the ``sqrt_precond`` slot of the kernels' common ``step`` signature (so the
compiled loop, checkpoints and the interpreted loop carry it unchanged). With λ the
eigenvalues of the prior-preconditioned misfit Hessian,

    Γ x = x − V (λ/(1+λ) ⊙ Vᵀx),        Γ^{1/2} x = x + V (((1+λ)^{−1/2} − 1) ⊙ Vᵀx),
    Γ⁻¹ x = x + V (λ ⊙ Vᵀx),            Γ^{−1/2} x = x + V (((1+λ)^{1/2} − 1) ⊙ Vᵀx).

Rows of P are contiguous, so Vᵀx and V c are plain loops over contiguous memory.
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import FloatArray


def pack(vectors: np.ndarray, values: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """P from V (k, r), λ (r,) and m (k,) (see the module docstring)."""
    k, r = vectors.shape
    out = np.zeros((r + 1, k + 1))
    out[:r, :k] = vectors.T
    out[:r, k] = values
    out[r, :k] = mean
    return out


def is_packed(P: object, k: int) -> bool:
    """Whether P has the packed layout for dimension k."""
    return isinstance(P, np.ndarray) and P.ndim == 2 and P.shape[1] == k + 1


@numba.njit(cache=True)
def mean(P: FloatArray) -> FloatArray:
    return P[P.shape[0] - 1, :P.shape[1] - 1].copy()


@numba.njit(cache=True)
def project(P: FloatArray, x: FloatArray) -> FloatArray:
    """Vᵀ x (length r)."""
    r, k = P.shape[0] - 1, P.shape[1] - 1
    c = np.empty(r)
    for j in range(r):
        s = 0.0
        for i in range(k):
            s += P[j, i] * x[i]
        c[j] = s
    return c


@numba.njit(cache=True)
def project_span(P: FloatArray, g: FloatArray) -> FloatArray:
    """V Vᵀ g, the orthogonal projection onto span(V) (DILI's likelihood-informed subspace)."""
    r, k = P.shape[0] - 1, P.shape[1] - 1
    c = project(P, g)
    out = np.zeros(k)
    for j in range(r):
        for i in range(k):
            out[i] += c[j] * P[j, i]
    return out


@numba.njit(cache=True)
def _update(P: FloatArray, x: FloatArray, c: FloatArray, coefficient_kind: int) -> FloatArray:
    """x + V (f(λ) ⊙ c) with f chosen by ``coefficient_kind`` (0: −λ/(1+λ), 1: (1+λ)^{−½} − 1,
    2: (1+λ)^{½} − 1, 3: λ)."""
    r, k = P.shape[0] - 1, P.shape[1] - 1
    out = x.copy()
    for j in range(r):
        lam = P[j, k]
        if coefficient_kind == 0:
            f = -lam / (1.0 + lam)
        elif coefficient_kind == 1:
            f = 1.0 / np.sqrt(1.0 + lam) - 1.0
        elif coefficient_kind == 2:
            f = np.sqrt(1.0 + lam) - 1.0
        else:
            f = lam
        cj = f * c[j]
        for i in range(k):
            out[i] += cj * P[j, i]
    return out


@numba.njit(cache=True)
def cov_apply(P: FloatArray, x: FloatArray) -> FloatArray:
    """Γ x."""
    return _update(P, x, project(P, x), 0)


@numba.njit(cache=True)
def sqrt_apply(P: FloatArray, x: FloatArray) -> FloatArray:
    """Γ^{1/2} x (symmetric root)."""
    return _update(P, x, project(P, x), 1)


@numba.njit(cache=True)
def inv_sqrt_apply(P: FloatArray, x: FloatArray) -> FloatArray:
    """Γ^{−1/2} x."""
    return _update(P, x, project(P, x), 2)


@numba.njit(cache=True)
def precision_apply(P: FloatArray, x: FloatArray) -> FloatArray:
    """Γ⁻¹ x."""
    return _update(P, x, project(P, x), 3)


@numba.njit(cache=True)
def _potential(P: FloatArray, x: FloatArray, m: FloatArray, loglik: float, c: FloatArray) -> float:
    k = P.shape[1] - 1
    s = 0.0
    for j in range(c.shape[0]):
        s += P[j, k] * c[j] * c[j]
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return loglik - (x @ m) + 0.5 * s  # type: ignore[return-value]


@numba.njit(cache=True)
def reference_potential(P: FloatArray, x: FloatArray, loglik: float) -> float:
    r"""w(x) = ℓ(x) − ⟨x, m⟩ + ½ Σ_j λ_j ⟨v_j, x − m⟩²: log π(x) − log N(x; m, Γ) up to a
    constant (π ∝ e^ℓ N(0, I)). Finite on the infinite-dimensional limit (no ½|x|² terms)."""
    m = mean(P)
    return _potential(P, x, m, loglik, project(P, x - m))


@numba.njit(cache=True)
def reference_potential_and_gradient(P: FloatArray, x: FloatArray, loglik: float,
                                     grad_loglik: FloatArray) -> tuple[float, FloatArray]:
    """(w(x), ∇w(x)), ∇w(x) = ∇ℓ(x) − m + V Λ Vᵀ (x − m), from one projection Vᵀ(x − m)."""
    m = mean(P)
    c = project(P, x - m)
    return _potential(P, x, m, loglik, c), _update(P, grad_loglik - m, c, 3)
