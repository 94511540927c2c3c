"""Sampler kernels: module-level ``numba.njit`` functions over NamedTuple states.

Kernels import nothing from the modelling layer. Each module documents its update equation
and reference; shared pieces (the Langevin proposal, the Metropolis test) live in ``_common``.
"""

from . import pcn, ula

__all__ = ["pcn", "ula"]
