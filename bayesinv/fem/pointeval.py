r"""Point evaluation on any dolfinx mesh: the sparse matrix O with (O u)_i = u_h(x_i).

For each point x the owning cell c is found with dolfinx's bounding-box tree, the reference
coordinates X with F_c(X) = x are computed by Newton's method on the coordinate map
F_c(X) = Σ_a φ_a(X) x_a (exact in one step for affine simplices; a few steps for bilinear
quadrilaterals or trilinear hexahedra), and the row of O holds the basis functions of the
space at X on the cell's dofs. Works for triangles, quadrilaterals, tetrahedra and hexahedra and
for any scalar Lagrange/DG space without dof transformations (degree <= 2 Lagrange, DG0).

Points outside the mesh raise :class:`~bayesinv.errors.InvalidArgumentError` naming them.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import points_2d
from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from basix.finite_element import FiniteElement
    from dolfinx.fem import FunctionSpace
    from dolfinx.mesh import Mesh


def _basix() -> ModuleType:
    import basix

    return basix


def coordinate_element(mesh: Mesh) -> FiniteElement:
    """The basix Lagrange element of the mesh geometry (same node order as the geometry)."""
    basix = _basix()
    cell = getattr(basix.CellType, _compat.mesh_cell_type_name(mesh))
    degree = _compat.coordinate_element_degree(mesh)
    return basix.create_element(basix.ElementFamily.P, cell, degree,
                                basix.LagrangeVariant.equispaced)


def space_element(V: FunctionSpace) -> FiniteElement:
    """The basix element of a scalar function space ``V`` (dof order of the dofmap)."""
    basix_element = _compat.basix_element(V)
    if getattr(V.element, "needs_dof_transformations", False):
        raise InvalidArgumentError(
            "point evaluation needs a space without dof transformations (Lagrange degree <= 2 "
            "or DG0)")
    return basix_element


def check_points(mesh: Mesh, points: ArrayLike, name: str = "points") -> np.ndarray:
    """Points as an (n, gdim) array for this mesh."""
    pts = points_2d(name, points)
    gdim = mesh.geometry.dim
    if pts.shape[1] != gdim:
        raise InvalidArgumentError(
            f"{name} must have shape (n, {gdim}) on this {gdim}-d mesh, got {pts.shape}")
    return pts


def locate(mesh: Mesh, points: ArrayLike, name: str = "points"
           ) -> tuple[np.ndarray, np.ndarray]:
    """Owning cell of each point (error naming the points outside the mesh)."""
    pts = check_points(mesh, points, name)
    padded = np.zeros((pts.shape[0], 3))
    padded[:, :pts.shape[1]] = pts
    tree = _compat.bounding_box_tree(mesh, mesh.topology.dim)
    cells = _compat.colliding_cells(mesh, tree, padded)
    outside = np.flatnonzero(cells < 0)
    if outside.size:
        shown = np.array2string(pts[outside[:3]], precision=4, separator=", ")
        raise InvalidArgumentError(
            f"{outside.size} of the {name} lie outside the mesh (indices "
            f"{outside[:5].tolist()}, e.g. {shown}); points must lie in the meshed domain")
    return pts, cells


def reference_coordinates(mesh: Mesh, points: np.ndarray, cells: np.ndarray,
                          max_iterations: int = 30) -> np.ndarray:
    """X with F_c(X) = x for each point x in cell c (Newton on the coordinate map)."""
    element = coordinate_element(mesh)
    tdim, gdim = mesh.topology.dim, mesh.geometry.dim
    if tdim != gdim:
        raise InvalidArgumentError(
            f"point evaluation needs a mesh whose geometric dimension equals its topological "
            f"dimension, got gdim={gdim}, tdim={tdim} (read 2-d meshes with gdim=2)")
    nodes = mesh.geometry.x[_compat.geometry_dofs(mesh)[cells]][:, :, :gdim]  # (n, a, g)
    ref = np.asarray(element.points)
    X = np.repeat(ref.mean(axis=0, keepdims=True), points.shape[0], axis=0)
    for _ in range(max_iterations):
        tab = _compat.tabulate(element, X, 1)                                  # (1+t, n, a)
        x = np.einsum("na,nag->ng", tab[0], nodes)
        jac = np.einsum("tna,nag->ngt", tab[1:], nodes)                     # (n, g, t)
        dX = np.linalg.solve(jac, (points - x)[..., None])[..., 0]
        X = X + dX
        if np.abs(dX).max() < 1e-14:
            break
    return X


def evaluation_matrix(V: FunctionSpace, points: ArrayLike, name: str = "points"
                      ) -> sp.csr_matrix:
    """Sparse O of shape (num_points, num_dofs) with (O u)_i = u_h(x_i) on the space ``V``."""
    mesh = V.mesh
    pts, cells = locate(mesh, points, name)
    dofs = _compat.cell_dofs(V)
    ndofs = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
    if dofs.shape[1] == 1:  # piecewise constants: the cell value
        values = np.ones((pts.shape[0], 1))
    else:
        X = reference_coordinates(mesh, pts, cells)
        values = _compat.tabulate(space_element(V), X)[0]
    rows = np.repeat(np.arange(pts.shape[0]), values.shape[1])
    return sp.csr_matrix((values.ravel(), (rows, dofs[cells].ravel())),
                         shape=(pts.shape[0], ndofs))


def transfer_matrix(source: FunctionSpace, target: FunctionSpace) -> sp.csr_matrix:
    """E with (E θ) = the dof values on ``target`` of the function with dofs θ on ``source``
    (two dolfinx spaces, possibly on different meshes): ``source`` evaluated at the dof
    coordinates of ``target`` (the nodal interpolant for Lagrange targets, cell-midpoint values
    for DG0 targets). ``fem.ParameterBasis(transfer_matrix(coarse, fine), fine)`` puts θ on a
    coarse parameter mesh. Target dofs outside the source mesh raise an error."""
    gdim = target.mesh.geometry.dim
    points = target.tabulate_dof_coordinates()[:, :gdim]
    return evaluation_matrix(source, points, "target dof coordinates")
