"""Meshes from files: ``read_mesh(path)`` for gmsh ``.msh`` and XDMF, with cell and facet tags.

The geometric dimension is taken from the geometry itself: a planar gmsh mesh (all z = 0) comes
out with gdim 2 (dolfinx's gmsh reader defaults to 3, which breaks every 2-d computation), an
XDMF mesh with the dimension its geometry is stored in. Meshes are serial (``MPI.COMM_SELF``).
Physical groups of a gmsh file become the tags (cells: the highest-dimensional groups, facets:
those one dimension lower), usable as ``DirichletBC(where=tag)`` and ``ds(tag)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from dolfinx.mesh import Mesh, MeshTags


class MeshData(NamedTuple):
    """A mesh with its tags (either may be None)."""

    mesh: Mesh
    cell_tags: MeshTags | None
    facet_tags: MeshTags | None


def _gmsh_gdim(path: Path) -> int:
    from ._compat_io import gmsh_model

    with gmsh_model("reading .msh files", "read_mesh_dimension") as gmsh:
        gmsh.merge(str(path))
        dim = gmsh.model.getDimension()
        _, coords, _ = gmsh.model.mesh.getNodes()
        z = np.asarray(coords).reshape(-1, 3)[:, 2]
    if dim < 1:
        raise InvalidArgumentError(f"the gmsh file {str(path)!r} holds no mesh")
    return 3 if (dim < 3 and np.abs(z).max(initial=0.0) > 0.0) else dim


def read_mesh(path: str | os.PathLike[str], *, mesh_name: str = "mesh",
              cell_tags: str | None = None, facet_tags: str | None = None) -> MeshData:
    """Read a mesh (and its tags) from a gmsh ``.msh`` or an XDMF ``.xdmf`` file.

    Parameters
    ----------
    path : str or Path
    mesh_name, cell_tags, facet_tags : str, optional
        XDMF only: the names of the mesh and of the tag sets in the file.

    Returns
    -------
    MeshData
        ``(mesh, cell_tags, facet_tags)``; pass it as the ``mesh`` of a
        :class:`~bayesinv.fem.VariationalForwardMap`.
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"mesh file {str(file)!r} does not exist")
    suffix = file.suffix.lower()
    if suffix == ".msh":
        mesh, ct, ft = _compat.read_gmsh(file, _compat.COMM, _gmsh_gdim(file))
    elif suffix in (".xdmf", ".xmf"):
        mesh, ct, ft = _compat.read_xdmf(file, _compat.COMM, mesh_name=mesh_name,
                                         cell_tags=cell_tags, facet_tags=facet_tags)
    else:
        raise InvalidArgumentError(
            f"read_mesh reads gmsh '.msh' and XDMF '.xdmf' files, got {str(file)!r}")
    return MeshData(mesh, ct, ft)
