"""The rank-count-independent numbering of a distributed P1 space (the mesh's input node
indices) and the exact all-reduce of arrays with one contribution per entry, for
:class:`~bayesinv.fem.DistributedVariationalMap` (see :mod:`bayesinv.fem.distributed`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from dolfinx.fem import FunctionSpace
    from mpi4py.MPI import Comm


def allreduce_exact(comm: Comm, local: np.ndarray) -> np.ndarray:
    """Σ over ranks of ``local`` for arrays in which each entry is non-zero on at most one rank:
    the sum is exact, hence the same bits on every rank."""
    out = np.zeros_like(local)
    comm.Allreduce(np.ascontiguousarray(local), out)
    return out


class InputOrdering:
    """The rank-count-independent numbering of the P1 dofs: the mesh's input node indices.

    Attributes
    ----------
    local_to_global : ndarray (num_local,)
        Input index of each local dof (owned first, then ghosts) of the P1 space.
    num_owned : int
    size : int
        Number of P1 dofs (mesh nodes) in all.
    coordinates : ndarray (size, gdim)
        Node coordinates in input order, the same on every rank.
    """

    def __init__(self, Q: FunctionSpace) -> None:
        mesh = Q.mesh
        comm = mesh.comm
        if _compat.coordinate_element_degree(mesh) != 1:
            raise InvalidArgumentError(
                "DistributedVariationalMap needs a mesh with straight-sided cells (geometry "
                "degree 1): θ are the P1 values at the mesh nodes")
        imap = Q.dofmap.index_map
        self.num_owned = imap.size_local
        num_local = imap.size_local + imap.num_ghosts
        node = np.full(num_local, -1, dtype=np.int64)
        # P1 dofs and degree-1 geometry nodes share the reference-vertex order in every cell
        node[_compat.all_cell_dofs(Q).ravel()] = _compat.all_geometry_dofs(mesh).ravel()
        if (node < 0).any():
            raise InvalidArgumentError("a P1 dof belongs to no local cell (unexpected mesh)")
        self.local_to_global = _compat.input_global_indices(mesh)[node]
        gdim = mesh.geometry.dim
        owned = self.local_to_global[: self.num_owned]
        parts = comm.allgather((owned, mesh.geometry.x[node[: self.num_owned], :gdim]))
        index = np.concatenate([p[0] for p in parts])
        self.size = int(index.size)
        if not np.array_equal(np.sort(index), np.arange(self.size)):
            raise InvalidArgumentError(
                "the mesh's input node indices are not 0..n−1 with one owner each; build the "
                "mesh with dolfinx.mesh.create_* or read it from a file")
        self.coordinates = np.empty((self.size, gdim))
        self.coordinates[index] = np.concatenate([p[1] for p in parts])
        self.comm = comm

    def local(self, theta: np.ndarray) -> np.ndarray:
        """The values of global θ at the local (owned and ghost) dofs."""
        return theta[self.local_to_global]

    def gather(self, owned_values: np.ndarray) -> np.ndarray:
        """The global vector (input order) from each rank's owned-dof values, on every rank."""
        out = np.zeros(self.size)
        out[self.local_to_global[: self.num_owned]] = owned_values
        return allreduce_exact(self.comm, out)
