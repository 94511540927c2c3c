r"""The boundary of a P1 mesh as arrays: exterior facets and the boundary mass matrix.

An exterior facet is a facet (edge in 2-d, triangle in 3-d, point in 1-d) that belongs to
exactly one cell, found from the cell-to-vertex map alone (no dolfinx call). The boundary mass
matrix is

.. math:: (M_∂)_{ij} = ∫_{∂O} φ_i φ_j \, ds,

assembled exactly from the P1 facet mass |F| (1 + δ_ij) / ((k+1)(k+2)) on each k-simplex F.
It is what a Robin condition ∂_n u + b u = 0 adds to a weak form (b ∫_{∂O} u v ds).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from .domain import LagrangeSpace


def exterior_facets(space: LagrangeSpace) -> np.ndarray:
    """Vertex dofs of the exterior facets of a P1 space, shape (num_facets, tdim)."""
    if space.degree != 1:
        raise InvalidArgumentError(f"exterior_facets needs a P1 space, got P{space.degree}")
    cells = np.sort(space.cell_dofs, axis=1)
    nv = cells.shape[1]
    facets = np.concatenate([cells[:, list(c)] for c in combinations(range(nv), nv - 1)])
    unique, counts = np.unique(facets, axis=0, return_counts=True)
    return unique[counts == 1]


def _simplex_measure(vertices: np.ndarray) -> np.ndarray:
    """k-dimensional measure of simplices given as (num, k+1, gdim) vertex arrays."""
    k = vertices.shape[1] - 1
    if k == 0:
        return np.ones(vertices.shape[0])
    edges = vertices[:, 1:, :] - vertices[:, :1, :]                    # (num, k, gdim)
    gram = np.einsum("nig,njg->nij", edges, edges)
    return np.sqrt(np.abs(np.linalg.det(gram))) / math.factorial(k)


def boundary_mass_matrix(space: LagrangeSpace) -> sp.csr_matrix:
    """M_∂ with (M_∂)_{ij} = ∫_{∂O} φ_i φ_j ds for a P1 space (cached on ``domain.cache``)."""
    cache = space.domain.cache
    if "boundary_mass_matrix" not in cache:
        facets = exterior_facets(space)
        k = facets.shape[1] - 1
        area = _simplex_measure(space.coordinates[facets])
        local = (np.ones((k + 1, k + 1)) + np.eye(k + 1)) / ((k + 1) * (k + 2))
        rows = np.repeat(facets, k + 1, axis=1).ravel()
        cols = np.tile(facets, (1, k + 1)).ravel()
        vals = (area[:, None, None] * local[None]).ravel()
        n = space.num_dofs
        cache["boundary_mass_matrix"] = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    return cache["boundary_mass_matrix"]
