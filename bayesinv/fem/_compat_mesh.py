"""Function spaces, dofmaps, geometry, reference elements and point location across dolfinx
0.5–0.10 (part of :mod:`bayesinv.fem._compat`; see its table of renames)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._compat_import import COMM, basix, dolfinx, quiet_jit, ufl

if TYPE_CHECKING:
    from basix.finite_element import FiniteElement
    from dolfinx.fem import FunctionSpace
    from dolfinx.mesh import Mesh

# --- function spaces ------------------------------------------------------------------------

def function_space(mesh: Mesh, family: str, degree: int, shape: tuple[int, ...] | None = None
                   ) -> FunctionSpace:
    """A finite-element space on ``mesh``: ``(family, degree)``, vector/tensor valued if ``shape``.

    ``shape=(gdim,)`` gives a vector space, ``shape=(d, d)`` a tensor space; None a scalar one.
    """
    fem = dolfinx.fem
    shape = None if shape is None else tuple(int(s) for s in shape)
    with quiet_jit():
        if hasattr(fem, "functionspace"):  # 0.7+
            element = (family, int(degree)) if shape is None else (family, int(degree), shape)
            return fem.functionspace(mesh, element)
        if shape is None:
            return fem.FunctionSpace(mesh, (family, int(degree)))
        if len(shape) == 1:
            return fem.VectorFunctionSpace(mesh, (family, int(degree)), dim=shape[0])
        return fem.TensorFunctionSpace(mesh, (family, int(degree)), shape=shape)


def element_family(V: FunctionSpace) -> tuple[str, int]:
    """("Lagrange" or "DG", degree) of a scalar Lagrange-family space ``V`` (from its basix
    element, the same on every version)."""
    element = basix_element(V)
    family = "DG" if getattr(element, "discontinuous", False) else "Lagrange"
    return family, int(element.degree)


def create_mesh(cells: ArrayLike, x: ArrayLike, cell_name: str) -> Mesh:
    """A serial affine mesh of ``cell_name`` cells from vertex coordinates ``x`` (n, gdim) and
    cells (num_cells, vertices_per_cell) indexing them (dolfinx may renumber both).

    0.7+ describes the coordinate element with ``basix.ufl``; 0.5/0.6 with a UFL
    ``VectorElement`` on a cell embedded in gdim dimensions.
    """
    coords = np.ascontiguousarray(x, dtype=np.float64)
    gdim = coords.shape[1]
    topology = np.ascontiguousarray(cells, dtype=np.int64)
    try:
        import basix.ufl

        element = basix.ufl.element("Lagrange", cell_name, 1, shape=(gdim,))
    except (ImportError, AttributeError):  # 0.5 / 0.6
        element = ufl.VectorElement("Lagrange", ufl.Cell(cell_name, geometric_dimension=gdim),
                                    1, dim=gdim)
    with quiet_jit():
        return dolfinx.mesh.create_mesh(COMM, topology, coords, ufl.Mesh(element))


def _local_cells(mesh: Mesh) -> int:
    return mesh.topology.index_map(mesh.topology.dim).size_local


def _rows(adjacency: Any, ncells: int) -> np.ndarray:
    """A 2-d int32 array from an AdjacencyList with constant row length (0.5/0.6) or a 2-d array."""
    if hasattr(adjacency, "offsets") and hasattr(adjacency, "array"):  # 0.5 / 0.6
        offsets = np.asarray(adjacency.offsets)
        width = int(offsets[1] - offsets[0]) if offsets.size > 1 else 0
        table: np.ndarray = (np.asarray(adjacency.array).reshape(-1, width) if width
                             else np.zeros((0, 0)))
    else:
        table = np.asarray(adjacency)
    return np.ascontiguousarray(table[:ncells], dtype=np.int32)


def all_cell_dofs(V: FunctionSpace) -> np.ndarray:
    """Cell-to-dof map of ``V`` over owned *and ghost* cells (distributed meshes), int32."""
    imap = V.mesh.topology.index_map(V.mesh.topology.dim)
    return _rows(V.dofmap.list, imap.size_local + imap.num_ghosts)


def all_geometry_dofs(mesh: Mesh) -> np.ndarray:
    """Cell-to-geometry-node map over owned and ghost cells, int32."""
    imap = mesh.topology.index_map(mesh.topology.dim)
    return _rows(mesh.geometry.dofmap, imap.size_local + imap.num_ghosts)


def input_global_indices(mesh: Mesh) -> np.ndarray:
    """For each local geometry node, its index in the mesh's input (serial) node list."""
    return np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)


