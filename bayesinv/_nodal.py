"""Nodal values of a function on a space given by its dof coordinates (no FEniCSx needed:
used by the FE spaces and by the space records of saved results)."""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError


def dof_values(fn, coordinates: np.ndarray, space: str = "") -> np.ndarray:
    """Dof values of ``fn`` on a space with dof coordinates ``coordinates`` (num_dofs, gdim):
    a constant, a callable fn(x) with x of shape (gdim, num_dofs), or an array of values.
    ``space`` completes the shape error (e.g. " for this P1 space")."""
    num_dofs = coordinates.shape[0]
    if callable(fn):
        values = np.asarray(fn(coordinates.T.copy()), dtype=float)
        values = np.broadcast_to(values, (num_dofs,)).copy()
    elif np.ndim(fn) == 0:
        values = np.full(num_dofs, float(fn))
    else:
        values = np.asarray(fn, dtype=float)
        if values.shape != (num_dofs,):
            raise InvalidArgumentError(
                f"values must have shape ({num_dofs},){space}, got {values.shape}")
    if not np.isfinite(values).all():
        raise InvalidArgumentError("the interpolated function has non-finite values")
    return values
