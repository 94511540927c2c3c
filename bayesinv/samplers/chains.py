"""Chains advancing through their steps: the state a chain carries and the two loops.

A :class:`Chain` owns everything that determines its future: its ``Generator``, the kernel
state, the current scale parameter and dual-averaging state, counters and the draws kept but
not yet written out (a checkpoint saves exactly this). :func:`advance_interpreted` and
:func:`advance_compiled` move a chain to a given iteration with the same kernels, the same
warm-up schedule (:func:`bayesinv.samplers.adaptation.schedule`) and the same thinning rule
(:func:`bayesinv.samplers.compiled.is_kept`), so the draws do not depend on the loop or on
where a run was split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._rowwise import rowwise
from . import adaptation
from .compiled import CompiledTarget, evaluation_for, is_kept, run_segment
from .kernels._common import KernelState
from .methods import Method

#: what is kept per draw: position, lp, acceptance rate, divergence, scale, prediction G(θ),
#: and the hyperparameters of a Gibbs-wrapped method (:mod:`.gibbs`; None otherwise)
DRAW_KEYS = ("xi", "lp", "acceptance_rate", "diverging", "step_size", "prediction", "hyper")


@dataclass
class Chain:
    """One chain's complete state: what a checkpoint saves."""

    rng: np.random.Generator
    state: KernelState
    parameter: float
    adapt_state: adaptation.DualAveragingState
    iteration: int = 0
    num_divergent: int = 0
    acceptance_sum: float = 0.0
    prediction: NDArray[np.float64] | None = None
    #: per key of ``DRAW_KEYS``, the blocks of kept draws not yet written out (a None block:
    #: nothing recorded for that key, e.g. no prediction or no hyperparameters)
    buffer: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in DRAW_KEYS})

    def buffered(self) -> int:
        """How many kept draws the buffer holds."""
        return sum(len(a) for a in self.buffer["lp"])

    def take(self, key: str, count: int | None = None) -> np.ndarray | None:
        """The buffered draws of ``key`` as one array (the first ``count``), or None when a
        block has none."""
        parts = self.buffer[key]
        if not parts or any(p is None for p in parts):
            return None
        arr = np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0])
        return arr if count is None else arr[:count]


@dataclass
class RunSettings:
    """The fixed settings of one run."""

    method: Method
    warmup: int
    thin: int
    total: int
    adapt: bool
    target_accept: float
    max_divergences: int
    compiled: CompiledTarget | None


def num_kept(start: int, stop: int, warmup: int, thin: int) -> int:
    """How many of the steps start..stop-1 are stored (see :func:`.compiled.is_kept`)."""
    lo = max(start, warmup)
    if lo >= stop:
        return 0
    first = warmup + -(-(lo - warmup) // thin) * thin
    return 0 if first >= stop else (stop - 1 - first) // thin + 1

def advance_interpreted(run: RunSettings, chain: Chain, stop: int) -> None:
    """Advance ``chain`` to iteration ``stop`` with the interpreted loop (Python target);
    kept draws go to its buffer."""
    method = run.method
    log_max = float(np.log(method.max_parameter))
    rows: dict[str, list[Any]] = {k: [] for k in DRAW_KEYS}
    for i in range(chain.iteration, stop):
        chain.state, stats, prediction = method.step(chain.state, chain.parameter, chain.rng)
        if prediction is not None:
            chain.prediction = prediction
        chain.num_divergent += bool(stats.diverging)
        chain.acceptance_sum += stats.acceptance_rate
        if run.adapt and i < run.warmup:
            chain.adapt_state, parameter = adaptation.schedule(
                chain.adapt_state, stats.acceptance_rate, run.target_accept, log_max, i,
                run.warmup)
            chain.parameter = float(parameter)
        if is_kept(i, run.warmup, run.thin):
            rows["xi"].append(chain.state.position.copy())
            rows["lp"].append(stats.lp)
            rows["acceptance_rate"].append(stats.acceptance_rate)
            rows["diverging"].append(bool(stats.diverging))
            rows["step_size"].append(chain.parameter)
            rows["prediction"].append(chain.prediction)
            rows["hyper"].append(getattr(chain.state, "hyper", None))
        chain.iteration = i + 1
        if chain.num_divergent > run.max_divergences:
            break
    if rows["lp"]:
        for k in DRAW_KEYS:
            chain.buffer[k].append(None if any(p is None for p in rows[k]) else np.asarray(
                rows[k]))


def advance_compiled(run: RunSettings, chain: Chain, stop: int) -> None:
    """Advance ``chain`` to iteration ``stop`` with the compiled loop
    (:func:`.compiled.run_segment`); kept draws go to its buffer."""
    method, target = run.method, run.compiled
    if target is None:
        raise ValueError("advance_compiled needs a compiled target, but run.compiled is None "
                         "(a Python target runs in advance_interpreted)")
    n = num_kept(chain.iteration, stop, run.warmup, run.thin)
    k = chain.state.position.shape[0]
    out = {"xi": np.empty((n, k)), "lp": np.empty(n), "acceptance_rate": np.empty(n),
           "diverging": np.zeros(n, dtype=np.bool_), "step_size": np.empty(n)}
    (chain.state, chain.adapt_state, parameter, chain.num_divergent, acc_sum, kept,
     chain.iteration) = run_segment(
        method.kernel.step, method.kernel.logdensity, chain.state, chain.rng,
        evaluation_for(method.kernel, target), target.args, method.sqrt_precond,
        method.inv_sqrt_precond, chain.iteration, stop, run.warmup, run.thin,
        float(chain.parameter), chain.adapt_state, run.adapt, run.target_accept,
        float(np.log(method.max_parameter)), run.max_divergences, chain.num_divergent,
        out["xi"], out["lp"], out["acceptance_rate"], out["diverging"], out["step_size"])
    chain.parameter = float(parameter)
    chain.acceptance_sum += acc_sum
    if kept:
        for key, arr in out.items():
            chain.buffer[key].append(arr[:kept])
        chain.buffer["prediction"].append(
            None if target.predict is None else rowwise(target.predict, out["xi"][:kept]))


def stack_draws(chains: list[Chain], count: int | None = None
                ) -> dict[str, np.ndarray | None]:
    """Stack the chains' buffered draws (the first ``count`` of each) to (chain, draw, ...)."""
    out: dict[str, np.ndarray | None] = {}
    for key in DRAW_KEYS:
        parts = [c.take(key, count) for c in chains]
        arrays = [p for p in parts if p is not None]
        out[key] = np.stack(arrays) if len(arrays) == len(parts) else None
    return out
