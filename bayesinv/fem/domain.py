"""Domains and Lagrange spaces as NumPy snapshots of a dolfinx mesh.

A :class:`Domain` wraps a dolfinx mesh of affine simplices and extracts, once, what the fast
forward maps and priors need: cell geometry, cell-to-dof maps, dof coordinates, boundary dofs,
and the location of arbitrary points. A :class:`LagrangeSpace` holds a continuous Lagrange
space of degree 1 or 2 on it, with its mass and stiffness matrices. Functions on the domain are
represented by their nodal (dof) values; a callable ``fn`` is interpolated by evaluating it at
the dof coordinates, ``fn(x)`` with ``x`` of shape ``(dim, n)`` (dolfinx's convention:
``x[0]`` are the first coordinates).

Ready-made domains: :func:`unit_square` (dolfinx's built-in mesh) and, meshed by gmsh through
dolfinx's gmsh I/O, :func:`unit_disk`, :func:`disk`, :func:`disk_of_area` (area 1 in
Giordano's Darcy experiments) and :func:`ellipse` (semi-axes, rotation, centre). Any other
dolfinx mesh of affine simplices works through ``Domain(mesh)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._nodal import dof_values
from .._validation import integer_at_least, points_2d, positive_float
from ..errors import InvalidArgumentError
from . import _dolfinx
from .assembly import FormKind, assemble_coefficient_tensor, sparsity_pattern

if TYPE_CHECKING:
    from dolfinx.mesh import Mesh

    from ..protocols import Seed
    from .general_domain import MeshDomain

#: a field given to a space: a constant, dof values, or a callable ``fn(x)`` of points ``x`` of
#: shape (dim, n) (dolfinx's convention) returning n values
FieldLike: TypeAlias = ArrayLike | Callable[[np.ndarray], ArrayLike]


class LagrangeSpace:
    """A continuous Lagrange (P1 or P2) space on a :class:`Domain`.

    Attributes
    ----------
    degree : int
    cell_dofs : ndarray, shape (num_cells, dofs_per_cell)
        Global dof indices of each cell, in the reference element's order.
    coordinates : ndarray, shape (num_dofs, dim)
    boundary_dofs : ndarray
        Sorted indices of the dofs on the boundary ∂O.
    function_space : dolfinx.fem.FunctionSpace
    """

    def __init__(self, domain: Domain, degree: int) -> None:
        if degree not in (1, 2):
            raise InvalidArgumentError(f"degree must be 1 or 2, got {degree!r}")
        self.domain = domain
        self.degree = degree
        self.function_space = _dolfinx.lagrange_space(domain.mesh, degree)
        self.cell_dofs, self.coordinates, self.boundary_dofs = _dolfinx.space_arrays(
            self.function_space)
        self.element = _dolfinx.reference_element(self.function_space)

    @property
    def num_dofs(self) -> int:
        return self.coordinates.shape[0]

    @cached_property
    def interior_dofs(self) -> np.ndarray:
        mask = np.ones(self.num_dofs, dtype=bool)
        mask[self.boundary_dofs] = False
        return np.flatnonzero(mask)

    @cached_property
    def pattern(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR sparsity pattern (indptr, indices) of operators on this space."""
        return sparsity_pattern(self.cell_dofs, self.num_dofs)

    def _bilinear(self, kind: FormKind) -> sp.csr_matrix:
        indptr, indices = self.pattern
        tensor = assemble_coefficient_tensor(self.domain, self, self.domain.space(1), kind)
        data = tensor @ np.ones(tensor.shape[1])
        return sp.csr_matrix((data, indices, indptr), shape=(self.num_dofs, self.num_dofs))

    @cached_property
    def mass_matrix(self) -> sp.csr_matrix:
        """M_ij = ∫ φ_i φ_j (exact quadrature)."""
        return self._bilinear("mass")

    @cached_property
    def stiffness_matrix(self) -> sp.csr_matrix:
        """K_ij = ∫ ∇φ_i·∇φ_j (exact quadrature)."""
        return self._bilinear("stiffness")

    def interpolate(self, fn: FieldLike) -> np.ndarray:
        """Nodal interpolant of ``fn``: a constant, a callable ``fn(x)`` or an array of values."""
        return dof_values(fn, self.coordinates, f" for this P{self.degree} space")

    def evaluation_matrix(self, points: ArrayLike) -> sp.csr_matrix:
        """Sparse operator O with (O u)_i = u_h(x_i) for the FE function with dofs u.

        Raises InvalidArgumentError naming the points that lie outside the domain.
        """
        pts = self.domain.check_points(points, "points")
        cells, ref = self.domain.locate(pts)
        values = _dolfinx.tabulate(self.element, ref)[0]  # (npts, dofs_per_cell)
        rows = np.repeat(np.arange(pts.shape[0]), values.shape[1])
        cols = self.cell_dofs[cells].ravel()
        return sp.csr_matrix((values.ravel(), (rows, cols)), shape=(pts.shape[0], self.num_dofs))

    def l2_error(self, u: ArrayLike, exact: Callable[[np.ndarray], ArrayLike],
                 quadrature_degree: int | None = None) -> float:
        """‖u_h − u‖_{L²(O)} for dof values ``u`` and a callable ``exact(x)`` (x: (dim, n)).

        Uses Gauss quadrature of degree 2·degree + 3 on each cell (exact for the FE part).
        """
        qdeg = 2 * self.degree + 3 if quadrature_degree is None else quadrature_degree
        points, weights = _dolfinx.quadrature(self.domain.mesh, qdeg)
        phi = _dolfinx.tabulate(self.element, points)[0]                    # (nq, ndofs)
        uh = np.asarray(u, float)[self.cell_dofs] @ phi.T                   # (ncells, nq)
        x = (self.domain.cell_vertices[:, :1, :]
             + np.einsum("egt,qt->eqg", self.domain.jacobians, points))     # (ncells, nq, d)
        ue = np.asarray(exact(x.reshape(-1, self.domain.dim).T), float).reshape(uh.shape)
        err2 = ((uh - ue) ** 2 @ weights) @ self.domain.abs_det
        return float(np.sqrt(err2))

    def l2_inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """⟨u, v⟩_{L²(O)} of two FE functions given by dof values."""
        return float(u @ (self.mass_matrix @ v))


