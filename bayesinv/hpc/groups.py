"""Chains × ranks: one ``mpirun`` split into groups of ranks, each group running whole tasks
(chains, replicates) on a forward map distributed over the group's ranks.

``mpirun -n 4`` with ``GroupExecutor(ranks_per_group=2)`` gives 2 groups of 2 consecutive
ranks (``MPI_Comm_split`` by ``rank // 2``); task t runs on group t mod G, collectively on the
group's sub-communicator (build the mesh on it: ``create_unit_square(group_comm, ...)``), and
:meth:`GroupExecutor.map` returns every task's result (as computed by its group's rank 0) on
every rank. A task's result must not depend on the group that runs it — seed it from the task
index, not the rank — so that any layout (2 × 2, 4 × 1, 1 × 4) gives the same results up to the
distributed solver's round-off. ``ranks_per_group=1`` is the rank-sliced
:class:`~bayesinv.hpc.MPIExecutor`; ``ranks_per_group=size`` is one distributed run.

Importing this module does not import mpi4py (the communicator is passed in, or
``MPI.COMM_WORLD`` is imported when none is).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._validation import integer_at_least
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from mpi4py.MPI import Comm

_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


class GroupExecutor:
    """Tasks over groups of ``ranks_per_group`` MPI ranks (see the module docstring).

    Attributes
    ----------
    comm : the whole communicator;  group_comm : this rank's group
    group, groups : this rank's group index and the number of groups
    is_root : bool
        World rank 0 (the rank that should write outputs).
    """

    name = "mpi-groups"

    def __init__(self, ranks_per_group: int, comm: Comm | None = None) -> None:
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        per = integer_at_least("ranks_per_group", ranks_per_group, 1)
        if comm.size % per:
            raise InvalidArgumentError(
                f"ranks_per_group must divide the number of MPI ranks ({comm.size}), got {per}")
        self.comm, self.ranks_per_group = comm, per
        self.group, self.groups = comm.rank // per, comm.size // per
        self.group_comm = comm.Split(color=self.group, key=comm.rank)

    @property
    def is_root(self) -> bool:
        """Whether this is world rank 0."""
        return self.comm.rank == 0

    def __enter__(self) -> GroupExecutor:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.group_comm.Free()
        return False

    def map(self, fn: Callable[[_Task, Comm], _Result], tasks: Iterable[_Task]
            ) -> list[_Result]:
        """``fn(task, group_comm)`` for every task, task i on group i mod G (collectively on
        its ranks); the results in task order, on every rank (each from its group's rank 0)."""
        shared: list[_Task] = self.comm.bcast(list(tasks), root=0)
        mine = [(i, fn(shared[i], self.group_comm))
                for i in range(self.group, len(shared), self.groups)]
        gathered = self.comm.allgather(mine if self.group_comm.rank == 0 else [])
        results: list[Any] = [None] * len(shared)
        for part in gathered:
            for i, value in part:
                results[i] = value
        return results
