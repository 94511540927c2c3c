"""Finite-element forward maps and function-space tools, built on FEniCSx (dolfinx 0.5).

Importing this module needs dolfinx; without it, the ImportError says how to install it.
"""

from ._dolfinx import DOLFINX_VERSION
from .domain import Domain, LagrangeSpace, uniform_design, unit_square
from .elliptic import EllipticForwardMap
from .schrodinger import SchrodingerMap

__all__ = [
    "DOLFINX_VERSION",
    "Domain",
    "EllipticForwardMap",
    "LagrangeSpace",
    "SchrodingerMap",
    "uniform_design",
    "unit_square",
]
