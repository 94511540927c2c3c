"""The chains of one :func:`~bayesinv.samplers.driver.sample` call, from set-up to results.

:class:`ChainRunner` advances all chains together in *blocks* of steps (about half a second
each) and, between blocks, updates the progress bar, streams kept draws to disk
(:mod:`.storage`), writes checkpoints (:mod:`.checkpoint`), honours SIGTERM and stops on too
many divergences. Block boundaries never change the draws: each chain owns its Generator,
kernel state and adaptation state. It also accounts the chains' wall time and PDE solves
over all resumes of a run, and turns the draws into InferenceData.

With a forward map distributed over several MPI ranks (a ``comm`` attribute of size > 1,
:class:`~bayesinv.fem.DistributedVariationalMap`) every rank runs the same chains, and every
forward solve is collective, so the ranks must take the same decisions between blocks: rank 0's
block length and checkpoint timing are broadcast, a SIGTERM seen by any rank stops all of them
at the same block boundary, and only rank 0 writes the checkpoint (its content is replicated).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..arviz_io import build_inference_data
from ..errors import SamplerDivergenceError, SamplingInterrupted
from .chains import Chain, RunSettings, advance_compiled, advance_interpreted, stack_draws
from .gibbs import draw_groups
from .parallel import ChainProcesses, thread_count
from .storage import Checkpointed, InMemory

if TYPE_CHECKING:
    from arviz import InferenceData
    from mpi4py import MPI

    from ..posterior import Posterior
    from .methods import Method

_BLOCK_SECONDS = 0.5


def communicator(posterior: Posterior) -> MPI.Comm | None:
    """The communicator of a forward map distributed over several ranks, or None."""
    comm = getattr(posterior.likelihood.forward, "comm", None)
    return comm if comm is not None and getattr(comm, "size", 1) > 1 else None


def inference_data(posterior: Posterior, arrays: dict[str, Any], store_theta: bool,
                   attrs: dict[str, Any], first_draw: int = 0) -> InferenceData:
    """InferenceData from stacked (chain, draw, ...) arrays keyed as ``DRAW_KEYS``."""
    like = posterior.likelihood
    post = {"xi": arrays["xi"]}
    if store_theta:
        post["theta"] = posterior.prior.to_physical_rows(arrays["xi"])
    stats = {"lp": arrays["lp"], "acceptance_rate": arrays["acceptance_rate"],
             "diverging": arrays["diverging"].astype(bool), "step_size": arrays["step_size"]}
    constant = {}
    forward = like.forward
    if hasattr(forward, "design"):
        constant["design"] = forward.design
    if hasattr(forward, "parameter_space"):
        constant["node_coordinates"] = forward.parameter_space.coordinates
    pred = arrays.get("prediction")
    log_lik = None if pred is None else like.pointwise_from_prediction(pred)
    if arrays.get("hyper") is not None:  # σ, τ, ... sampled by Gibbs blocks (see .gibbs)
        post, log_lik = draw_groups(posterior, arrays, store_theta)
    return build_inference_data(
        posterior=post,
        sample_stats=stats,
        log_likelihood=None if log_lik is None else {"y": log_lik},
        observed_data={"y": like.data},
        constant_data=constant,
        space=getattr(forward, "parameter_space", None),
        attrs={**attrs, "noise_std": like.noise_std},
        first_draw=first_draw,
    )


def parameter_attrs(cls: type[Method], chain_list: list[Chain]) -> dict[str, Any]:
    """The frozen scale parameter: a number, or one per chain when they were adapted."""
    values = np.array([ch.parameter for ch in chain_list])
    value = float(values[0]) if np.all(values == values[0]) else values
    out = {"step_size": value}
    if cls.parameter == "beta":
        out["beta"] = value
    return out


class _StopRequest:
    """Set by the SIGTERM handler; checked between blocks."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum


@dataclass
class Accounting:
    """Wall time and solves of earlier sessions of a resumed run, and where this one started
    (the forward map's solve counters and the clock)."""

    prior_elapsed: float
    prior_counts: dict[str, int]
    counts_at_start: dict[str, int]
    start_time: float


