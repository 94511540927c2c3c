r"""Transfer of FE functions between meshes: the interpolation matrix P with (P u)_i = u_h(x_i).

Used to put a prior on a coarse parameter mesh and interpolate θ to the state mesh
(:class:`~bayesinv.priors.interpolated.InterpolatedPrior`). On curved domains (e.g. a disk),
boundary vertices of a fine mesh lie outside the coarse polygon by O(h²); with
``outside="project"`` such points take the value at the closest point of the coarse boundary
(exact for P1 along the boundary edge in 2-d; the nearest boundary vertex in other
dimensions), provided they are within ``tolerance`` of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import one_of, positive_float
from ..errors import InvalidArgumentError
from .boundary import exterior_facets

if TYPE_CHECKING:
    from .domain import LagrangeSpace


def _closest_on_boundary(space: LagrangeSpace, points: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (indices, weights) of the closest point on the boundary of a P1 mesh, and the
    distance to it."""
    facets = exterior_facets(space)
    xy = space.coordinates
    if space.domain.dim == 2:
        a, b = xy[facets[:, 0]], xy[facets[:, 1]]                   # (nf, 2)
        ab = b - a
        ap = points[:, None, :] - a[None]                           # (np, nf, 2)
        t = np.clip((ap * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0.0, 1.0)
        closest = a[None] + t[..., None] * ab[None]
        dist = np.linalg.norm(points[:, None, :] - closest, axis=-1)
        k = np.argmin(dist, axis=1)
        rows = np.arange(points.shape[0])
        idx = facets[k]                                              # (np, 2)
        w = np.column_stack([1.0 - t[rows, k], t[rows, k]])
        return idx, w, dist[rows, k]
    verts = np.unique(facets)
    dist = np.linalg.norm(points[:, None, :] - xy[verts][None], axis=-1)
    k = np.argmin(dist, axis=1)
    return verts[k][:, None], np.ones((points.shape[0], 1)), dist[np.arange(points.shape[0]), k]


def interpolation_matrix(space: LagrangeSpace, points: ArrayLike, *,
                         outside: str = "project",
                         tolerance: float | None = None) -> sp.csr_matrix:
    """Sparse P of shape (num_points, space.num_dofs) with (P u)_i = u_h(x_i).

    Parameters
    ----------
    space : LagrangeSpace
        The space the functions live on (P1 for ``outside="project"``).
    points : array_like, shape (n, dim)
    outside : {"project", "error"}
        What to do with points outside the mesh (see module docstring).
    tolerance : float, optional
        Largest distance from the mesh allowed for projected points; default the mesh size h.
    """
    outside = one_of("outside", outside, ("project", "error"))
    pts = space.domain.check_points(points, "points")
    inside = space.domain.contains(pts)
    if outside == "error" or inside.all():
        return space.evaluation_matrix(pts)
    if space.degree != 1:
        raise InvalidArgumentError(
            f"outside='project' needs a P1 space, got P{space.degree}; use outside='error'")
    tol = space.domain.mesh_size if tolerance is None else positive_float("tolerance", tolerance)
    out = np.flatnonzero(~inside)
    idx, w, dist = _closest_on_boundary(space, pts[out])
    if dist.max() > tol:
        bad = out[dist > tol]
        raise InvalidArgumentError(
            f"{bad.size} point(s) lie farther than tolerance={tol:.3g} outside the mesh "
            f"(indices {bad[:5].tolist()}, largest distance {dist.max():.3g})")
    P_in = space.evaluation_matrix(pts[inside]).tocoo()
    rows = np.concatenate([np.flatnonzero(inside)[P_in.row], np.repeat(out, idx.shape[1])])
    cols = np.concatenate([P_in.col, idx.ravel()])
    vals = np.concatenate([P_in.data, w.ravel()])
    return sp.csr_matrix((vals, (rows, cols)), shape=(pts.shape[0], space.num_dofs))