def cell_dofs(V: FunctionSpace) -> np.ndarray:
    """Cell-to-dof map of ``V``, shape (num_local_cells, dofs_per_cell), int32 (block indices)."""
    return _rows(V.dofmap.list, _local_cells(V.mesh))


def geometry_dofs(mesh: Mesh) -> np.ndarray:
    """Cell-to-geometry-node map, shape (num_local_cells, nodes_per_cell), int32.

    Row ``c`` indexes ``mesh.geometry.x`` in the reference-cell order of the coordinate element.
    """
    return _rows(mesh.geometry.dofmap, _local_cells(mesh))


def coordinate_element_degree(mesh: Mesh) -> int:
    """Polynomial degree of the mesh's coordinate element (1 for straight-sided cells)."""
    geometry = mesh.geometry
    cmap = getattr(geometry, "cmap", None)
    if cmap is None:  # 0.7: a list, one per cell type
        cmap = geometry.cmaps[0]
    return int(cmap.degree)


def interpolation_points(V: FunctionSpace) -> np.ndarray:
    """Reference-cell interpolation points of ``V``'s element, shape (num_points, tdim)."""
    points = V.element.interpolation_points
    if callable(points):  # up to 0.9 a method, a property from 0.10
        points = points()
    return np.asarray(points)


def basix_element(V: FunctionSpace) -> FiniteElement:
    """The basix element of ``V`` (dof order as in the dofmap)."""
    return V.element.basix_element


def tabulate(element: FiniteElement, points: ArrayLike,
             derivatives: int = 0) -> np.ndarray:
    """Basis values (and derivatives) of a basix element at reference points.

    Returns shape (num_derivatives, num_points, num_dofs) for the first value component,
    where num_derivatives = binom(derivatives + tdim, tdim) in basix order (value, d/dx, ...).
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[:, None]
    table = np.asarray(element.tabulate(int(derivatives), pts))
    npts, tdim = pts.shape
    from math import comb

    nderiv = comb(int(derivatives) + tdim, tdim)
    return table.reshape(nderiv, npts, int(element.dim), -1)[..., 0]


def quadrature(cell_name: str, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """A quadrature rule on the reference cell ``cell_name``: points (nq, tdim), weights (nq,)."""
    cell = getattr(basix.CellType, cell_name)
    points, weights = basix.make_quadrature(cell, int(degree))
    return np.asarray(points), np.asarray(weights)


def mesh_cell_type_name(mesh: Mesh) -> str:
    """The cell type as a plain string: "interval", "triangle", "quadrilateral", "tetrahedron", …"""
    cell = mesh.topology.cell_type
    name = getattr(cell, "name", None)
    return str(name if name is not None else cell).split(".")[-1]


# --- points ---------------------------------------------------------------------------------

def bounding_box_tree(mesh: Mesh, dim: int) -> dolfinx.geometry.BoundingBoxTree:
    """A bounding-box tree of the entities of dimension ``dim`` of ``mesh``."""
    geometry = dolfinx.geometry
    if hasattr(geometry, "bb_tree"):  # 0.7+
        return geometry.bb_tree(mesh, int(dim))
    return geometry.BoundingBoxTree(mesh, int(dim))


def colliding_cells(mesh: Mesh, tree: dolfinx.geometry.BoundingBoxTree, points: ArrayLike,
                    owned: int | None = None) -> np.ndarray:
    """One cell containing each point (first found), -1 where no cell does.

    ``points`` has shape (n, 3) (or (n, gdim), padded with zeros); returns int64 of shape (n,).
    With ``owned`` (the number of cells this process owns) only cells with a local index below
    it count: on a distributed mesh the ghost cells are left to the rank that owns them.
    """
    given = np.asarray(points, dtype=np.float64)
    pts = np.zeros((given.shape[0], 3), dtype=mesh.geometry.x.dtype)
    pts[:, : given.shape[1]] = given
    geometry = dolfinx.geometry
    collide = getattr(geometry, "compute_collisions_points", None)
    if collide is None:  # 0.5 / 0.6
        collide = geometry.compute_collisions
    candidates = collide(tree, pts)
    colliding = geometry.compute_colliding_cells(mesh, candidates, pts)
    offsets, array = np.asarray(colliding.offsets), np.asarray(colliding.array)
    cells = np.full(given.shape[0], -1, dtype=np.int64)
    if owned is not None:  # the first colliding cell that this process owns
        pos = np.flatnonzero(array < owned)
        point = np.searchsorted(offsets, pos, side="right") - 1
        hit, first = np.unique(point, return_index=True)
        cells[hit] = array[pos[first]]
        return cells
    has = offsets[1:] > offsets[:-1]
    cells[has] = array[offsets[:-1][has]]
    return cells
