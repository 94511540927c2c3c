"""Executors for coverage replicates, all with one method: ``map(fn, tasks)``.

The coverage harness calls ``executor.map(fn, tasks)`` and consumes the results in task
order. Every backend here provides exactly that, and is a context manager that releases its
workers on exit:

* :class:`SerialExecutor` — in this process, one replicate after another;
* :class:`LocalExecutor` — a ``concurrent.futures.ProcessPoolExecutor`` of ``workers``
  processes (the default);
* :class:`MPIExecutor` — *rank-sliced* work under ``mpirun -n P``: every rank runs the same
  program, takes the tasks at positions i ≡ rank (mod P), and the results are all-gathered so
  every rank returns the full ordered list (rank 0 writes the outputs). Simpler and more robust
  than ``mpi4py.futures`` (no spawning, no manager rank): each rank works independently and, with
  a results store, writes its own replicate files; a rank that dies loses only its in-flight
  replicate, and the rerun does the rest. mpi4py is imported only here, only when used;
* :class:`DaskExecutor` — a Dask distributed ``Client``: by default a ``LocalCluster`` of
  ``workers`` single-threaded processes bound to 127.0.0.1, speaking TLS with credentials
  made for the run (other local users cannot submit work), with the Bokeh dashboard disabled
  and no HTTP routes (the HTTP servers bind to 127.0.0.1 and answer 404), or an
  existing cluster's scheduler given by ``scheduler="tcp://host:8786"`` (e.g. one started
  by dask-jobqueue's ``SLURMCluster``; see ``examples/hpc/dask_jobqueue.py``).

SLURM job arrays are not an executor but a *share* of the study (:func:`array_share`): task k
of K takes a contiguous block of replicate indices and runs it with any executor above; the
union over k = 0..K−1 is every replicate exactly once.

Nothing here listens on a non-loopback address unless given one: the local Dask cluster's
scheduler, nannies, workers and HTTP endpoint bind to 127.0.0.1 (a test checks every
listening socket), it has no dashboard, and it speaks TLS with per-run credentials that
other local users do not have (see :class:`DaskExecutor` and ``docs/security.md``); MPI uses
whatever transport ``mpirun`` sets up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._process import default_signals as _default_signals
from .._validation import integer_at_least
from ..errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client, LocalCluster
    from distributed.security import Security
    from mpi4py.MPI import Comm

_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


class SerialExecutor:
    """Runs tasks one after another in this process."""

    name = "serial"
    is_root = True

    def map(self, fn: Callable[[_Task], _Result], tasks: Iterable[_Task]) -> Iterator[_Result]:
        """``fn(task)`` for each task, lazily, in task order."""
        return map(fn, tasks)

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


class LocalExecutor:
    """``workers`` local processes (``ProcessPoolExecutor``)."""

    name = "local"
    is_root = True

    def __init__(self, workers: int = 2) -> None:
        self.workers = integer_at_least("workers", workers, 1)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        self._pool = ProcessPoolExecutor(self.workers, initializer=_default_signals)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if self._pool is None:  # never entered
            return False
        if exc_type is None:
            self._pool.shutdown(wait=True)
            return False
        # Interrupted (SIGTERM, Ctrl-C, a dead worker): stop at once rather than wait for the
        # replicates in flight — within a scheduler's grace period — and lose only those (the
        # next run recomputes them). ProcessPoolExecutor has no public way to kill workers.
        for process in list((getattr(self._pool, "_processes", None) or {}).values()):
            process.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        return False

    def map(self, fn: Callable[[_Task], _Result], tasks: Iterable[_Task]) -> Iterator[_Result]:
        """``fn(task)`` for each task in the worker processes; the results in task order."""
        if self._pool is None:
            raise RuntimeError("use LocalExecutor as a context manager: with LocalExecutor(2) "
                               "as ex: ...")
        return self._pool.map(fn, tasks)


class MPIExecutor:
    """Rank-sliced execution under ``mpirun``: rank p runs tasks p, p + P, p + 2P, ...

    ``map`` returns the full list of results (task order) on every rank. Rank 0 is the one
    that should write outputs (:attr:`is_root`).
    """

    name = "mpi"

    def __init__(self, comm: Comm | None = None) -> None:
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0

    def __enter__(self) -> MPIExecutor:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False

    def map(self, fn: Callable[[_Task], _Result], tasks: Iterable[_Task]) -> Iterator[_Result]:
        """Tasks p, p + P, ... on rank p; every task's result, in task order, on every rank
        (the task list is rank 0's)."""
        # rank 0's list is the list: ranks that computed theirs at slightly different
        # moments (e.g. from a results directory other ranks are writing to) agree on it
        shared: list[_Task] = self.comm.bcast(list(tasks), root=0)
        mine = [(i, fn(shared[i])) for i in range(self.rank, len(shared), self.size)]
        gathered = self.comm.allgather(mine)
        results: list[Any] = [None] * len(shared)
        for part in gathered:
            for i, value in part:
                results[i] = value
        return iter(results)


class DaskExecutor:
    """Tasks on a Dask distributed cluster (a loopback-only, TLS-authenticated LocalCluster
    by default).

    The default cluster is started with credentials made for this run only
    (``distributed.security.Security.temporary()``: a self-signed CA and a certificate held
    in memory, never written to disk), ``protocol="tls"`` and mutual authentication: the
    scheduler, the nannies and the workers accept a connection only from a peer presenting
    that certificate, so another local user — who can reach 127.0.0.1 — cannot submit work
    (a plain-TCP or certificate-less connection is refused during the handshake). Their HTTP
    servers serve no routes (no health, metrics or JSON endpoints). ``scheduler=ADDRESS``
    joins an existing cluster instead, with whatever security the Dask configuration
    (``distributed.comm.tls.*``) provides: then that cluster's set-up is what is trusted.
    """

    name = "dask"
    is_root = True

    def __init__(self, workers: int = 2, scheduler: str | None = None) -> None:
        self.workers = integer_at_least("workers", workers, 1)
        self.scheduler = scheduler or None
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self.security: Security | None = None

    def __enter__(self) -> DaskExecutor:
        import dask
        from distributed import Client, LocalCluster
        from distributed.security import Security

        if self.scheduler is None:
            self.security = Security.temporary()
            # no HTTP routes on the scheduler and the workers (health, metrics, JSON)
            with dask.config.set({"distributed.scheduler.http.routes": [],
                                  "distributed.worker.http.routes": []}):
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", protocol="tls", security=self.security,
                    dashboard_address=None, silence_logs=40)
                self._client = Client(self._cluster, security=self.security)
        else:
            self._client = Client(self.scheduler)
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    @property
    def client(self) -> Client | None:
        """The Dask client (None outside the ``with`` block)."""
        return self._client

    def map(self, fn: Callable[[_Task], _Result], tasks: Iterable[_Task]) -> Iterator[_Result]:
        """``fn(task)`` for each task on the cluster; the results in task order, each as soon
        as it is ready."""
        if self._client is None:
            raise RuntimeError("use DaskExecutor as a context manager: with DaskExecutor(2) "
                               "as ex: ...")
        futures = self._client.map(fn, list(tasks), pure=False)
        for future in futures:  # in task order, each as soon as it is ready
            yield future.result()


