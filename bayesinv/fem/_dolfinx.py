"""The FEniCSx calls of :mod:`bayesinv.fem` (dolfinx, basix, ufl, petsc4py, mpi4py).

Supported: dolfinx 0.5 (Debian 12's ``python3-dolfinx`` 0.5.2) through 0.10 (Debian 13's
0.9, conda-forge). Everything that differs between those versions goes through
:mod:`bayesinv.fem._compat` (feature detection); this module holds the package's own helpers
on top of it, and everything else in :mod:`bayesinv.fem` works on the NumPy/SciPy arrays
returned here.

PETSc (``petsc4py``, which dolfinx needs anyway) is re-exported as ``_dolfinx.PETSc`` for the
PETSc linear solvers of :mod:`bayesinv.fem.solvers`; gmsh (optional, from PyPI) is imported
here lazily, only when a disk or ellipse is meshed.

Meshes are created on ``MPI.COMM_SELF``: one MCMC chain or replicate per process, each with
its own serial mesh. Parallelism in bayesinv is across chains and replicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from . import _compat
from ._compat import COMM, INSTALL_HINT, MPI, PETSc, basix, dolfinx, ufl  # noqa: F401
from ._compat_io import gmsh_model

if TYPE_CHECKING:
    from basix.finite_element import FiniteElement
    from dolfinx.fem import FunctionSpace
    from dolfinx.mesh import Mesh

#: The dolfinx version string (e.g. "0.5.2"); ``_compat.DOLFINX_VERSION`` is the tuple.
DOLFINX_VERSION = dolfinx.__version__


# --- meshes -------------------------------------------------------------------------------

def unit_square_mesh(n: int, diagonal: str = "right") -> Mesh:
    """The unit square (0, 1)² split into 2n² triangles."""
    diag = {"right": dolfinx.mesh.DiagonalType.right, "left": dolfinx.mesh.DiagonalType.left,
            "crossed": dolfinx.mesh.DiagonalType.crossed}
    if diagonal not in diag:
        raise InvalidArgumentError(f"diagonal must be one of {sorted(diag)}, got {diagonal!r}")
    return dolfinx.mesh.create_unit_square(COMM, n, n, dolfinx.mesh.CellType.triangle,
                                           diagonal=diag[diagonal])


def gmsh_ellipse_mesh(semi_axes: tuple[float, float], rotation: float,
                      center: tuple[float, float], mesh_size: float) -> Mesh:
    """A triangle mesh of the ellipse {x: ((R⁻¹(x − c))_1/a)² + ((R⁻¹(x − c))_2/b)² < 1}.

    Meshed by gmsh (OpenCASCADE disk, uniform target size ``mesh_size``, one thread, so the
    mesh is reproducible) and converted with ``_compat.model_to_mesh``. A gmsh
    session opened by the caller is left open (only our model is removed).
    """
    with gmsh_model("meshing disks and ellipses", "ellipse") as gmsh:
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        a, b = semi_axes
        (rx, ry), extra = ((a, b), 0.0) if a >= b else ((b, a), np.pi / 2)  # OCC needs rx >= ry
        cx, cy = center
        tag = gmsh.model.occ.addDisk(cx, cy, 0.0, rx, ry)
        if rotation + extra != 0.0:
            gmsh.model.occ.rotate([(2, tag)], cx, cy, 0.0, 0.0, 0.0, 1.0, rotation + extra)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [tag], 1)
        gmsh.option.setNumber("Mesh.MeshSizeMin", mesh_size)
        gmsh.option.setNumber("Mesh.MeshSizeMax", mesh_size)
        gmsh.model.mesh.generate(2)
        mesh, _, _ = _compat.model_to_mesh(gmsh.model, COMM, 0, gdim=2)
    return mesh


def check_serial_mesh(mesh: Mesh, what: str) -> None:
    """Refuse a mesh distributed over more than one MPI rank for a serial-only feature."""
    comm = getattr(mesh, "comm", None)
    if comm is not None and comm.size != 1:
        raise InvalidArgumentError(
            f"{what} is serial but the mesh is distributed over {comm.size} ranks (MPI): create "
            f"the mesh on MPI.COMM_SELF, or use bayesinv.fem.DistributedVariationalMap for one "
            f"PDE on many ranks")


def check_affine_simplex_mesh(mesh: Mesh) -> None:
    """Require a mesh of straight-sided simplices (the element tensors assume affine cells)."""
    if not hasattr(mesh, "geometry") or not hasattr(mesh, "topology"):
        raise InvalidArgumentError(f"mesh must be a dolfinx Mesh, got {type(mesh).__name__}")
    degree = _compat.coordinate_element_degree(mesh)
    cell = mesh.topology.cell_type
    if degree != 1 or cell not in (dolfinx.mesh.CellType.interval, dolfinx.mesh.CellType.triangle,
                                   dolfinx.mesh.CellType.tetrahedron):
        raise InvalidArgumentError(
            f"mesh must consist of affine simplices (degree-1 geometry); got cell type {cell} "
            f"with geometry degree {degree}")


def cell_vertex_coordinates(mesh: Mesh) -> np.ndarray:
    """Vertex coordinates of every cell, shape (num_cells, tdim + 1, gdim), reference order."""
    gdim = mesh.geometry.dim
    nodes = _compat.geometry_dofs(mesh)
    return np.ascontiguousarray(mesh.geometry.x[nodes][:, :, :gdim], dtype=np.float64)


# --- function spaces ------------------------------------------------------------------------

def lagrange_space(mesh: Mesh, degree: int) -> FunctionSpace:
    """A continuous Lagrange space of the given degree."""
    return _compat.function_space(mesh, "Lagrange", degree)


def space_arrays(V: FunctionSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-to-dof map (num_cells, dofs_per_cell), dof coordinates and boundary dofs of ``V``."""
    gdim = V.mesh.geometry.dim
    cell_dofs = _compat.cell_dofs(V).astype(np.int64)
    coords = np.array(V.tabulate_dof_coordinates()[:, :gdim], dtype=np.float64)
    boundary = _compat.locate_boundary_dofs(V, None, None).astype(np.int64)
    if V.element.needs_dof_transformations:
        raise InvalidArgumentError("Lagrange degree > 2 needs dof transformations; use 1 or 2")
    return cell_dofs, coords, boundary


def reference_element(V: FunctionSpace) -> FiniteElement:
    """The basix element of ``V`` (same dof order as the dofmap)."""
    return _compat.basix_element(V)


def tabulate(element: FiniteElement, points: ArrayLike, derivatives: int = 0) -> np.ndarray:
    """Basis values (and gradients) at reference points: shape (1 + tdim*deriv, npts, ndofs)."""
    return _compat.tabulate(element, points, derivatives)


def quadrature(mesh: Mesh, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Jacobi quadrature on the reference cell: points (nq, tdim), weights (nq,)."""
    cell = {1: "interval", 2: "triangle", 3: "tetrahedron"}[mesh.topology.dim]
    return _compat.quadrature(cell, degree)


# --- points ---------------------------------------------------------------------------------

def locate_cells(mesh: Mesh, points: ArrayLike) -> np.ndarray:
    """Index of a cell containing each point, or -1 for points outside the mesh."""
    tree = _compat.bounding_box_tree(mesh, mesh.topology.dim)
    return _compat.colliding_cells(mesh, tree, points)
