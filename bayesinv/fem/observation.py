r"""Observation operators and designs: what the forward maps observe of the PDE solution u.

Every observation is a sparse matrix O on the state space's dofs, y = O u:

* :class:`PointObservation` — point values y_i = u_h(X_i) at design points (error for points
  outside the domain). Designs: :func:`bayesinv.fem.uniform_design` (X_i iid uniform on O) and
  :func:`node_design` (n distinct mesh vertices drawn without replacement, the design of the
  published MATLAB codes, e.g. Giordano & Nickl 2020, Giordano 2023).
* :class:`FieldObservation` — the full field in L²: y = R u with RᵀR = M (M the mass matrix),
  so that the Euclidean misfit is the L² misfit, ‖y − R u‖² = ‖ỹ − u_h‖²_{L²(O)} (up to
  a term not depending on u when y = Rỹ).

White-noise interpretation of :class:`FieldObservation`. In the Gaussian white-noise model
dY = u dx + σ dW on O (Nickl 2023, §1.2) the data tested against the FE basis are
z = ⟨Y, φ⟩ = M u + σ ⟨W, φ⟩ with ⟨W, φ⟩ ~ N(0, M), and the log-likelihood is
σ⁻²(zᵀu − ½ uᵀ M u) + const. Observing instead y = R u + σ ε with ε ~ N(0, I) gives
Rᵀy = M u + σ Rᵀε, Rᵀε ~ N(0, RᵀR) = N(0, M): the same law of the sufficient statistic, and
the Gaussian likelihood −‖y − R u‖²/(2σ²) equals the white-noise one up to a constant. So a
:class:`~bayesinv.GaussianLikelihood` with noise σ on this map *is* the white-noise model
projected on the FE space (σ = n^{-1/2} in the theory's scaling).

R is built cell by cell: on an affine cell c, M_c = |det J_c| M̂ with M̂ the reference mass
matrix, M̂ = L̂ L̂ᵀ (Cholesky), so R's rows for c are √|det J_c| L̂ᵀ applied to the cell's dofs and
RᵀR = Σ_c M_c = M exactly. R has (num_cells × dofs_per_cell) rows; it needs no global
factorisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import integer_at_least
from ..errors import InvalidArgumentError
from . import _dolfinx

if TYPE_CHECKING:
    from ..protocols import Seed
    from .domain import Domain, LagrangeSpace
    from .general_domain import MeshDomain


class PointObservation:
    """Point evaluation at design points X_1..X_N: (O u)_i = u_h(X_i).

    Parameters
    ----------
    points : array_like, shape (N, dim)
    """

    kind = "points"

    def __init__(self, points: ArrayLike) -> None:
        self.points = np.asarray(points, dtype=float)

    def matrix(self, space: LagrangeSpace) -> sp.csr_matrix:
        """O with shape (N, num_dofs); raises if a point lies outside the domain."""
        return space.evaluation_matrix(self.points)

    def __repr__(self) -> str:
        return f"PointObservation({self.points.shape[0]} points)"


class FieldObservation:
    """The full field in L²: y = R u with RᵀR = M (see the module docstring)."""

    kind = "field"

    def matrix(self, space: LagrangeSpace) -> sp.csr_matrix:
        """R with RᵀR = M, shape (num_cells · dofs_per_cell, num_dofs)."""
        return l2_observation_matrix(space)

    def __repr__(self) -> str:
        return "FieldObservation()"


#: an observation operator of the FE maps
Observation: TypeAlias = "PointObservation | FieldObservation"
#: what the ``design`` argument of the FE maps accepts: points of shape (N, dim), "field", or an
#: observation object
Design: TypeAlias = "ArrayLike | Literal['field'] | PointObservation | FieldObservation"


def as_observation(design: Design, domain: Domain | MeshDomain) -> Observation:
    """An observation object from points (array) or an observation object."""
    obs: Observation
    if isinstance(design, (PointObservation, FieldObservation)):
        obs = design
    elif isinstance(design, str):
        if design != "field":
            raise InvalidArgumentError(
                f"design must be points of shape (n, dim), 'field' or an observation object "
                f"(PointObservation, FieldObservation), got {design!r}")
        obs = FieldObservation()
    else:
        obs = PointObservation(domain.check_points(design, "design"))
    if isinstance(obs, PointObservation):  # kind "points"
        obs.points = domain.check_points(obs.points, "design")
    return obs


def l2_observation_matrix(space: LagrangeSpace) -> sp.csr_matrix:
    """R with RᵀR = M (the mass matrix of ``space``), assembled cell by cell."""
    domain = space.domain
    points, weights = _dolfinx.quadrature(domain.mesh, 2 * space.degree)
    phi = _dolfinx.tabulate(space.element, points)[0]                     # (nq, nloc)
    mref = np.einsum("q,qi,qj->ij", weights, phi, phi)
    lt = np.linalg.cholesky(mref).T                                         # M̂ = L̂ L̂ᵀ
    ncells, nloc = space.cell_dofs.shape
    values = np.sqrt(domain.abs_det)[:, None, None] * lt[None]              # (c, r, j)
    rows = np.broadcast_to(np.arange(ncells * nloc).reshape(ncells, nloc, 1), values.shape)
    cols = np.broadcast_to(space.cell_dofs[:, None, :], values.shape)
    keep = values != 0.0
    return sp.csr_matrix((values[keep], (rows[keep], cols[keep])),
                         shape=(ncells * nloc, space.num_dofs))


def node_design(domain: Domain | MeshDomain, n: int, seed: Seed = None, *,
                include_boundary: bool = True) -> np.ndarray:
    """n distinct mesh vertices drawn uniformly without replacement, shape (n, dim).

    The design of the published MATLAB codes (``randsample`` over the mesh nodes). With
    ``include_boundary=False`` only interior vertices are drawn (on ∂O, u = g is known).
    """
    n = integer_at_least("n", n, 1)
    space = domain.parameter_space
    candidates = np.arange(space.num_dofs) if include_boundary else space.interior_dofs
    if n > candidates.size:
        where = "" if include_boundary else "interior "
        raise InvalidArgumentError(
            f"n must be <= {candidates.size}, the number of {where}mesh vertices, to draw "
            f"distinct nodes; got n={n}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(candidates, size=n, replace=False)
    return space.coordinates[chosen].copy()
