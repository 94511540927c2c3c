"""Chains of one :func:`~bayesinv.samplers.driver.sample` call in worker processes (``cores=``).

The interpreted loop (PDE targets) spends its time in Python-driven PDE solves that hold the
GIL, so threads do not help it; :class:`ChainProcesses` runs its chains in ``cores`` worker
processes instead. The parent keeps everything else: the progress bar (one, in the parent),
draw streaming, checkpoints, SIGTERM handling and the divergence stop of
:class:`~.runner.ChainRunner`, all unchanged.

How a block runs: chain ``c`` belongs to worker ``c mod cores``. For each block the parent
sends every worker its chains — each :class:`~.chains.Chain` with an empty draw buffer, i.e.
its ``Generator``, kernel state, scale parameter, dual-averaging state and counters, a few
arrays of length k — and the iteration to stop at; the worker advances them with the very
same :func:`~.chains.advance_interpreted` and sends them back with the draws of the block and
the PDE solves it made (added to the parent's forward-map counters, so ``num_*_solves`` are
the sums over workers). Since a chain's future is a function of that state alone, the draws
are bit-identical to the serial run with the same seed, whatever ``cores`` is, and the parent
always holds the complete state: a checkpoint written with ``cores=2`` resumes with any other
value. Workers are stateless between blocks.

Why fork: dolfinx and PETSc objects (forms, matrices, KSP factorisations) cannot be pickled,
so a ``spawn``-started worker could not receive the posterior, and rebuilding it there would
need the user's construction code. A ``fork``-started worker inherits the parent's memory,
posterior and PETSc state included, copy-on-write, and is started *after* the warm start and
the chains' initial evaluations, right before the first block. Verified here (dolfinx 0.5.2,
PETSc 3.18, Open MPI, one MPI rank): the child's solves use its own copy of the factorisation
and matrices and reproduce the parent's bit for bit. With one rank every communicator has size 1,
so the collectives inside assembly are local and never reach the network; a forked child
leaves through ``os._exit``, so MPI_Finalize runs only in the parent. Not tested: ``cores > 1``
inside an MPI job of several ranks (each rank would fork its own workers). Fork needs a POSIX
system; elsewhere ``cores > 1`` with the interpreted loop is refused.

Workers talk to the parent over anonymous pipes (``multiprocessing.Pipe``, no sockets), run
BLAS single-threaded (the limit set in the parent is inherited and set again), ignore SIGINT
and SIGTERM (the parent decides: a SIGTERM to the process group thus still ends in a
checkpoint) and are killed when the parent dies (Linux parent-death signal). A worker that
dies (segfault, out of memory, SIGKILL) is a :class:`~bayesinv.errors.ChainWorkerError`
naming it, its chains and its exit code; a Python exception in a worker is re-raised in the
parent with the worker's traceback attached. A failed forward solve inside a worker is, as
in the serial loop, a rejected proposal (or a flagged ULA divergence), never a lost chain.

The compiled loop (numba targets) already runs one thread per chain with the GIL released;
there ``cores`` is the number of threads (default: one per chain, up to the cores available).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import numbers
import os
import signal
import traceback
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeAlias

from threadpoolctl import threadpool_limits

from .._validation import integer_at_least
from ..errors import BayesinvError, ChainWorkerError, InvalidArgumentError
from .chains import DRAW_KEYS, Chain, RunSettings, advance_interpreted

if TYPE_CHECKING:
    from ..forward.base import SolveCounts

#: a worker's chains for one block: (index in the run, chain)
_Jobs: TypeAlias = list[tuple[int, Chain]]
#: a worker's reply: ("ok", its chains advanced, solves made by kind) or ("error", the
#: exception, its traceback)
_Reply: TypeAlias = (tuple[Literal["ok"], _Jobs, dict[str, int]]
                     | tuple[Literal["error"], BaseException, str])


def available_cores() -> int:
    """Cores this process may run on: the affinity mask where the OS has one, else
    ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_cores(cores: object) -> int | None:
    """``cores`` as an int in 1..available_cores() (None stays None); else a clear error."""
    if cores is None:
        return None
    limit = available_cores()
    if isinstance(cores, bool) or not isinstance(cores, numbers.Integral):
        raise InvalidArgumentError(
            f"cores must be an integer from 1 to {limit} (the cores this process may use), "
            f"or None, got {cores!r}")
    cores = integer_at_least("cores", cores, 1)
    if cores > limit:
        raise InvalidArgumentError(
            f"cores={cores} is more than the {limit} cores this process may use "
            f"(os.cpu_count()={os.cpu_count()}, affinity mask included); give 1 <= cores <= "
            f"{limit}")
    return cores


def thread_count(cores: int | None, chains: int) -> int:
    """Threads of the compiled loop: ``cores`` (default: one per chain up to the cores
    available), never more than the chains."""
    return min(chains, cores if cores is not None else available_cores())


