r"""P1 fields on a triangulation of the unit disk, without FEniCSx.

A :class:`Triangulation` holds vertices (n, 2) and triangles (m, 3); a field is given by its
nodal values θ ∈ R^n and is the continuous piecewise-linear (P1) interpolant
f(x) = Σ_j θ_j φ_j(x). :func:`disk_triangulation` meshes the unit disk with NumPy/SciPy
(concentric rings of vertices, Delaunay), :meth:`Triangulation.from_space` takes the vertices
and cells of a P1 space of :mod:`bayesinv.fem` (e.g. on ``fem.unit_disk``).

The polygon of a disk triangulation is inscribed in the circle, so a thin sliver of the disk
(width O(h²) for mesh size h) lies outside it; :meth:`Triangulation.evaluation_matrix` extends
the field there by its value at the nearest point of the triangulation's boundary (a
continuous extension), and refuses points farther away than the longest edge.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.spatial
from numpy.typing import ArrayLike

from .._validation import positive_float
from ..errors import InvalidArgumentError


class Triangulation:
    """A planar triangulation carrying P1 fields.

    Parameters
    ----------
    points : array_like, shape (n, 2)
        Vertex coordinates (a third, zero, coordinate is dropped).
    triangles : array_like of int, shape (m, 3)
        Vertex indices of each triangle; every vertex must belong to some triangle and every
        triangle must have positive area (either orientation).
    """

    def __init__(self, points: ArrayLike, triangles: ArrayLike) -> None:
        pts = np.asarray(points, dtype=float)
        if pts.ndim == 2 and pts.shape[1] == 3 and np.all(pts[:, 2] == 0.0):
            pts = pts[:, :2]
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
            raise InvalidArgumentError(
                f"points must have shape (n, 2) with n >= 3, got {pts.shape}")
        if not np.isfinite(pts).all():
            raise InvalidArgumentError("points must be finite")
        tri = np.asarray(triangles)
        if tri.ndim != 2 or tri.shape[1] != 3 or tri.shape[0] < 1 \
                or not np.issubdtype(tri.dtype, np.integer):
            raise InvalidArgumentError(
                f"triangles must be an integer array of shape (m, 3), got shape {tri.shape} "
                f"and dtype {tri.dtype}")
        if tri.min() < 0 or tri.max() >= pts.shape[0]:
            raise InvalidArgumentError(
                f"triangles must index the {pts.shape[0]} points (0..{pts.shape[0] - 1}), "
                f"got indices in [{tri.min()}, {tri.max()}]")
        tri = tri.astype(np.int64)
        a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
        area2 = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
                 - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
        if np.any(np.abs(area2) <= 1e-14 * np.abs(area2).max()):
            bad = np.flatnonzero(np.abs(area2) <= 1e-14 * np.abs(area2).max())[:5].tolist()
            raise InvalidArgumentError(f"triangles {bad} are degenerate (zero area)")
        flip = area2 < 0
        tri[flip] = tri[flip][:, [0, 2, 1]]
        used = np.zeros(pts.shape[0], dtype=bool)
        used[tri.ravel()] = True
        if not used.all():
            raise InvalidArgumentError(
                f"{int((~used).sum())} points belong to no triangle (first "
                f"{np.flatnonzero(~used)[:5].tolist()}); a P1 field there would be undefined")
        self.points = pts
        self.triangles = tri
        self.areas = 0.5 * np.abs(area2)

    @classmethod
    def from_space(cls, space: Any) -> Triangulation:
        """The vertices and cells of a P1 :class:`bayesinv.fem.LagrangeSpace` (2-d); nodal
        values of fields in that space are then nodal values here, in the same order."""
        if getattr(space, "degree", None) != 1:
            raise InvalidArgumentError(
                f"space must be a P1 LagrangeSpace, got degree {getattr(space, 'degree', None)}")
        return cls(space.coordinates, space.cell_dofs)

    @property
    def num_nodes(self) -> int:
        return self.points.shape[0]

    @cached_property
    def max_edge(self) -> float:
        """The longest edge (the mesh size)."""
        p = self.points[self.triangles]
        return float(np.linalg.norm(p - np.roll(p, 1, axis=1), axis=2).max())

    @cached_property
    def boundary_edges(self) -> np.ndarray:
        """(e, 3): vertex i, vertex j and the triangle of each edge that lies in one triangle."""
        t = self.triangles
        edges = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        owner = np.tile(np.arange(t.shape[0]), 3)
        key = np.sort(edges, axis=1)
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        once = counts[inverse.ravel()] == 1
        return np.column_stack([edges[once], owner[once]])

    @cached_property
    def _finder(self):
        import matplotlib.tri

        return matplotlib.tri.Triangulation(
            self.points[:, 0], self.points[:, 1], self.triangles).get_trifinder()

    @cached_property
    def mass_matrix(self) -> sp.csr_matrix:
        """M_ij = ∫ φ_i φ_j (exact for P1: |T|/12 (1 + δ_ij) on each triangle T)."""
        local = (np.ones((3, 3)) + np.eye(3)) / 12.0
        data = self.areas[:, None, None] * local[None]
        rows = np.repeat(self.triangles, 3, axis=1).ravel()
        cols = np.tile(self.triangles, (1, 3)).ravel()
        n = self.num_nodes
        return sp.csr_matrix((data.ravel(), (rows, cols)), shape=(n, n))

    @cached_property
    def lumped_mass(self) -> np.ndarray:
        """Row sums of the mass matrix (quadrature weights, Σ = area)."""
        return np.asarray(self.mass_matrix.sum(axis=1)).ravel()

    def interpolate(self, fn: Callable[..., ArrayLike]) -> np.ndarray:
        """Nodal values of a callable ``fn(x)`` with x of shape (2, n) (as :mod:`bayesinv.fem`)."""
        values = np.asarray(fn(self.points.T.copy()), dtype=float)
        values = np.broadcast_to(values, (self.num_nodes,)).copy()
        if not np.isfinite(values).all():
            raise InvalidArgumentError("the interpolated function has non-finite values")
        return values

    def evaluation_matrix(self, points: ArrayLike) -> sp.csr_matrix:
        """Sparse E (p, n) with (E θ)_i = f(x_i) for the P1 field with nodal values θ.

        Points in a triangle use its barycentric coordinates; points outside the triangulation
        but within ``max_edge`` of it take the value at the nearest boundary point (see the
        module docstring); farther points raise :class:`InvalidArgumentError`.
        """
        x = np.asarray(points, dtype=float)
        if x.ndim != 2 or x.shape[1] != 2 or not np.isfinite(x).all():
            raise InvalidArgumentError(f"points must be finite with shape (p, 2), got {x.shape}")
        cells = np.asarray(self._finder(x[:, 0], x[:, 1]), dtype=np.int64)
        nodes = np.empty((x.shape[0], 3), dtype=np.int64)
        weights = np.zeros((x.shape[0], 3))
        inside = cells >= 0
        if inside.any():
            t = self.triangles[cells[inside]]
            nodes[inside] = t
            weights[inside] = _barycentric(self.points[t], x[inside])
        outside = np.flatnonzero(~inside)
        if outside.size:
            nodes[outside], weights[outside], dist = self._nearest_boundary(x[outside])
            far = dist > self.max_edge
            if far.any():
                i = outside[np.flatnonzero(far)[0]]
                raise InvalidArgumentError(
                    f"{int(far.sum())} points lie farther than the mesh size "
                    f"{self.max_edge:.3g} outside the triangulation (first: {x[i].tolist()}, "
                    f"distance {dist[far][0]:.3g}); the triangulation must cover the unit disk")
        rows = np.repeat(np.arange(x.shape[0]), 3)
        return sp.csr_matrix((weights.ravel(), (rows, nodes.ravel())),
                             shape=(x.shape[0], self.num_nodes))

    def _nearest_boundary(self, x, chunk: int = 2048):
        """Nodes, weights and distance of the nearest boundary point, in chunks of points
        (memory O(chunk × boundary edges))."""
        parts = [self._nearest_boundary_block(x[i:i + chunk])
                 for i in range(0, x.shape[0], chunk)]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def _nearest_boundary_block(self, x):
        be = self.boundary_edges
        a, b = self.points[be[:, 0]], self.points[be[:, 1]]
        d = b - a
        s = np.einsum("pek,ek->pe", x[:, None, :] - a[None], d) / np.einsum("ek,ek->e", d, d)
        s = np.clip(s, 0.0, 1.0)
        near = a[None] + s[..., None] * d[None]
        dist = np.linalg.norm(x[:, None, :] - near, axis=2)
        e = np.argmin(dist, axis=1)
        sel = s[np.arange(x.shape[0]), e]
        nodes = self.triangles[be[e, 2]]
        weights = np.zeros((x.shape[0], 3))
        for k in range(3):
            weights[:, k] += np.where(nodes[:, k] == be[e, 0], 1.0 - sel, 0.0)
            weights[:, k] += np.where(nodes[:, k] == be[e, 1], sel, 0.0)
        return nodes, weights, dist[np.arange(x.shape[0]), e]


def _barycentric(vertices: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of x (p, 2) in triangles with vertices (p, 3, 2)."""
    a, b, c = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    v0, v1, v2 = b - a, c - a, x - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    l1 = (v2[:, 0] * v1[:, 1] - v2[:, 1] * v1[:, 0]) / det
    l2 = (v0[:, 0] * v2[:, 1] - v0[:, 1] * v2[:, 0]) / det
    return np.column_stack([1.0 - l1 - l2, l1, l2])


