"""Finite-element forward maps and function-space tools, built on FEniCSx (dolfinx 0.5 to 0.10).

Importing this module needs dolfinx; without it, the ImportError says how to install it.
Meshing disks and ellipses needs gmsh (``pip install gmsh``), imported only when used.
"""

from ._dolfinx import DOLFINX_VERSION
from .darcy import DarcyMap
from .domain import (
    Domain,
    LagrangeSpace,
    disk,
    disk_of_area,
    ellipse,
    uniform_design,
    unit_disk,
    unit_square,
)
from .elliptic import EllipticForwardMap, Experiment
from .heat import HeatForwardMap
from .observation import FieldObservation, PointObservation, node_design
from .schrodinger import SchrodingerMap
from .solvers import PETScSolver

__all__ = [
    "DOLFINX_VERSION",
    "DarcyMap",
    "Domain",
    "EllipticForwardMap",
    "Experiment",
    "FieldObservation",
    "HeatForwardMap",
    "LagrangeSpace",
    "PETScSolver",
    "PointObservation",
    "SchrodingerMap",
    "disk",
    "disk_of_area",
    "ellipse",
    "node_design",
    "uniform_design",
    "unit_disk",
    "unit_square",
]
