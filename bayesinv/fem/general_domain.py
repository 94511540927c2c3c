"""A domain on any dolfinx mesh (quadrilaterals, hexahedra, meshes read from files) for the
priors and designs.

:class:`~bayesinv.fem.Domain` snapshots meshes of affine simplices for the fast affine maps.
:class:`MeshDomain` offers what the priors and designs use of a domain — ``dim``, ``measure``,
``parameter_space`` (the P1/Q1 dofs with UFL-assembled mass and stiffness matrices, boundary
and interior dofs, interpolation), ``cache``, ``uniform_points``/``contains`` — on any cell type,
so that ``SeriesPrior.dirichlet_laplacian``, ``WhittleMaternPrior.from_domain``-style
constructors and ``uniform_design`` work there; pass it (or its ``mesh``) as the mesh of a
:class:`~bayesinv.fem.VariationalForwardMap`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import ufl
from numpy.typing import ArrayLike

from . import _compat
from .domain import uniform_by_rejection
from .pointeval import check_points

if TYPE_CHECKING:
    from dolfinx.mesh import Mesh

    from ..protocols import Seed
    from .meshes import MeshData


class MeshDomain:
    """Priors' and designs' view of a dolfinx mesh (see the module docstring).

    Parameters
    ----------
    mesh : dolfinx Mesh or MeshData (from :func:`bayesinv.fem.read_mesh`)
    name : str
    """

    def __init__(self, mesh: Mesh | MeshData, name: str = "mesh") -> None:
        from .variational_spaces import DofSpace, _check_serial

        self.facet_tags = getattr(mesh, "facet_tags", None)
        self.cell_tags = getattr(mesh, "cell_tags", None)
        if hasattr(mesh, "facet_tags"):  # a MeshData
            self.mesh = mesh.mesh
        else:
            self.mesh = mesh
        _check_serial(self.mesh)
        self.name = name
        self.dim = self.mesh.geometry.dim
        self.cache: dict[str, Any] = {}
        self.parameter_space = DofSpace(_compat.function_space(self.mesh, "Lagrange", 1))

    def __repr__(self) -> str:
        return (f"MeshDomain({self.name!r}, {_compat.mesh_cell_type_name(self.mesh)}, "
                f"vertices={self.parameter_space.num_dofs})")

    @cached_property
    def measure(self) -> float:
        """|O|, the area (volume) of the mesh."""
        V = self.parameter_space.function_space
        v = ufl.TestFunction(V)
        return float(_compat.assemble_vector_array(_compat.form(v * ufl.dx)).sum())

    @cached_property
    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        x = self.mesh.geometry.x[:, :self.dim]
        return x.min(axis=0), x.max(axis=0)

    def check_points(self, points: ArrayLike, name: str = "points") -> np.ndarray:
        """``points`` as a float array of shape (n, dim), or a clear error."""
        return check_points(self.mesh, points, name)

    def contains(self, points: ArrayLike) -> np.ndarray:
        """Boolean mask: which points lie in the mesh."""
        pts = self.check_points(points)
        padded = np.zeros((pts.shape[0], 3))
        padded[:, :self.dim] = pts
        tree = _compat.bounding_box_tree(self.mesh, self.mesh.topology.dim)
        return _compat.colliding_cells(self.mesh, tree, padded) >= 0

    def uniform_points(self, n: int, seed: Seed = None) -> np.ndarray:
        """n points drawn uniformly on the mesh (rejection from the bounding box)."""
        return uniform_by_rejection(self.contains, self.bounding_box, n, seed)