def disk_triangulation(mesh_size: float = 0.1, radius: float = 1.0) -> Triangulation:
    """A triangulation of the disk {|x| ≤ radius} with NumPy/SciPy only.

    Vertices lie on concentric rings r_j = j·radius/J, J = ⌈radius/mesh_size⌉, with
    ⌈2π r_j / mesh_size⌉ equally spaced vertices on ring j (rotated by half a spacing on odd
    rings), and the centre; the triangles are their Delaunay triangulation (convex, so it is the
    inscribed polygon of the outer ring).
    """
    h = positive_float("mesh_size", mesh_size)
    R = positive_float("radius", radius)
    if h > R:
        raise InvalidArgumentError(f"mesh_size must be <= radius ({R}), got {h}")
    J = int(np.ceil(R / h))
    rings: list[np.ndarray] = [np.zeros((1, 2))]
    for j in range(1, J + 1):
        r = j * R / J
        m = max(6, int(np.ceil(2 * np.pi * r / h)))
        phi = 2 * np.pi * (np.arange(m) + 0.5 * (j % 2)) / m
        rings.append(r * np.column_stack([np.cos(phi), np.sin(phi)]))
    pts = np.concatenate(rings)
    tri = scipy.spatial.Delaunay(pts).simplices
    return Triangulation(pts, tri)