#: the executor kinds of :func:`make_executor` (``[executor] kind`` in configs)
EXECUTORS = ("serial", "local", "mpi", "dask")


def make_executor(kind: str, *, workers: int = 2, scheduler: str = ""
                  ) -> SerialExecutor | LocalExecutor | MPIExecutor | DaskExecutor:
    """An executor by name: one of :data:`EXECUTORS`."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "mpi":
        return MPIExecutor()
    if kind == "dask":
        return DaskExecutor(workers, scheduler or None)
    raise ConfigError(f"executor must be one of {list(EXECUTORS)}, got {kind!r}")


def array_share(replicates: int, task_id: int | None = None, num_tasks: int | None = None,
                environ: Mapping[str, str] | None = None) -> range:
    """The replicates of SLURM array task k of K: the contiguous block
    ``[k R // K, (k + 1) R // K)`` (blocks differ in size by at most one).

    k and K default to ``SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN`` (so ``--array=1-10``
    works too) and ``SLURM_ARRAY_TASK_COUNT``. Contiguous blocks keep each task's files
    together; results do not depend on the split.
    """
    env = os.environ if environ is None else environ
    if task_id is None:
        if "SLURM_ARRAY_TASK_ID" not in env:
            raise ConfigError("no array task id: pass --task-id (or run as a SLURM array job, "
                              "which sets SLURM_ARRAY_TASK_ID)")
        task_id = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", 0))
    if num_tasks is None:
        if "SLURM_ARRAY_TASK_COUNT" not in env:
            raise ConfigError("no array task count: pass --num-tasks (or run as a SLURM array "
                              "job, which sets SLURM_ARRAY_TASK_COUNT)")
        num_tasks = int(env["SLURM_ARRAY_TASK_COUNT"])
    if not num_tasks >= 1:
        raise ConfigError(f"--num-tasks must be >= 1, got {num_tasks}")
    if not 0 <= task_id < num_tasks:
        raise ConfigError(f"--task-id must be in [0, {num_tasks - 1}], got {task_id}")
    return range(task_id * replicates // num_tasks, (task_id + 1) * replicates // num_tasks)