class ChainRunner:
    """Runs the chains of one ``sample`` call; see the module docstring.

    Parameters
    ----------
    posterior, cls, chain_list, run
        The posterior, the method class, the :class:`~.chains.Chain` objects and the
        :class:`~.chains.RunSettings`.
    attrs : dict
        InferenceData attributes (completed with the frozen parameter, time and solves).
    accounting : Accounting
    resumed : bool
        Whether the chains come from a checkpoint (their initial evaluations were counted
        then).
    store_theta : bool
        Store θ = T(ξ) with the draws.
    storage : InMemory, Streaming or Checkpointed
        Where the draws and the resumable state go (:mod:`.storage`), already started.
    base_meta : dict
        What a checkpoint records about the run besides the chains.
    cores : int or None
        Interpreted loop: worker processes (:mod:`.parallel`; None or 1: this process);
        compiled loop: threads (None: one per chain up to the cores available).
    """

    #: Steps per block. None: adapted so that a block takes about ``_BLOCK_SECONDS``. A fixed
    #: number makes block boundaries (progress, stream parts, checkpoints, the point where a
    #: SIGTERM takes effect) a function of the step count alone, e.g. for interrupt tests;
    #: the draws themselves never depend on it.
    block_steps: int | None = None

    def __init__(self, posterior: Posterior, cls: type[Method], chain_list: list[Chain],
                 run: RunSettings, attrs: dict[str, Any], accounting: Accounting, *,
                 resumed: bool, store_theta: bool, storage: InMemory | Checkpointed | None = None,
                 base_meta: dict[str, Any] | None = None, cores: int | None = None) -> None:
        self.posterior, self.cls, self.chain_list, self.run = posterior, cls, chain_list, run
        self.attrs, self.accounting, self.resumed = attrs, accounting, resumed
        self.store_theta = store_theta
        self.storage: InMemory | Checkpointed = InMemory() if storage is None else storage
        self.base_meta = {} if base_meta is None else base_meta
        self.use_compiled = run.compiled is not None
        self.cores = cores
        self.first_iteration = min(ch.iteration for ch in chain_list)

    # -- bookkeeping ------------------------------------------------------------------------

    def elapsed_counts(self) -> tuple[float, dict[str, int]]:
        """Time and solves of the chains (initial evaluations and steps), over all resumes."""
        acc = self.accounting
        now = self.posterior.likelihood.forward.counts.as_dict()
        solved = {k: acc.prior_counts[k] + now[k] - acc.counts_at_start[k] for k in now}
        if self.use_compiled:  # compiled evaluations bypass the forward map: count them
            chains = len(self.chain_list)
            evals = sum(ch.iteration for ch in self.chain_list) - chains * self.first_iteration
            evals += 0 if self.resumed else chains  # the initial evaluations
            solved["forward"] += evals
            solved["adjoint"] += evals if self.cls.uses_gradient else 0
        return acc.prior_elapsed + time.perf_counter() - acc.start_time, solved

    def part_attrs(self) -> dict[str, Any]:
        """InferenceData attributes of the draws so far (with the current parameter)."""
        return {**self.attrs, **parameter_attrs(self.cls, self.chain_list)}

    def to_inference_data(self, arrays: dict[str, Any], attrs: dict[str, Any],
                          first_draw: int = 0) -> InferenceData:
        """InferenceData of stacked draws (for the storage, :mod:`.storage`)."""
        return inference_data(self.posterior, arrays, self.store_theta, attrs, first_draw)

    def checkpoint_meta(self) -> dict[str, Any]:
        """What a checkpoint records besides the chains: the run, its time and solves."""
        elapsed, solved = self.elapsed_counts()
        return {**self.base_meta, "elapsed": elapsed, "counts": solved}

    def save(self, complete: bool = False) -> None:
        """Save the resumable state through the storage (a checkpoint)."""
        self.storage.save(self, complete)

    def divergence_error(self, diverged: list[int]) -> SamplerDivergenceError:
        """The error for chains ``diverged`` (indices) with too many divergences, carrying
        the draws so far."""
        chain_list = self.chain_list
        ch = chain_list[diverged[0]]
        n = min(c.buffered() for c in chain_list)
        partial = None
        if n > 0:
            partial = inference_data(self.posterior, stack_draws(chain_list, n),
                                     self.store_theta, self.part_attrs())
        return SamplerDivergenceError(
            f"chain {diverged[0] + 1}/{len(chain_list)}: {ch.num_divergent} of the first "
            f"{ch.iteration} {self.cls.name.upper()} steps diverged (non-finite log density "
            f"or gradient, or a failed PDE solve). Try a smaller step_size (now "
            f"{ch.parameter:g}), a warm start (init='map'), a preconditioner "
            f"(preconditioner='laplace'), a method with an accept step (method='mala' or "
            f"'pcnl'), or a link with bounded growth (link='regular'). The draws so far are "
            f"in this error's .partial.", partial=partial)

    # -- the loop -----------------------------------------------------------------------------

    def run_blocks(self, progress: bool | None) -> None:
        """Advance every chain to ``run.total`` steps (see the module docstring)."""
        run, chain_list, chains = self.run, self.chain_list, len(self.chain_list)
        comm = communicator(self.posterior)
        writer = comm is None or comm.rank == 0
        stop_request = _StopRequest()
        old_handler = None
        storage = self.storage
        if storage.resumable and threading.current_thread() is threading.main_thread():
            old_handler = signal.signal(signal.SIGTERM, stop_request)
        show = progress if progress is not None else sys.stderr.isatty()
        done = min(ch.iteration for ch in chain_list)
        workers = thread_count(self.cores, chains) if self.use_compiled else 1
        cores = self.cores or 1
        processes: AbstractContextManager[Any] = (
            ChainProcesses(run, self.posterior.likelihood.forward.counts, cores, chains)
            if not self.use_compiled and cores > 1 and chains > 1
            else contextlib.nullcontext())
        try:
            with threadpool_limits(limits=1, user_api="blas"), processes, \
                    tqdm(total=run.total * chains, initial=done * chains, disable=not show,
                         desc=f"{self.cls.name} ({chains} chains)", leave=False,
                         mininterval=0.5) as bar, \
                    ThreadPoolExecutor(max_workers=workers) as pool:
                block, last_save = self.block_steps or 10, time.perf_counter()
                while done < run.total:
                    stop = min(run.total, done + block)
                    t0 = time.perf_counter()
                    if self.use_compiled and workers > 1:
                        list(pool.map(lambda ch, s=stop: advance_compiled(run, ch, s),
                                      chain_list))
                    elif isinstance(processes, ChainProcesses):
                        processes.advance(chain_list, stop)
                    else:
                        advance = advance_compiled if self.use_compiled else advance_interpreted
                        for ch in chain_list:
                            advance(run, ch, stop)
                    if self.block_steps is None:
                        dt = time.perf_counter() - t0
                        block = int(np.clip(block * _BLOCK_SECONDS / max(dt, 1e-6), 1,
                                            8 * block))
                        if comm is not None:  # the same block boundaries on every rank
                            block = comm.bcast(block, root=0)
                    new_done = min(ch.iteration for ch in chain_list)
                    bar.update((new_done - done) * chains)
                    done = new_done
                    if show:
                        steps = max(sum(ch.iteration for ch in chain_list), 1)
                        accepted = sum(ch.acceptance_sum for ch in chain_list)
                        bar.set_postfix(acc=f"{accepted / steps:.2f}", refresh=False,
                                        div=sum(ch.num_divergent for ch in chain_list))
                    diverged = [c for c, ch in enumerate(chain_list)
                                if ch.num_divergent > run.max_divergences]
                    if diverged:
                        raise self.divergence_error(diverged)
                    storage.flush(self, everything=False)
                    signalled = stop_request.signal is not None
                    due = storage.due(time.perf_counter() - last_save)
                    if comm is not None:  # decided once, for all ranks
                        signalled = comm.allreduce(int(signalled)) > 0
                        due = comm.bcast(due, root=0)
                    if storage.resumable and (signalled or due):
                        if writer:
                            self.save()
                        last_save = time.perf_counter()
                    if comm is None:  # a signal that came during the save stops here too
                        signalled = stop_request.signal is not None
                    if signalled:
                        if comm is not None:
                            comm.Barrier()  # the checkpoint is on disk before any rank exits
                        raise SamplingInterrupted(
                            f"stopped by signal {stop_request.signal or signal.SIGTERM} after "
                            f"{done} of "
                            f"{run.total} steps per chain; checkpoint written to "
                            f"{str(storage.path)!r}: call sample() again with the same "
                            f"arguments to resume",
                            checkpoint=str(storage.path), iteration=done)
                if show:
                    bar.refresh()  # the final acceptance rate and divergence count
                if storage.resumable:
                    if writer:
                        self.save(complete=True)
                    if comm is not None:
                        comm.Barrier()
                else:
                    storage.flush(self)
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGTERM, old_handler)

    def result(self) -> InferenceData:
        """InferenceData of all kept draws, with the frozen parameter, time and solves."""
        elapsed, solved = self.elapsed_counts()
        attrs = self.part_attrs()
        attrs.update({"num_forward_solves": solved["forward"],
                      "num_adjoint_solves": solved["adjoint"],
                      "num_tangent_solves": solved["tangent"],
                      "num_divergent": sum(ch.num_divergent for ch in self.chain_list),
                      "sampling_time": elapsed})
        return self.storage.result(self, attrs)