def _worker_signals() -> None:
    """In a worker: SIGINT and SIGTERM are the parent's business; die with the parent."""
    from .._process import default_signals  # parent-death signal (Linux prctl)

    default_signals()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve(conn: Connection, run: RunSettings, counts: SolveCounts) -> None:
    """A worker's loop: receive (chains, stop), advance them, send them back; None ends it."""
    _worker_signals()
    with threadpool_limits(limits=1, user_api="blas"):
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the parent went away
                return
            if message is None:
                return
            jobs, stop = message
            before = counts.as_dict()
            reply: _Reply
            try:
                for _, chain in jobs:
                    advance_interpreted(run, chain, stop)
                after = counts.as_dict()
                reply = ("ok", jobs, {k: after[k] - before[k] for k in after})
            except BaseException as exc:  # sent to the parent, raised there
                reply = ("error", _picklable(exc), traceback.format_exc())
            conn.send(reply)


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return BayesinvError(f"{type(exc).__name__}: {exc}")


class ChainProcesses:
    """``cores`` forked workers advancing the chains of one run (see the module docstring).

    Use as a context manager; :meth:`advance` moves every chain to ``stop`` in place.

    Parameters
    ----------
    run : RunSettings
        The run's settings (its method holds the Python target; inherited by fork).
    counts : SolveCounts
        The forward map's solve counters, to which the workers' solves are added.
    cores : int
        Worker processes (at most one per chain is started).
    chains : int
        The number of chains.
    """

    def __init__(self, run: RunSettings, counts: SolveCounts, cores: int, chains: int
                 ) -> None:
        if "fork" not in multiprocessing.get_all_start_methods():
            raise InvalidArgumentError(
                f"cores={cores} with a PDE target needs fork-started worker processes, which "
                f"this platform lacks; use cores=1")
        self.run, self.counts = run, counts
        self.size = min(cores, chains)
        self.owner = [c % self.size for c in range(chains)]
        self.workers: list[BaseProcess] = []
        self.conns: list[Connection] = []

    def __enter__(self) -> ChainProcesses:
        ctx = multiprocessing.get_context("fork")
        for _ in range(self.size):
            parent_end, child_end = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(child_end, self.run, self.counts),
                                  daemon=True)
            process.start()
            child_end.close()
            self.workers.append(process)
            self.conns.append(parent_end)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        for conn, process in zip(self.conns, self.workers, strict=True):
            if exc_type is None:
                with contextlib.suppress(OSError):
                    conn.send(None)
            else:  # workers ignore SIGTERM and hold nothing the parent lacks: kill them
                process.kill()
        for conn, process in zip(self.conns, self.workers, strict=True):
            process.join()
            conn.close()
        return False

    def advance(self, chain_list: list[Chain], stop: int) -> None:
        """Advance every chain to iteration ``stop`` in the workers; draws are appended to
        the parent's buffers and the solves to its counters."""
        buffers = [ch.buffer for ch in chain_list]
        jobs: list[_Jobs] = [[] for _ in range(self.size)]
        for c, ch in enumerate(chain_list):
            ch.buffer = {k: [] for k in DRAW_KEYS}
            jobs[self.owner[c]].append((c, ch))
        try:
            for w, conn in enumerate(self.conns):
                conn.send((jobs[w], stop))
        finally:
            for ch, buf in zip(chain_list, buffers, strict=True):
                ch.buffer = buf
        pending = dict(enumerate(self.conns))
        while pending:
            ready = wait(list(pending.values()) + [self.workers[w].sentinel for w in pending])
            for w in list(pending):
                conn = pending[w]
                if conn in ready or self.workers[w].sentinel in ready:
                    try:
                        reply = conn.recv()  # a reply sent before the worker ended counts
                    except (EOFError, OSError):  # the pipe closed: the worker died
                        self._crashed(w)
                    del pending[w]
                    self._merge(reply, chain_list, buffers, w)

    def _merge(self, reply: _Reply, chain_list: list[Chain],
               buffers: list[dict[str, list[Any]]], w: int) -> None:
        if reply[0] == "error":
            _, exc, text = reply
            raise exc from ChainWorkerError(
                f"in worker process {w + 1}/{self.size} (pid {self.workers[w].pid}):\n{text}")
        _, jobs, solved = reply
        for c, chain in jobs:
            for key in DRAW_KEYS:
                buffers[c][key].extend(chain.buffer[key])
            chain.buffer = buffers[c]
            chain_list[c] = chain
        for key, n in solved.items():
            setattr(self.counts, key, getattr(self.counts, key) + n)

    def _crashed(self, w: int) -> NoReturn:
        process = self.workers[w]
        process.join(timeout=1)
        code = process.exitcode
        how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None
               and code < 0 else f"exited with code {code}")
        chains = [c + 1 for c, owner in enumerate(self.owner) if owner == w]
        raise ChainWorkerError(
            f"worker process {w + 1}/{self.size} (pid {process.pid}) running chains {chains} "
            f"{how} in the middle of a block; its chains' state since the last block is lost "
            f"(a checkpointed run resumes from its last checkpoint). Run with cores=1 to see "
            f"the error in this process.")
