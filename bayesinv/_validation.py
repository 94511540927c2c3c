"""Checks at the package boundary. Each error names the argument, the value and what is valid."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any, TypeGuard

import numpy as np
from numpy.typing import ArrayLike

from .errors import InvalidArgumentError


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _finite_real(value: object) -> TypeGuard[numbers.Real]:
    """Whether ``value`` is a real number (not a bool) with a finite float value (an int
    beyond the float range is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float, requiring a finite number > 0."""
    if not _finite_real(value):
        raise InvalidArgumentError(f"{name} must be a finite positive number, got {_show(value)}")
    if value <= 0:
        raise InvalidArgumentError(f"{name} must be > 0, got {value!r}")
    return float(value)


def nonnegative_float(name: str, value: object) -> float:
    """Return ``value`` as a float, requiring a finite number >= 0."""
    if not _finite_real(value) or value < 0:
        raise InvalidArgumentError(f"{name} must be a finite number >= 0, got {_show(value)}")
    return float(value)


def float_in_interval(name: str, value: object, low: float, high: float, *,
                      closed_low: bool = False, closed_high: bool = True) -> float:
    """Return ``value`` as a float in the interval between ``low`` and ``high``."""
    lo_ok = (lambda v: v >= low) if closed_low else (lambda v: v > low)
    hi_ok = (lambda v: v <= high) if closed_high else (lambda v: v < high)
    interval = f"{'[' if closed_low else '('}{low}, {high}{']' if closed_high else ')'}"
    if not _finite_real(value) or not (lo_ok(value) and hi_ok(value)):
        raise InvalidArgumentError(f"{name} must be in {interval}, got {_show(value)}")
    return float(value)


def integer_at_least(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int, requiring an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {_show(value)}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def real_array(name: str, value: ArrayLike) -> np.ndarray:
    """Return ``value`` as a float64 array, refusing complex (and non-numeric) input rather
    than dropping an imaginary part with only a NumPy warning."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise InvalidArgumentError(
            f"{name} must be real, got a complex array (dtype {arr.dtype}); pass its real "
            f"part (.real) if that is what is meant")
    if arr.dtype.kind not in "biuf":
        try:
            arr = np.asarray(arr, dtype=float)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"{name} must be an array of real numbers, got dtype {arr.dtype}") from None
    return arr.astype(float, copy=False)


def spd_matrix(name: str, value: ArrayLike, size: int, *, rtol: float = 1e-10) -> np.ndarray:
    """Return ``value`` as a real, finite, symmetric positive definite (size, size) array.

    Symmetry is checked to a relative tolerance ``rtol`` of the largest entry (a user's
    covariance matrix rounded from a computation), positive definiteness by a Cholesky
    factorisation. The one check of a user-given preconditioner or covariance matrix.
    """
    C = real_array(name, value)
    if C.shape != (size, size):
        raise InvalidArgumentError(f"{name} must have shape ({size}, {size}), got {C.shape}")
    if not np.isfinite(C).all():
        raise InvalidArgumentError(f"{name} must be finite; it has NaN or inf entries")
    scale = float(np.abs(C).max()) if C.size else 0.0
    asym = float(np.abs(C - C.T).max()) if C.size else 0.0
    if asym > rtol * scale:
        raise InvalidArgumentError(
            f"{name} must be symmetric; max |C - Cᵀ| = {asym:.3g} (max |C| = {scale:.3g})")
    try:
        np.linalg.cholesky(C)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(f"{name} must be positive definite (its Cholesky "
                                   f"factorisation fails)") from None
    return C


def finite_vector(name: str, value: ArrayLike, length: int | None = None) -> np.ndarray:
    """Return ``value`` as a 1-d float64 array with finite entries (and the given length)."""
    arr = real_array(name, value)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-d array, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise InvalidArgumentError(f"{name} must have length {length}, got length {arr.shape[0]}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise InvalidArgumentError(
            f"{name} must be finite; {int(bad.sum())} entries are NaN or inf (first at {first})"
        )
    return arr


def mean_vector(name: str, value: ArrayLike, length: int) -> np.ndarray:
    """A prior mean as a finite vector of ``length``: a scalar is broadcast (a constant
    mean), anything else must already be a vector of that length."""
    arr = real_array(name, value)
    return finite_vector(name, np.full(length, float(arr)) if arr.ndim == 0 else arr, length)


def one_of(name: str, value: Any, allowed: Collection[str]) -> str:
    """Require ``value`` to be one of ``allowed`` (strings)."""
    if value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {sorted(allowed)}, got {_show(value)}")
    return value


def points_2d(name: str, value: ArrayLike) -> np.ndarray:
    """Return points as a float array of shape (n, d) with finite entries."""
    arr = real_array(name, value)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must have shape (n, dim) with n >= 1, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name} must be finite")
    return arr
