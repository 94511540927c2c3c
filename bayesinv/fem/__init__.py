"""Finite-element forward maps and function-space tools, built on FEniCSx (dolfinx 0.5 to 0.10).

Importing this module needs dolfinx; without it, the ImportError says how to install it.
Meshing disks and ellipses needs gmsh (``pip install gmsh``), imported only when used.
"""

from ._dolfinx import DOLFINX_VERSION
from .darcy import DarcyMap
from .dirichlet import DirichletBC
from .distributed import DistributedVariationalMap
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
from .general_domain import MeshDomain
from .heat import HeatForwardMap
from .meshes import MeshData, read_mesh
from .newton import NewtonOptions
from .observation import FieldObservation, PointObservation, node_design
from .parameters import ParameterBasis
from .pointeval import transfer_matrix
from .schrodinger import SchrodingerMap
from .solvers import PETScSolver
from .variational import VariationalForwardMap
from .variational_time import VariationalEvolutionMap

__all__ = [
    "DOLFINX_VERSION",
    "DarcyMap",
    "DirichletBC",
    "DistributedVariationalMap",
    "Domain",
    "EllipticForwardMap",
    "Experiment",
    "FieldObservation",
    "HeatForwardMap",
    "LagrangeSpace",
    "MeshData",
    "MeshDomain",
    "NewtonOptions",
    "PETScSolver",
    "ParameterBasis",
    "PointObservation",
    "SchrodingerMap",
    "VariationalEvolutionMap",
    "VariationalForwardMap",
    "disk",
    "disk_of_area",
    "ellipse",
    "node_design",
    "read_mesh",
    "transfer_matrix",
    "uniform_design",
    "unit_disk",
    "unit_square",
]
