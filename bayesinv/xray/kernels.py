r"""numba kernels of the X-ray transforms, parallel over lines (``prange``).

All kernels work on field values sampled at the K midpoint nodes of N lines (see
:class:`~bayesinv.xray.geometry.LineQuadrature`); the mesh enters only through the sparse
evaluation matrix, outside the kernels.

**Linear transforms.** y_i = h_i Σ_k w_ik f_ik (the midpoint rule of I f, or of the attenuated
transform with weights w_ik = exp(−∫_{t_k}^{τ} a)).

**Non-Abelian transform** (so(3); so(2) is the rotations about e₃). With ω_ik = h_i f_ik ∈ R³
the exponential-midpoint (second-order Magnus) step is the rotation

.. math:: S_k = \exp([ω_k]_×) = I + \frac{\sin θ}{θ}[ω_k]_× + \frac{1-\cos θ}{θ^2}[ω_k]_×^2,
          \quad θ = |ω_k|    \qquad \text{(Rodrigues)},

U_0 = I, U_{k+1} = S_k U_k, C = U_K: orthogonal to round-off whatever h. Its derivative is
d S_k = S_k [J_r(ω_k) dω_k]_× with the right Jacobian of SO(3),
J_r(ω) = I − \frac{1−\cos θ}{θ^2}[ω]_× + \frac{θ − \sin θ}{θ^3}[ω]_×^2 (Barfoot 2017, §7.1.3),
which gives the tangent recursion dU_{k+1} = S_k dU_k + S_k [J_r dω_k]_× U_k and the discrete
adjoint: with the costate Λ_K = W̄ (the cotangent of C), Λ_k = S_kᵀ Λ_{k+1},

.. math:: ∂⟨W̄, C⟩ / ∂ω_k = J_r(ω_k)^T \operatorname{ax}(Λ_k U_k^T),
          \quad \operatorname{ax}(M) = (M_{32} − M_{23}, M_{13} − M_{31}, M_{21} − M_{12}),

the exact transpose of the tangent map of the discrete scheme (one forward and one backward
sweep per line). Small angles use Taylor series of the coefficients (θ < 1e-4, error < 1e-24).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

_SMALL = 1e-4

#: Below this many integrator steps (N·K) :func:`dispatch` runs a kernel on the calling thread
#: only: waking numba's worker threads costs more than it saves, much more on a loaded
#: machine (benchmarks/results/design_notes.md, xray.md).
PARALLEL_MIN_STEPS = 100_000


def dispatch(kernel, work: int, *args):
    """``kernel(*args)``, on numba's thread pool when ``work`` >= :data:`PARALLEL_MIN_STEPS`,
    else on one thread (the results are identical: each line is computed by itself)."""
    threads = numba.get_num_threads()
    if work >= PARALLEL_MIN_STEPS or threads == 1:
        return kernel(*args)
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(threads)


@numba.njit(cache=True, fastmath=False)
def _coefficients(w0, w1, w2):
    """sin θ/θ, (1 − cos θ)/θ², (θ − sin θ)/θ³ for θ = |ω|."""
    t2 = w0 * w0 + w1 * w1 + w2 * w2
    t = np.sqrt(t2)
    if t < _SMALL:
        a = 1.0 - t2 / 6.0 + t2 * t2 / 120.0
        b = 0.5 - t2 / 24.0 + t2 * t2 / 720.0
        c = 1.0 / 6.0 - t2 / 120.0 + t2 * t2 / 5040.0
    else:
        s, co = np.sin(t), np.cos(t)
        a = s / t
        b = (1.0 - co) / t2
        c = (t - s) / (t2 * t)
    return a, b, c


@numba.njit(cache=True)
def _hat(w0, w1, w2, out):
    out[0, 0] = 0.0
    out[0, 1] = -w2
    out[0, 2] = w1
    out[1, 0] = w2
    out[1, 1] = 0.0
    out[1, 2] = -w0
    out[2, 0] = -w1
    out[2, 1] = w0
    out[2, 2] = 0.0


@numba.njit(cache=True)
def _rodrigues(w0, w1, w2, out):
    """out = exp([ω]_×) = I + a[ω]_× + b(ωωᵀ − θ²I) (no allocation)."""
    a, b, _ = _coefficients(w0, w1, w2)
    t2 = w0 * w0 + w1 * w1 + w2 * w2
    d = 1.0 - b * t2
    out[0, 0] = d + b * w0 * w0
    out[1, 1] = d + b * w1 * w1
    out[2, 2] = d + b * w2 * w2
    out[0, 1] = b * w0 * w1 - a * w2
    out[1, 0] = b * w0 * w1 + a * w2
    out[0, 2] = b * w0 * w2 + a * w1
    out[2, 0] = b * w0 * w2 - a * w1
    out[1, 2] = b * w1 * w2 - a * w0
    out[2, 1] = b * w1 * w2 + a * w0


@numba.njit(cache=True)
def _right_jacobian_apply(w0, w1, w2, v, out, transpose):
    """out = J_r(ω) v, or J_r(ω)ᵀ v (= J_r(−ω) v) when ``transpose``."""
    _, b, c = _coefficients(w0, w1, w2)
    sgn = -1.0 if transpose else 1.0
    # [ω]_× v = ω × v
    x0 = w1 * v[2] - w2 * v[1]
    x1 = w2 * v[0] - w0 * v[2]
    x2 = w0 * v[1] - w1 * v[0]
    # [ω]_×² v = ω × (ω × v)
    y0 = w1 * x2 - w2 * x1
    y1 = w2 * x0 - w0 * x2
    y2 = w0 * x1 - w1 * x0
    out[0] = v[0] - sgn * b * x0 + c * y0
    out[1] = v[1] - sgn * b * x1 + c * y1
    out[2] = v[2] - sgn * b * x2 + c * y2


@numba.njit(cache=True)
def _matmul3(A, B, out):
    for i in range(3):
        for j in range(3):
            out[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]


@numba.njit(cache=True, parallel=True)
def linear_forward(values, step, weights):
    """y_i = h_i Σ_k w_ik f_ik for values, weights of shape (N, K) and steps h (N,)."""
    N, K = values.shape
    out = np.empty(N)
    for i in prange(N):
        acc = 0.0
        for k in range(K):
            acc += weights[i, k] * values[i, k]
        out[i] = step[i] * acc
    return out


@numba.njit(cache=True, parallel=True)
def scattering(omega):
    """C_i = S_{K−1} ⋯ S_0 for ω of shape (N, K, 3): rotations (N, 3, 3)."""
    N, K, _ = omega.shape
    out = np.empty((N, 3, 3))
    for i in prange(N):
        U = np.eye(3)
        S = np.empty((3, 3))
        T = np.empty((3, 3))
        for k in range(K):
            _rodrigues(omega[i, k, 0], omega[i, k, 1], omega[i, k, 2], S)
            _matmul3(S, U, T)
            U[:, :] = T
        out[i] = U
    return out


@numba.njit(cache=True, parallel=True)
def scattering_tangent(omega, domega):
    """(C, dC): the scattering data and its derivative along dω (both (N, 3, 3))."""
    N, K, _ = omega.shape
    C = np.empty((N, 3, 3))
    dC = np.empty((N, 3, 3))
    for i in prange(N):
        U = np.eye(3)
        dU = np.zeros((3, 3))
        S = np.empty((3, 3))
        H = np.empty((3, 3))
        T1 = np.empty((3, 3))
        T2 = np.empty((3, 3))
        u = np.empty(3)
        for k in range(K):
            w0, w1, w2 = omega[i, k, 0], omega[i, k, 1], omega[i, k, 2]
            _rodrigues(w0, w1, w2, S)
            _right_jacobian_apply(w0, w1, w2, domega[i, k], u, False)
            _hat(u[0], u[1], u[2], H)
            _matmul3(H, U, T1)         # [J_r dω]_× U_k
            for a in range(3):
                for b in range(3):
                    T1[a, b] += dU[a, b]
            _matmul3(S, T1, dU)        # dU_{k+1} = S (dU_k + [u]_× U_k)
            _matmul3(S, U, T2)
            U[:, :] = T2
        C[i] = U
        dC[i] = dU
    return C, dC


@numba.njit(cache=True, parallel=True)
def scattering_adjoint(omega, cotangent):
    """∂⟨W̄_i, C_i⟩/∂ω_ik for each line: shape (N, K, 3) (the discrete adjoint)."""
    N, K, _ = omega.shape
    grad = np.empty((N, K, 3))
    for i in prange(N):
        U = np.empty((K + 1, 3, 3))
        S = np.empty((K, 3, 3))
        U[0] = np.eye(3)
        for k in range(K):
            _rodrigues(omega[i, k, 0], omega[i, k, 1], omega[i, k, 2], S[k])
            _matmul3(S[k], U[k], U[k + 1])
        lam = cotangent[i].copy()
        tmp = np.empty((3, 3))
        M = np.empty((3, 3))
        v = np.empty(3)
        g = np.empty(3)
        for k in range(K - 1, -1, -1):
            # Λ_k = S_kᵀ Λ_{k+1}
            for a in range(3):
                for b in range(3):
                    tmp[a, b] = S[k, 0, a] * lam[0, b] + S[k, 1, a] * lam[1, b] \
                        + S[k, 2, a] * lam[2, b]
            lam[:, :] = tmp
            # M = Λ_k U_kᵀ
            for a in range(3):
                for b in range(3):
                    M[a, b] = lam[a, 0] * U[k, b, 0] + lam[a, 1] * U[k, b, 1] \
                        + lam[a, 2] * U[k, b, 2]
            v[0] = M[2, 1] - M[1, 2]
            v[1] = M[0, 2] - M[2, 0]
            v[2] = M[1, 0] - M[0, 1]
            _right_jacobian_apply(omega[i, k, 0], omega[i, k, 1], omega[i, k, 2], v, g, True)
            grad[i, k, 0] = g[0]
            grad[i, k, 1] = g[1]
            grad[i, k, 2] = g[2]
    return grad


@numba.njit(cache=True, parallel=True)
def scalar_scattering(values, step):
    """The scalar transport dU/dt + f U = 0, U(0) = 1 by the same exponential-midpoint
    steps: U_K = Π_k exp(−h f_k), for values (N, K)."""
    N, K = values.shape
    out = np.empty(N)
    for i in prange(N):
        u = 1.0
        for k in range(K):
            u = np.exp(-step[i] * values[i, k]) * u
        out[i] = u
    return out


def scattering_reference(omega: np.ndarray) -> np.ndarray:
    """The same scheme in plain Python/NumPy (one line and step at a time): the benchmark's
    reference and a cross-check of the compiled kernel."""
    N, K, _ = omega.shape
    out = np.empty((N, 3, 3))
    for i in range(N):
        U = np.eye(3)
        for k in range(K):
            w = omega[i, k]
            t = float(np.linalg.norm(w))
            W = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
            if t < _SMALL:
                a, b = 1.0 - t * t / 6.0, 0.5 - t * t / 24.0
            else:
                a, b = np.sin(t) / t, (1.0 - np.cos(t)) / (t * t)
            U = (np.eye(3) + a * W + b * (W @ W)) @ U
        out[i] = U
    return out
