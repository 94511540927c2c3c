"""MCMC samplers: numba kernels (:mod:`.kernels`), methods, and the ``sample`` driver."""

from .driver import sample
from .methods import METHODS

__all__ = ["METHODS", "sample"]
