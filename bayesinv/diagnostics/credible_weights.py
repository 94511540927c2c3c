r"""Linear functionals of an FE field as weight vectors, and the FE space they need.

A credible interval for a linear functional of θ (nodal values of an FE field) is an interval
for the scalar draws wᵀθ^{(s)}; this module builds w:

* :func:`functional_weights`: w = M ψ_h, so that wᵀθ = ⟨θ, ψ⟩_{L²} (M the FE mass matrix, ψ_h
  the nodal interpolant of ψ or ψ given as nodal values);
* :func:`point_weights`: the rows of the FE evaluation operator E, so that θ(x_j) = (E θ)_j.

Both need θ's FE space or mass matrix: :func:`require_space` finds the space (given, or
recorded in InferenceData draws, :mod:`bayesinv.space_record`), :func:`checked_mass_matrix`
takes M from it and checks its shape, and :func:`require_l2_product` refuses a call that
promises an L² product without the M that defines it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import real_array
from ..errors import InvalidArgumentError
from ..protocols import Draws
from ..space_record import resolve_space


def require_space(draws: Draws, space: Any, n: int, function: str) -> Any:
    """``space``, or the FE space recorded in InferenceData ``draws``; an error naming
    ``function`` when there is neither."""
    found = resolve_space(draws, space, n)
    if found is None:
        raise InvalidArgumentError(
            f"{function} needs space= (θ's FE space): the draws record no FE space with {n} "
            f"dofs (only InferenceData from a sampler run on an FE forward map does)")
    return found


def checked_mass_matrix(mass_matrix: Any, space: Any, n: int) -> Any:
    """``mass_matrix``, else ``space.mass_matrix`` (None when there is neither), checked to be
    (n, n) for θ's n nodes."""
    if mass_matrix is None and space is not None:
        mass_matrix = space.mass_matrix
    if mass_matrix is not None and mass_matrix.shape != (n, n):
        raise InvalidArgumentError(
            f"mass_matrix must have shape ({n}, {n}) to match θ's {n} nodes, got "
            f"{mass_matrix.shape} (is it on a different mesh?)")
    return mass_matrix


def require_l2_product(function: str, mass_matrix: Any, n: int) -> None:
    """Refuse a call that promises an L² product without the mass matrix that defines it."""
    if mass_matrix is None:
        raise InvalidArgumentError(
            f"{function} needs space= (an FE space), mass_matrix= (an ({n}, {n}) matrix M) "
            f"or draws whose InferenceData records θ's FE space (a sampler run on an FE "
            f"forward map) "
            f"for the L² product <u, v> = uᵀ M v; pass mass_matrix=scipy.sparse.identity({n}) "
            f"for the Euclidean product of the coefficient vectors")


def functional_weights(psi: Any, n: int, *, space: Any = None,
                       mass_matrix: Any = None) -> np.ndarray:
    """w with ⟨θ, ψ⟩_{L²} = wᵀθ: w = M ψ_h (mass-matrix quadrature of the FE functions).

    ``psi`` is a callable ψ(x) (x of shape (dim, n), interpolated at the nodes of ``space``)
    or nodal values of length n. Without a mass matrix (no FE space), M = I.
    """
    M = checked_mass_matrix(mass_matrix, space, n)
    if callable(psi):
        if space is None:
            raise InvalidArgumentError("a callable psi needs space= to be interpolated on")
        psi_h = space.interpolate(psi)
    else:
        psi_h = real_array("psi", psi)
        if psi_h.ndim != 1 or psi_h.shape[0] != n:
            raise InvalidArgumentError(
                f"psi must be a callable or nodal values of length {n} (the number of nodes "
                f"of θ), got shape {psi_h.shape} — is it on a different mesh?")
        if not np.isfinite(psi_h).all():
            raise InvalidArgumentError("psi has non-finite nodal values")
    weights = psi_h if M is None else M @ psi_h
    return np.asarray(weights, dtype=float).ravel()


def point_weights(points: ArrayLike, space: Any, num_nodes: int | None = None) -> np.ndarray:
    """Rows w_j with θ(x_j) = w_jᵀθ (FE evaluation at the points), shape (npoints, n);
    ``num_nodes``: the length of θ, checked against the space."""
    E = space.evaluation_matrix(points)
    E = E.toarray() if sp.issparse(E) else np.asarray(E)
    if num_nodes is not None and E.shape[1] != num_nodes:
        raise InvalidArgumentError(
            f"space has {E.shape[1]} nodes but θ has {num_nodes} (a different mesh?)")
    return E
