"""Batch runs on workstations and clusters: experiment configs, executors, a results store.

* :mod:`bayesinv.hpc.config` — TOML experiment configs, validated on load;
* :mod:`bayesinv.hpc.problems` — the problem factories a config describes (Schrödinger,
  Darcy, heat, linear–Gaussian);
* :mod:`bayesinv.coverage.store` (also importable as ``bayesinv.hpc.store``) — one file per
  replicate, written atomically, with a manifest;
  reruns resume;
* :mod:`bayesinv.hpc.executors` — serial, local processes, MPI (rank-sliced), Dask, and the
  SLURM-array share of a study;
* :mod:`bayesinv.hpc.study` — a configured coverage study or single inversion, end to end
  (what the ``bayesinv`` command runs).

Importing this package imports none of mpi4py, dask or dolfinx.
"""

from ..coverage.store import ReplicateStore
from .config import config_hash, load_config, validate_config
from .executors import (
    DaskExecutor,
    LocalExecutor,
    MPIExecutor,
    SerialExecutor,
    array_share,
    make_executor,
)
from .study import merge_store, report_study, run_inversion, run_study

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "MPIExecutor",
    "ReplicateStore",
    "SerialExecutor",
    "array_share",
    "config_hash",
    "load_config",
    "make_executor",
    "merge_store",
    "report_study",
    "run_inversion",
    "run_study",
    "validate_config",
]
