r"""Gaussian noise with a known covariance Σ or precision Q = Σ⁻¹ (dense, diagonal or sparse).

Y = G(θ) + ε, ε ~ N(0, Σ):

.. math:: ℓ(θ) = −½ r^T Q r − ½ \log\det Σ − \frac N2 \log 2π, \qquad r = Y − G(θ),
          \qquad ∂ℓ/∂G = Q r.

Dense Σ is whitened by its Cholesky factor Σ = L Lᵀ (r^T Q r = |L⁻¹ r|², log det Σ = 2 Σ log
L_ii); dense Q = R Rᵀ needs no solve (r^T Q r = |Rᵀ r|²); a diagonal is a vector; a sparse
matrix (scipy.sparse) is factorised once by SuperLU in symmetric mode without pivoting, whose
pivots are positive exactly when the matrix is positive definite. The pointwise values for
ArviZ are the leave-one-out conditionals log N(Y_i; E[Y_i | Y_{-i}], 1/Q_ii) = −(Qr)_i²/(2Q_ii)
+ ½ log Q_ii − ½ log 2π (Bürkner, Gabry & Vehtari 2021, "Efficient leave-one-out
cross-validation for Bayesian non-factorized normal and Student-t models"), which reduce to
the usual terms for a diagonal Σ.

Use it when the noise covariance is known (correlated errors from a measurement device, a
known per-observation variance, or a whitened discretisation error model); with one
unknown σ use :mod:`.noise`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike

from .._validation import finite_vector, real_array, spd_matrix
from ..errors import InvalidArgumentError
from ..forward.base import ForwardMap
from .base import PredictionLikelihood

_LOG_2PI = float(np.log(2 * np.pi))


class _Diagonal:
    def __init__(self, name, values, n, inverse):
        v = finite_vector(name, values, n)
        if not (v > 0).all():
            raise InvalidArgumentError(
                f"{name} (a diagonal) must have positive entries; entry {int(np.argmin(v))} is "
                f"{v.min()!r}")
        self.q = 1.0 / v if not inverse else v
        self.logdet_q = float(np.sum(np.log(self.q)))
        self.diag_q = self.q
        self.max_q = float(self.q.max())

    def apply_q(self, r):
        return self.q * r

    def noise(self, rng, shape):
        return rng.standard_normal(shape) / np.sqrt(self.q)


class _Dense:
    def __init__(self, name, matrix, n, inverse):
        M = spd_matrix(name, matrix, n)
        self.chol = np.linalg.cholesky(M)  # lower
        self.inverse = inverse
        log_diag = float(np.sum(np.log(np.diag(self.chol))))
        self.logdet_q = 2 * log_diag if inverse else -2 * log_diag
        Q = M if inverse else sla.cho_solve((self.chol, True), np.eye(n))
        self.Q = M if inverse else None
        self.diag_q = np.diag(Q).copy()
        self.max_q = float(np.linalg.eigvalsh(Q)[-1])

    def whiten(self, r):
        """L⁻¹ r (covariance) or Rᵀ r (precision): |whiten(r)|² = rᵀ Q r."""
        if self.inverse:
            return np.swapaxes(self.chol, -1, -2) @ r if r.ndim == 1 else r @ self.chol
        if r.ndim == 1:
            return sla.solve_triangular(self.chol, r, lower=True)
        return sla.solve_triangular(self.chol, r.reshape(-1, r.shape[-1]).T,
                                    lower=True).T.reshape(r.shape)

    def apply_q(self, r):
        if self.inverse:
            return r @ self.Q  # symmetric
        flat = r.reshape(-1, r.shape[-1]).T
        return sla.cho_solve((self.chol, True), flat).T.reshape(r.shape)

    def noise(self, rng, shape):
        z = rng.standard_normal(shape)
        if self.inverse:  # Σ^{1/2} z = R⁻ᵀ z
            flat = z.reshape(-1, shape[-1]).T
            return sla.solve_triangular(self.chol.T, flat, lower=False).T.reshape(shape)
        return z @ self.chol.T


class _Sparse:
    def __init__(self, name, matrix, n, inverse, rtol=1e-10):
        M = sp.csc_matrix(matrix, dtype=float)
        if M.shape != (n, n):
            raise InvalidArgumentError(f"{name} must have shape ({n}, {n}), got {M.shape}")
        if not np.isfinite(M.data).all():
            raise InvalidArgumentError(f"{name} must be finite; it has NaN or inf entries")
        scale = float(abs(M).max()) if M.nnz else 0.0
        asym = float(abs(M - M.T).max()) if M.nnz else 0.0
        if asym > rtol * scale:
            raise InvalidArgumentError(
                f"{name} must be symmetric; max |C - Cᵀ| = {asym:.3g} (max |C| = {scale:.3g})")
        try:
            lu = spla.splu(M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
            pivots = lu.U.diagonal()
        except RuntimeError:
            pivots = np.array([0.0])
        if not (pivots > 0).all():
            raise InvalidArgumentError(
                f"{name} must be positive definite (its symmetric factorisation has a "
                f"non-positive pivot)")
        self.M, self.lu, self.inverse = M, lu, inverse
        logdet = float(np.sum(np.log(pivots)))
        self.logdet_q = logdet if inverse else -logdet
        if inverse:
            self.diag_q = M.diagonal().copy()
            self.max_q = float(spla.eigsh(M, k=1, which="LA", return_eigenvectors=False)[0]) \
                if n > 2 else float(np.linalg.eigvalsh(M.toarray())[-1])
        else:
            Q = lu.solve(np.eye(n))
            self.diag_q = np.diag(Q).copy()
            self.max_q = float(np.linalg.eigvalsh(0.5 * (Q + Q.T))[-1])
        self._root = None

    def apply_q(self, r):
        flat = r.reshape(-1, r.shape[-1]).T
        out = self.M @ flat if self.inverse else self.lu.solve(np.ascontiguousarray(flat))
        return np.asarray(out).T.reshape(r.shape)

    def noise(self, rng, shape):  # a dense factor, made once: simulation is not a hot path
        if self._root is None:
            self._root = _Dense("matrix", self.M.toarray(), self.M.shape[0], self.inverse)
        return self._root.noise(rng, shape)


def _operator(name, matrix, n, inverse):
    if sp.issparse(matrix):
        return _Sparse(name, matrix, n, inverse)
    arr = real_array(name, matrix)
    if arr.ndim == 1:
        return _Diagonal(name, arr, n, inverse)
    if arr.ndim == 0:
        raise InvalidArgumentError(
            f"{name} must be a vector (diagonal) or an ({n}, {n}) matrix, got a scalar; for "
            f"iid noise use GaussianLikelihood(forward, data, noise_std)")
    return _Dense(name, arr, n, inverse)


class GaussianNoiseLikelihood(PredictionLikelihood):
    """Gaussian likelihood with a known noise covariance or precision (module docstring).

    Parameters
    ----------
    forward : ForwardMap
    data : array_like, shape (N,)
    covariance : array (N,) or (N, N), or scipy.sparse (N, N), optional
        Σ: a vector is its diagonal (the variances).
    precision : same, optional
        Q = Σ⁻¹ instead of Σ (exactly one of the two).
    """

    def __init__(self, forward: ForwardMap, data: ArrayLike, *,
                 covariance: ArrayLike | None = None,
                 precision: ArrayLike | None = None) -> None:
        super().__init__(forward, data)
        if (covariance is None) == (precision is None):
            raise InvalidArgumentError("give exactly one of covariance and precision")
        n = self.num_observations
        name = "covariance" if precision is None else "precision"
        self.noise_operator = _operator(name, covariance if precision is None else precision,
                                        n, inverse=precision is not None)
        op = self.noise_operator
        self._log_norm = 0.5 * op.logdet_q - 0.5 * n * _LOG_2PI
        self._diag_q = op.diag_q
        self._pointwise_norm = 0.5 * np.log(op.diag_q) - 0.5 * _LOG_2PI
        #: 1/√λ_max(Q): the Gauss–Newton rules' σ (an upper bound of the data curvature)
        self.noise_std = float(1.0 / np.sqrt(op.max_q))

    def whiten(self, r: ArrayLike) -> np.ndarray:
        """A residual in white coordinates: |whiten(r)|² = rᵀ Q r (dense and diagonal)."""
        op = self.noise_operator
        if isinstance(op, _Diagonal):
            return np.sqrt(op.q) * r
        if isinstance(op, _Dense):
            return op.whiten(np.asarray(r, dtype=float))
        raise InvalidArgumentError("whiten needs a dense or diagonal covariance/precision")

    def _loglik(self, r):
        return -0.5 * float(r @ self.noise_operator.apply_q(r)) + self._log_norm

    def _score(self, r):
        return self.noise_operator.apply_q(r)

    def _pointwise(self, r):
        qr = self.noise_operator.apply_q(np.asarray(r, dtype=float))
        return -0.5 * qr**2 / self._diag_q + self._pointwise_norm

    def _noise(self, rng, shape):
        return self.noise_operator.noise(rng, shape)
