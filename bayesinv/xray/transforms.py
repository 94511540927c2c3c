r"""X-ray transforms as bayesinv forward maps θ ↦ G(θ) (see :mod:`bayesinv.forward.base`).

* :class:`XRayTransform` — I f(γ) = ∫_0^τ f(γ(t)) dt, and the attenuated transform
  I_a f(γ) = ∫_0^τ f(γ(t)) exp(−∫_t^τ a(γ(s)) ds) dt for a known attenuation a ≥ 0 (emission
  at γ(t), detection at the exit point γ(τ); Natterer 2001, §II.6), both linear in f;
* :class:`NonAbelianXRayTransform` — for Φ = Σ_a f_a E_a: M → so(n), n ∈ {2, 3}, built from
  n(n−1)/2 scalar fields, the scattering data C_Φ(γ) ∈ SO(n) of the matrix transport equation
  (Monard, Nickl & Paternain 2021, CPAM 74; Novikov 2002)

  .. math:: \frac{d}{dt} U(t) + Φ(γ(t)) U(t) = 0 \ \text{on } [0, τ], \quad U(0) = I,
            \qquad C_Φ(γ) = U(τ),

  i.e. U = I where γ enters M and C_Φ is read where it leaves (the convention of the paper:
  U = Id on ∂₊SM, C_Φ = U on ∂₋SM). Read along the reversed line, this is the issue's
  "U(exit) = I, C = U(0)" with d/dt U − Φ U = 0; the scalar case gives exp(−I f).
  The generators are E_a = −[e_a]_× for n = 3 ([u]_× v = u × v) and E_1 = [[0, 1], [−1, 0]]
  for n = 2, so that −hΦ = [h f]_× and a step is the rotation by the angle h|f| about f; for
  n = 2, C_Φ is the rotation by the angle I f_1 (so(2) is Abelian).

The fields are P1 on a :class:`~bayesinv.xray.mesh.Triangulation`, θ their nodal values
(stacked field after field for the non-Abelian map), sampled at the K midpoint nodes of each
line (:class:`~bayesinv.xray.geometry.LineQuadrature`). Gradients are exact for the discrete
scheme: the pullback of the evaluation matrix composed with the kernels' discrete adjoint
(:mod:`bayesinv.xray.kernels`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from ..forward.base import ForwardMap
from ..forward.linear import LinearForwardMap, affine_second_order
from ..likelihood import GaussianLikelihood
from ..protocols import Curvature, Pullback, Pushforward, Seed
from . import kernels
from .geometry import LineQuadrature


def _check_quadrature(quadrature) -> LineQuadrature:
    if not isinstance(quadrature, LineQuadrature):
        raise InvalidArgumentError(
            f"quadrature must be a LineQuadrature(lines, mesh, steps), got "
            f"{type(quadrature).__name__}")
    return quadrature


def attenuation_weights(quadrature: LineQuadrature, attenuation: ArrayLike) -> np.ndarray:
    r"""w_ik = exp(−h_i(a_ik/2 + Σ_{j>k} a_ij)): the midpoint rule of exp(−∫_{t_k}^τ a)."""
    a = np.asarray(attenuation, dtype=float)
    if a.shape != (quadrature.num_nodes,):
        raise InvalidArgumentError(
            f"attenuation must be nodal values of shape ({quadrature.num_nodes},) on the "
            f"mesh, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InvalidArgumentError("attenuation must be finite")
    av = quadrature.sample(a)
    tail = np.cumsum(av[:, ::-1], axis=1)[:, ::-1] - 0.5 * av
    return np.exp(-quadrature.step[:, None] * tail)


class XRayTransform(ForwardMap):
    r"""The (attenuated) X-ray transform of a P1 field along N lines, by the midpoint rule.

    G(θ)_i = h_i Σ_k w_ik f_θ(γ_i(t_k)) with w = 1 (``attenuation=None``) or the attenuation
    weights of :func:`attenuation_weights`. Linear: ``linearize`` gives the map, its tangent
    (the same) and its transpose, all by the sparse (N, n) matrix :meth:`matrix`, formed
    once (faster than sampling the field and summing in numba, :meth:`apply_by_kernel`,
    which gives the same numbers; see benchmarks/results/xray.md).

    Parameters
    ----------
    quadrature : LineQuadrature
    attenuation : array_like (n,), optional
        Nodal values of the attenuation a on the same mesh.
    """

    def __init__(self, quadrature: LineQuadrature, attenuation: ArrayLike | None = None) -> None:
        super().__init__()
        self.quadrature = _check_quadrature(quadrature)
        self.input_dim = quadrature.num_nodes
        self.output_dim = quadrature.num_lines
        shape = (quadrature.num_lines, quadrature.steps)
        self.weights = (np.ones(shape) if attenuation is None
                        else attenuation_weights(quadrature, attenuation))
        self._matrix = self._assemble()
        self._matrix_t = self._matrix.T.tocsr()

    def _apply(self, theta):
        return self._matrix @ theta

    def _transpose(self, w):
        return self._matrix_t @ w

    def apply_by_kernel(self, theta: ArrayLike) -> np.ndarray:
        """G(θ) by sampling the field at the nodes and the numba kernel (parallel over lines)
        instead of the precomputed sparse matrix: the same sums, grouped differently."""
        values = self.quadrature.sample(np.asarray(theta, dtype=float))
        q = self.quadrature
        return kernels.dispatch(kernels.linear_forward, q.num_lines * q.steps, values, q.step,
                                self.weights)

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        theta = self._check_theta(theta)
        self.counts.forward += 1

        def jvp(v: ArrayLike) -> np.ndarray:
            self.counts.tangent += 1
            return self._apply(self._check_tangent(v))

        def pullback(w: ArrayLike) -> np.ndarray:
            self.counts.adjoint += 1
            return self._transpose(self._check_output(w))

        return self._apply(theta), jvp, pullback

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        """As :meth:`linearize`; the map is linear, so its second derivative is zero."""
        return affine_second_order(self, theta)

    def matrix(self) -> sp.csr_matrix:
        """The sparse matrix A (N, n) with G(θ) = A θ (a copy)."""
        return self._matrix.copy()

    def _assemble(self) -> sp.csr_matrix:
        q = self.quadrature
        N, K = q.num_lines, q.steps
        R = sp.csr_matrix(((q.step[:, None] * self.weights).ravel(),
                           (np.repeat(np.arange(N), K), np.arange(N * K))), shape=(N, N * K))
        return (R @ q.evaluation).tocsr()

    def as_linear_map(self) -> LinearForwardMap:
        """The same map as a :class:`~bayesinv.forward.linear.LinearForwardMap` (exact
        linear–Gaussian posteriors, compiled sampler loops)."""
        return LinearForwardMap(self.matrix())


class NonAbelianXRayTransform(ForwardMap):
    r"""θ ↦ (C_Φ(γ_i))_{i ≤ N} flattened, for Φ ∈ so(n) from n(n−1)/2 P1 fields.

    θ = (θ_1, …, θ_m) stacks the nodal values of the m = n(n−1)/2 fields (length m·n_nodes);
    G(θ) has length N·n², the row-major entries of the N matrices (:meth:`as_matrices`
    reshapes it). One evaluation is one exponential-midpoint sweep per line (orthogonal to
    round-off), a pullback one backward sweep (the discrete adjoint), a tangent one forward
    sweep; all in numba, parallel over lines.

    Parameters
    ----------
    quadrature : LineQuadrature
    n : {2, 3}
        The matrix size: so(2) (one field) or so(3) (three fields).
    """

    def __init__(self, quadrature: LineQuadrature, n: int = 3) -> None:
        super().__init__()
        self.quadrature = _check_quadrature(quadrature)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n not in (2, 3):
            raise InvalidArgumentError(
                f"n must be 2 or 3 (Φ takes values in so(2) or so(3)), got {n!r}")
        self.n = int(n)
        self.num_fields = self.n * (self.n - 1) // 2
        self.input_dim = self.num_fields * quadrature.num_nodes
        self.output_dim = quadrature.num_lines * self.n * self.n

    # -- θ ↔ ω --------------------------------------------------------------------------------

    def fields(self, theta: ArrayLike) -> np.ndarray:
        """θ as (m, n_nodes): one row of nodal values per field."""
        return np.asarray(theta, dtype=float).reshape(self.num_fields, -1)

    def _omega(self, theta) -> np.ndarray:
        q = self.quadrature
        vals = q.sample(self.fields(theta))                     # (N, K, m)
        omega = np.zeros((q.num_lines, q.steps, 3))
        if self.n == 3:
            omega[:] = vals
        else:
            omega[:, :, 2] = vals[:, :, 0]
        omega *= q.step[:, None, None]
        return omega

    def _omega_transpose(self, g) -> np.ndarray:
        q = self.quadrature
        g = g * q.step[:, None, None]
        g = g if self.n == 3 else g[:, :, 2:3]
        return q.sample_transpose(np.ascontiguousarray(g)).ravel()

    def _crop(self, C) -> np.ndarray:
        return np.ascontiguousarray(C[:, : self.n, : self.n]).ravel()

    def _embed(self, w) -> np.ndarray:
        W = np.zeros((self.quadrature.num_lines, 3, 3))
        W[:, : self.n, : self.n] = w.reshape(-1, self.n, self.n)
        return W

    # -- the map ------------------------------------------------------------------------------

    def scattering_data(self, theta: ArrayLike) -> np.ndarray:
        """C_Φ(γ_i) as an array (N, n, n)."""
        return self.as_matrices(self(theta))

    def as_matrices(self, y: ArrayLike) -> np.ndarray:
        """Reshape flat outputs or data (N·n²,) to (N, n, n)."""
        return np.asarray(y, dtype=float).reshape(-1, self.n, self.n)

    def value_and_pullback(self, theta: ArrayLike) -> tuple[np.ndarray, Pullback]:
        y, _, pullback = self.linearize(theta)
        return y, pullback

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        theta = self._check_theta(theta)
        self.counts.forward += 1
        omega = self._omega(theta)
        work = omega.shape[0] * omega.shape[1]
        y = self._crop(self._scatter(omega))

        def jvp(v: ArrayLike) -> np.ndarray:
            self.counts.tangent += 1
            _, dC = kernels.dispatch(kernels.scattering_tangent, work, omega,
                                     self._omega(self._check_tangent(v)))
            return self._crop(dC)

        def pullback(w: ArrayLike) -> np.ndarray:
            self.counts.adjoint += 1
            W = self._embed(self._check_output(w))
            return self._omega_transpose(
                kernels.dispatch(kernels.scattering_adjoint, work, omega, W))

        return y, jvp, pullback

    def _scatter(self, omega):
        return kernels.dispatch(kernels.scattering, omega.shape[0] * omega.shape[1], omega)

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        theta = self._check_theta(theta)
        self.counts.forward += 1
        return self._crop(self._scatter(self._omega(theta)))


def check_matrix_data(data: ArrayLike, num_lines: int, n: int) -> np.ndarray:
    """Matrix data as a finite array of shape (N, n, n), or a clear error."""
    arr = np.asarray(data, dtype=float)
    if arr.shape != (num_lines, n, n):
        raise InvalidArgumentError(
            f"data must have shape (N, n, n) = ({num_lines}, {n}, {n}) (one {n}×{n} matrix "
            f"per line), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("data must be finite")
    return arr


def matrix_likelihood(forward: NonAbelianXRayTransform, data: ArrayLike, noise_std: float
                      ) -> GaussianLikelihood:
    """The Gaussian likelihood of matrix data Y_i = C_Φ(γ_i) + σ ε_i, ε_i with iid N(0, 1)
    entries: :class:`~bayesinv.likelihood.GaussianLikelihood` on the flattened data (the
    likelihood of the N·n² iid entries is the same), after checking the shape (N, n, n)."""
    if not isinstance(forward, NonAbelianXRayTransform):
        raise InvalidArgumentError(
            f"forward must be a NonAbelianXRayTransform, got {type(forward).__name__}")
    arr = check_matrix_data(data, forward.quadrature.num_lines, forward.n)
    return GaussianLikelihood(forward, arr.ravel(), noise_std)


def simulate_matrix_data(forward: NonAbelianXRayTransform, theta: ArrayLike, noise_std: float,
                         seed: Seed = None) -> np.ndarray:
    """Y_i = C_Φ(γ_i) + σ ε_i, shape (N, n, n) (the noise of :func:`bayesinv.simulate`)."""
    from ..likelihood import simulate

    return forward.as_matrices(simulate(forward, theta, noise_std, seed))

