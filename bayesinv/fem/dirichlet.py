"""Dirichlet conditions of the variational forward maps, on tagged or marked boundary parts.

``DirichletBC(value, where)`` sets u = value on the dofs of the boundary part ``where``:

* ``where="boundary"``: the whole boundary ∂O (all exterior facets);
* an int tag, or a sequence of tags, of the mesh's facet tags (e.g. a gmsh physical group read
  by :func:`bayesinv.fem.read_mesh`);
* a callable marker ``where(x) -> bool array`` (x of shape (3, n)) selecting boundary facets.

``value`` is a constant, a callable g(x) (x of shape (3, n)), a dolfinx Function on the state
space, dof values, or the name of a coefficient of the map (so that experiments can change it).
Neumann and Robin conditions need no object: they are terms of the residual (``... * ds(tag)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from dolfinx.fem import Function, FunctionSpace
    from dolfinx.mesh import MeshTags

    from .domain import FieldLike

#: a boundary value: a constant, a callable g(x), dof values, a dolfinx Function on the state
#: space, or the name of a coefficient of the map
Value: TypeAlias = "FieldLike | Function | str"
#: a boundary part: "boundary", a facet tag, a sequence of tags, or a marker ``where(x)``
Where: TypeAlias = "str | int | Sequence[int] | Callable[[np.ndarray], np.ndarray]"


@dataclass(frozen=True)
class DirichletBC:
    """u = ``value`` on the boundary part ``where`` (see the module docstring)."""

    value: Value = 0.0
    where: Where = "boundary"


def boundary_dofs(V: FunctionSpace, bc: DirichletBC, facet_tags: MeshTags | None) -> np.ndarray:
    """Sorted state-space dofs of ``bc``'s boundary part."""
    import dolfinx.mesh

    mesh = V.mesh
    tdim = mesh.topology.dim
    where = bc.where
    if isinstance(where, str):
        if where != "boundary":
            raise InvalidArgumentError(
                f"DirichletBC.where must be 'boundary', a facet tag (int), a sequence of tags "
                f"or a marker callable, got {where!r}")
        dofs = _compat.locate_boundary_dofs(V, None, None)
    elif callable(where):
        mesh.topology.create_connectivity(tdim - 1, tdim)
        facets = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, where)
        if facets.size == 0:
            raise InvalidArgumentError(
                "the DirichletBC marker selects no boundary facet; check where(x) (x has shape "
                "(3, n))")
        import dolfinx.fem

        dofs = dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets)
    else:
        tags: list[Any] = np.ravel(where).tolist()  # one tag or several, as Python scalars
        if facet_tags is None:
            raise InvalidArgumentError(
                f"DirichletBC.where={where!r} names facet tags but the mesh has none; read the "
                f"mesh with bayesinv.fem.read_mesh (gmsh physical groups) or pass facet_tags=")
        present = sorted(int(t) for t in np.unique(facet_tags.values))
        parts = []
        for tag in tags:
            if int(tag) not in present:
                raise InvalidArgumentError(
                    f"DirichletBC.where: facet tag {tag!r} does not occur in the mesh's facet "
                    f"tags; tags present: {present}")
            parts.append(_compat.locate_boundary_dofs(V, facet_tags, int(tag)))
        dofs = np.concatenate(parts)
    return np.unique(np.asarray(dofs, dtype=np.int64))
