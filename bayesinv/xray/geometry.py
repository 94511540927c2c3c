r"""Lines through the unit disk M = {|x| ≤ 1} and their quadrature nodes.

A line (a chord of M) is given by its entry point x ∈ ∂M, its unit direction v and its length
τ; γ(t) = x + t v for t ∈ [0, τ]. Two parametrisations (Natterer 2001, §II.1; Monard, Nickl &
Paternain 2021, §2):

* **fan beam** (β, α): the inward boundary point x = (cos β, sin β), the direction at angle α
  ∈ (−π/2, π/2) to the inward normal, v = (cos(β + π + α), sin(β + π + α)); τ = 2 cos α;
* **parallel beam** (φ, s): direction v = (cos φ, sin φ) at signed distance s ∈ (−1, 1) from
  the centre, γ(t) = s v^⊥ + (t − τ/2) v with v^⊥ = (−sin φ, cos φ); τ = 2√(1 − s²).

The two are related by s = sin α, φ = β + π + α. Lines drawn "uniformly" are uniform in the
parameters; ``"santalo"`` draws the (normalised) Santaló measure cos α dβ dα on the inward
boundary ∂₊SM, which is the uniform law of (φ, s) in parallel-beam coordinates.

A :class:`LineQuadrature` fixes K equal steps h = τ/K on each line with nodes at the midpoints
t_k = (k + ½)h, k = 0..K−1, and the sparse matrix E (N·K, n) giving the values of a P1 field
there: f(γ_i(t_k)) = (E θ)_{iK+k}.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from .._validation import integer_at_least, one_of
from ..errors import InvalidArgumentError
from ..protocols import Seed
from .mesh import Triangulation


def _array(name, value) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise InvalidArgumentError(
            f"{name} must be a finite non-empty 1-d array, got shape {np.shape(value)}")
    return arr


class Lines:
    """N chords of the unit disk: entry points, unit directions and lengths.

    Build with :meth:`fan_beam`, :meth:`parallel_beam`, :meth:`random` or :meth:`grid`.

    Attributes
    ----------
    start : ndarray (N, 2)
    direction : ndarray (N, 2)
    length : ndarray (N,)
    beta, alpha : ndarray (N,)
        The fan-beam parameters of each line.
    """

    def __init__(self, beta: ArrayLike, alpha: ArrayLike) -> None:
        beta, alpha = _array("beta", beta), _array("alpha", alpha)
        if beta.shape != alpha.shape:
            raise InvalidArgumentError(
                f"beta and alpha must have the same length, got {beta.size} and {alpha.size}")
        miss = np.abs(alpha) >= np.pi / 2
        if miss.any():
            raise InvalidArgumentError(
                f"{int(miss.sum())} lines miss the interior of the unit disk (|alpha| >= π/2 or "
                f"|s| >= 1; first at index {int(np.flatnonzero(miss)[0])}): every line must be "
                f"a chord of positive length")
        self.beta = np.mod(beta, 2 * np.pi)
        self.alpha = alpha
        self.start = np.column_stack([np.cos(beta), np.sin(beta)])
        ang = beta + np.pi + alpha
        self.direction = np.column_stack([np.cos(ang), np.sin(ang)])
        self.length = 2.0 * np.cos(alpha)

    def __len__(self) -> int:
        return self.beta.shape[0]

    def __repr__(self) -> str:
        return f"Lines(N={len(self)})"

    @classmethod
    def fan_beam(cls, beta: ArrayLike, alpha: ArrayLike) -> Lines:
        """Lines from boundary angles β and incidence angles α ∈ (−π/2, π/2)."""
        return cls(beta, alpha)

    @classmethod
    def parallel_beam(cls, phi: ArrayLike, s: ArrayLike) -> Lines:
        """Lines of direction angle φ at signed distance s ∈ (−1, 1) from the centre."""
        phi, s = _array("phi", phi), _array("s", s)
        if phi.shape != s.shape:
            raise InvalidArgumentError(
                f"phi and s must have the same length, got {phi.size} and {s.size}")
        if np.any(np.abs(s) >= 1):
            bad = int(np.flatnonzero(np.abs(s) >= 1)[0])
            raise InvalidArgumentError(
                f"{int((np.abs(s) >= 1).sum())} lines miss the interior of the unit disk "
                f"(|s| >= 1; first s[{bad}] = {s[bad]!r}); s must lie in (−1, 1)")
        alpha = np.arcsin(s)
        return cls(phi - np.pi - alpha, alpha)

    @property
    def phi(self) -> np.ndarray:
        """Parallel-beam direction angles."""
        return np.mod(self.beta + np.pi + self.alpha, 2 * np.pi)

    @property
    def s(self) -> np.ndarray:
        """Parallel-beam signed distances from the centre."""
        return np.sin(self.alpha)

    @classmethod
    def random(cls, num_lines: int, seed: Seed = None, distribution: str = "uniform") -> Lines:
        """N iid lines: (β, α) uniform on [0, 2π) × (−π/2, π/2) (``"uniform"``), or from the
        Santaló measure ∝ cos α dβ dα (``"santalo"``, i.e. (φ, s) uniform)."""
        n = integer_at_least("num_lines", num_lines, 1)
        distribution = one_of("distribution", distribution, ("uniform", "santalo"))
        rng = np.random.default_rng(seed)
        beta = rng.uniform(0.0, 2 * np.pi, n)
        u = rng.uniform(-1.0, 1.0, n)
        alpha = 0.5 * np.pi * u if distribution == "uniform" else np.arcsin(u)
        return cls(beta, alpha)

    @classmethod
    def grid(cls, num_beta: int, num_alpha: int, geometry: str = "fan") -> Lines:
        """A tensor grid of lines: midpoints of ``num_beta`` equal cells of [0, 2π) and of
        ``num_alpha`` equal cells of (−π/2, π/2) (``geometry="fan"``) or of s ∈ (−1, 1)
        (``"parallel"``, with φ in place of β)."""
        nb = integer_at_least("num_beta", num_beta, 1)
        na = integer_at_least("num_alpha", num_alpha, 1)
        geometry = one_of("geometry", geometry, ("fan", "parallel"))
        b = 2 * np.pi * (np.arange(nb) + 0.5) / nb
        u = -1.0 + 2.0 * (np.arange(na) + 0.5) / na
        B, U = np.meshgrid(b, u, indexing="ij")
        if geometry == "fan":
            return cls(B.ravel(), 0.5 * np.pi * U.ravel())
        return cls.parallel_beam(B.ravel(), U.ravel())

    def points(self, t: ArrayLike) -> np.ndarray:
        """γ_i(t_ik) for t of shape (N, K): shape (N, K, 2)."""
        t = np.asarray(t, dtype=float)
        return self.start[:, None, :] + t[..., None] * self.direction[:, None, :]


class LineQuadrature:
    """K midpoint nodes on each of N lines and the P1 evaluation matrix there.

    Parameters
    ----------
    lines : Lines
    mesh : Triangulation
        The mesh of the fields (must cover the unit disk up to the boundary sliver).
    steps : int
        K >= 1, the number of equal steps on each line (the same K on every line; the step
        h_i = τ_i / K is shorter on shorter lines).

    Attributes
    ----------
    step : ndarray (N,)
        h_i.
    nodes : ndarray (N, K)
        t_k = (k + ½) h_i.
    evaluation : scipy.sparse.csr_matrix (N·K, n)
        E, with f(γ_i(t_k)) = (E θ)[i·K + k].
    """

    def __init__(self, lines: Lines, mesh: Triangulation, steps: int):
        if not isinstance(lines, Lines):
            raise InvalidArgumentError(f"lines must be a Lines object, got {type(lines).__name__}")
        if not isinstance(mesh, Triangulation):
            raise InvalidArgumentError(
                f"mesh must be a Triangulation, got {type(mesh).__name__} (use "
                f"Triangulation.from_space for a bayesinv.fem P1 space)")
        self.lines = lines
        self.mesh = mesh
        self.steps = integer_at_least("steps", steps, 1)
        self.step = lines.length / self.steps
        self.nodes = (np.arange(self.steps) + 0.5)[None, :] * self.step[:, None]
        self.evaluation = mesh.evaluation_matrix(lines.points(self.nodes).reshape(-1, 2))
        self._evaluation_t = self.evaluation.T.tocsr()

    @property
    def num_lines(self) -> int:
        return len(self.lines)

    @property
    def num_nodes(self) -> int:
        return self.mesh.num_nodes

    def sample(self, theta: np.ndarray) -> np.ndarray:
        """Field values at the nodes: (N, K) for θ of shape (n,), (N, K, m) for (m, n)."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 1:
            return (self.evaluation @ theta).reshape(self.num_lines, self.steps)
        values = self.evaluation @ theta.T
        return values.reshape(self.num_lines, self.steps, theta.shape[0])

    def sample_transpose(self, g: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`sample`: (n,) from (N, K), (m, n) from (N, K, m)."""
        g = np.asarray(g, dtype=float)
        if g.ndim == 2:
            return self._evaluation_t @ g.ravel()
        return (self._evaluation_t @ g.reshape(-1, g.shape[-1])).T

    @cached_property
    def points(self) -> np.ndarray:
        """The quadrature nodes γ_i(t_k), shape (N, K, 2)."""
        return self.lines.points(self.nodes)