class Domain:
    """A bounded domain O ⊂ R^d meshed by affine simplices (a wrapped dolfinx mesh).

    Parameters
    ----------
    mesh : dolfinx.mesh.Mesh
        A serial mesh (``MPI.COMM_SELF``) of straight-sided triangles (or tetrahedra).
    name : str, optional
        Shown in reprs and figure titles.
    """

    def __init__(self, mesh: Mesh, name: str = "domain") -> None:
        _dolfinx.check_affine_simplex_mesh(mesh)
        _dolfinx.check_serial_mesh(
            mesh, "Domain (the fast affine maps SchrodingerMap/DarcyMap and the priors on it)")
        self.mesh = mesh
        self.name = name
        self.dim = mesh.geometry.dim
        self.cell_vertices = _dolfinx.cell_vertex_coordinates(mesh)
        # Affine map x = x0 + J X from the reference cell.
        self.jacobians = np.transpose(
            self.cell_vertices[:, 1:, :] - self.cell_vertices[:, :1, :], (0, 2, 1))
        self.abs_det = np.abs(np.linalg.det(self.jacobians))
        self._spaces: dict[int, LagrangeSpace] = {}
        # per-mesh cache of expensive derived objects (eigenpairs, ...)
        self.cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (f"Domain({self.name!r}, cells={self.num_cells}, "
                f"vertices={self.space(1).num_dofs}, h={self.mesh_size:.3g})")

    @property
    def num_cells(self) -> int:
        return self.cell_vertices.shape[0]

    @cached_property
    def measure(self) -> float:
        """|O|: the area (volume) of the meshed domain."""
        return float(self.abs_det.sum() / np.prod(np.arange(1, self.dim + 1)))

    @cached_property
    def mesh_size(self) -> float:
        """The largest cell diameter h."""
        v = self.cell_vertices
        diffs = v[:, :, None, :] - v[:, None, :, :]
        return float(np.sqrt((diffs**2).sum(-1)).max())

    @cached_property
    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        x = self.cell_vertices.reshape(-1, self.dim)
        return x.min(axis=0), x.max(axis=0)

    def space(self, degree: int = 1) -> LagrangeSpace:
        """The (cached) continuous Lagrange space of the given degree."""
        if degree not in self._spaces:
            self._spaces[degree] = LagrangeSpace(self, degree)
        return self._spaces[degree]

    @property
    def parameter_space(self) -> LagrangeSpace:
        """The P1 space on which parameter fields θ live (nodal values at the vertices)."""
        return self.space(1)

    def check_points(self, points: ArrayLike, name: str = "points") -> np.ndarray:
        """``points`` as a float array of shape (n, dim), or a clear error."""
        pts = points_2d(name, points)
        if pts.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"{name} must have shape (n, {self.dim}) on this {self.dim}-d domain, "
                f"got {pts.shape}")
        return pts

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Containing cell and reference coordinates of each point (error if outside)."""
        cells = _dolfinx.locate_cells(self.mesh, points)
        outside = np.flatnonzero(cells < 0)
        if outside.size:
            shown = np.array2string(points[outside[:3]], precision=4, separator=", ")
            raise InvalidArgumentError(
                f"{outside.size} design point(s) lie outside the domain {self.name!r} "
                f"(indices {outside[:5].tolist()}, e.g. {shown}); points must lie in the "
                f"meshed domain")
        x0 = self.cell_vertices[cells, 0, :]
        ref = np.linalg.solve(self.jacobians[cells], (points - x0)[..., None])[..., 0]
        return cells, np.clip(ref, 0.0, 1.0)

    def contains(self, points: ArrayLike) -> np.ndarray:
        """Boolean mask: which points lie in the meshed domain."""
        pts = self.check_points(points)
        return _dolfinx.locate_cells(self.mesh, pts) >= 0

    def uniform_points(self, n: int, seed: Seed = None) -> np.ndarray:
        """n points drawn uniformly on O (rejection from the bounding box), reproducibly."""
        return uniform_by_rejection(self.contains, self.bounding_box, n, seed)


def unit_square(n: int, diagonal: str = "right") -> Domain:
    """The unit square (0, 1)² with an n × n grid of squares, each cut into two triangles."""
    n = integer_at_least("n", n, 1)
    return Domain(_dolfinx.unit_square_mesh(n, diagonal), name=f"unit square {n}x{n}")


def ellipse(semi_axes: tuple[float, float] = (1.0, 0.5), rotation: float = 0.0,
            center: tuple[float, float] = (0.0, 0.0), mesh_size: float = 0.05) -> Domain:
    """An ellipse with semi-axes (a, b), rotated by ``rotation`` radians about its centre.

    Meshed with gmsh (``pip install gmsh``) through dolfinx's gmsh I/O; boundary vertices lie
    on the ellipse, so the meshed area is slightly below πab (by O(h²)).

    Parameters
    ----------
    semi_axes : (float, float)
        a, b > 0: the semi-axes along the (rotated) first and second coordinate directions.
    rotation : float
        Angle (radians, anticlockwise) of the first semi-axis from the x-axis.
    center : (float, float)
    mesh_size : float
        Target edge length h, 0 < h <= min(a, b).
    """
    axes = np.asarray(semi_axes, dtype=float)
    if axes.shape != (2,) or not np.isfinite(axes).all() or not (axes > 0).all():
        raise InvalidArgumentError(
            f"semi_axes must be two finite numbers > 0 (a degenerate ellipse cannot be "
            f"meshed), got {semi_axes!r}")
    rotation = float(rotation)
    if not np.isfinite(rotation):
        raise InvalidArgumentError(f"rotation must be a finite angle in radians, got {rotation}")
    centre = np.asarray(center, dtype=float)
    if centre.shape != (2,) or not np.isfinite(centre).all():
        raise InvalidArgumentError(f"center must be two finite numbers, got {center!r}")
    h = positive_float("mesh_size", mesh_size)
    if h > axes.min():
        raise InvalidArgumentError(
            f"mesh_size must be <= the smaller semi-axis {axes.min():g} to resolve the domain, "
            f"got {h:g}")
    mesh = _dolfinx.gmsh_ellipse_mesh((float(axes[0]), float(axes[1])), rotation,
                                      (float(centre[0]), float(centre[1])), h)
    kind = "disk" if axes[0] == axes[1] else "ellipse"
    return Domain(mesh, name=f"{kind} a={axes[0]:g}, b={axes[1]:g}, h={h:g}")


def disk(radius: float = 1.0, center: tuple[float, float] = (0.0, 0.0),
         mesh_size: float = 0.05) -> Domain:
    """The disk of the given radius (gmsh mesh, target edge length ``mesh_size``)."""
    r = positive_float("radius", radius)
    return ellipse((r, r), 0.0, center, mesh_size)


def unit_disk(mesh_size: float = 0.05) -> Domain:
    """The unit disk {|x| < 1} (gmsh mesh)."""
    return disk(1.0, (0.0, 0.0), mesh_size)


def disk_of_area(area: float = 1.0, mesh_size: float = 0.05) -> Domain:
    """The centred disk with the given area, radius √(area/π) (Giordano 2023 uses area 1)."""
    a = positive_float("area", area)
    return disk(float(np.sqrt(a / np.pi)), (0.0, 0.0), mesh_size)


def uniform_design(domain: Domain | MeshDomain, n: int, seed: Seed = None) -> np.ndarray:
    """Design points X_1..X_n drawn iid uniformly on the domain, shape (n, dim)."""
    return domain.uniform_points(n, seed)


def uniform_by_rejection(contains: Callable[[np.ndarray], np.ndarray],
                         bounding_box: tuple[ArrayLike, ArrayLike], n: int,
                         seed: Seed = None) -> np.ndarray:
    """n points uniform on {x : contains(x)}, by rejection from the box (lo, hi), reproducibly
    for a given seed."""
    n = integer_at_least("n", n, 1)
    rng = np.random.default_rng(seed)
    lo, hi = (np.asarray(b, dtype=float) for b in bounding_box)
    out = np.empty((0, lo.shape[0]))
    while out.shape[0] < n:
        cand = lo + (hi - lo) * rng.random((2 * (n - out.shape[0]) + 8, lo.shape[0]))
        out = np.vstack([out, cand[contains(cand)]])
    return out[:n]
