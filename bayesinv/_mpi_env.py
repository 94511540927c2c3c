"""Keep Open MPI off the network in runs that were not started by an MPI launcher.

FEniCSx initialises MPI (through mpi4py) whenever :mod:`bayesinv.fem` is imported, also in a
plain serial run. An Open MPI *singleton* (a process not started by ``mpirun``) then spawns an
``orted`` helper and opens TCP listeners on every interface (0.0.0.0 and ::) — measured with
Open MPI 4.1.4: one in the process, one per ``orted``. A serial run needs neither, so before
MPI is initialised this sets, unless the user has set them:

* ``OMPI_MCA_ess_singleton_isolated=1`` — no ``orted``, no out-of-band TCP listener;
* ``OMPI_MCA_btl=self,vader`` — in-process and shared-memory transports only (no TCP BTL,
  whose listener binds all interfaces even with ``btl_tcp_if_include=lo``).

With both, nothing listens (checked with ``psutil`` in ``tests/test_hardening.py``). A process
started by ``mpirun``/``srun`` (``OMPI_COMM_WORLD_SIZE``, ``PMIX_RANK`` or ``PMI_RANK`` in the
environment) is left alone: its transports are the launcher's business (see
``docs/security.md`` for single-node ``mpirun`` options). It runs when this module is
imported — first thing in ``import bayesinv`` — and must run before the first
``from mpi4py import MPI``; a program that imports mpi4py before bayesinv keeps Open MPI's
defaults.
"""

from __future__ import annotations

import os

#: the environment of a process started by an MPI launcher
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE")
#: Open MPI settings for a singleton run with nothing listening
SINGLETON_SETTINGS = {"OMPI_MCA_ess_singleton_isolated": "1", "OMPI_MCA_btl": "self,vader"}


def isolate_singleton(environ=None) -> dict:
    """Set :data:`SINGLETON_SETTINGS` in ``environ`` (default ``os.environ``) where unset,
    unless a launcher started this process; returns what was set."""
    env = os.environ if environ is None else environ
    if any(name in env for name in LAUNCHER_VARIABLES):
        return {}
    added = {k: v for k, v in SINGLETON_SETTINGS.items() if k not in env}
    env.update(added)
    return added


isolate_singleton()  # on import: bayesinv/__init__.py imports this module first
