"""The set-up of :func:`~bayesinv.samplers.driver.sample`: a fresh run's chains (warm starts,
preconditioner or reference, scale parameter, first states) or a checkpointed run's, and the
settings a checkpoint must agree with to be resumed."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import real_array
from ..errors import InvalidArgumentError
from ..laplace import LaplaceApproximation
from ..optimize import MAPResult
from . import adaptation
from . import checkpoint as ckpt
from .chains import Chain
from .gibbs import blocks_of, with_hyperparameters
from .lowrank_methods import LowRankMethod
from .runner import Accounting
from .tuning import initial_parameter
from .warmstart import Init, MAPCache, Preconditioner, initial_positions, sqrt_preconditioner

if TYPE_CHECKING:
    from mpi4py import MPI

    from ..posterior import Posterior
    from .auto import MethodChoice
    from .compiled import CompiledTarget
    from .methods import Method, WhitenedTarget


def check_processes(posterior: Posterior, comm: MPI.Comm | None, cores: int | None,
                    stream: str | os.PathLike[str] | None) -> None:
    """Refuse combinations of MPI ranks, worker processes, Gibbs blocks and streaming that
    cannot work together."""
    if stream is not None and comm is not None:
        raise InvalidArgumentError(
            f"Persistence(stream={str(stream)!r}) writes draws from one process, but the "
            f"forward map is distributed over {comm.size} MPI ranks: use Persistence("
            f"checkpoint=...) (written by rank 0) and save the returned draws on rank 0")
    if cores is not None and cores > 1 and blocks_of(posterior):
        raise InvalidArgumentError(
            f"cores={cores}: chains with hyperparameter updates (unknown σ, prior scale τ) "
            f"run in one process; use cores=None or 1")
    if cores is not None and cores > 1 and comm is not None:
        raise InvalidArgumentError(
            f"cores={cores} forks worker processes, but the forward map is distributed over "
            f"{comm.size} MPI ranks: its ranks already share the work (use cores=None, or "
            f"chains on rank groups with bayesinv.hpc.groups.GroupExecutor)")


def resume_settings(checked: dict[str, Any], seed_seq: np.random.SeedSequence, init: Init,
                    preconditioner: Preconditioner, store_theta: bool,
                    surrogate: Posterior | None) -> dict[str, Any]:
    """What must agree for a checkpoint to be resumed (its digest is stored)."""
    keys = ("draws", "warmup", "chains", "thin", "given", "adapt", "target_accept",
            "safety_factor", "curvature_iterations")
    return {
        "method": checked["cls"].name, **{k: checked[k] for k in keys[:4]},
        "seed": (seed_seq.entropy, tuple(seed_seq.spawn_key)),
        **{k: checked[k] for k in keys[4:]},
        "init": init if isinstance(init, str) else real_array(
            "init", init.position if isinstance(init, MAPResult) else init),
        "preconditioner": preconditioner.fingerprint() if isinstance(
            preconditioner, LaplaceApproximation) else preconditioner,
        "max_divergences": checked["max_divergences"], "store_theta": store_theta,
        **({} if surrogate is None else {"surrogate": ckpt.problem_fingerprint(surrogate)}),
    }


def read_checkpoint(path: str | os.PathLike[str] | None, base_meta: dict[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """(meta, arrays) of an existing checkpoint of this run, or None (no file, or no path)."""
    if path is None or not Path(path).exists():
        return None
    meta, arrays = ckpt.read(Path(path))
    ckpt.check_resumable(Path(path), meta, base_meta["problem"], base_meta["settings"])
    return meta, arrays


def start_chains(posterior: Posterior, cls: type[Method], py_target: WhitenedTarget,
                 checked: dict[str, Any], seed_seq: np.random.SeedSequence, init: Init,
                 preconditioner: Preconditioner, choice: MethodChoice | None,
                 ctarget: CompiledTarget | None
                 ) -> tuple[Method, list[Chain], Accounting, dict[str, Any]]:
    """A fresh run's set-up: warm starts, preconditioner or reference, the scale parameter,
    and every chain's first state. Returns (sampler, chains, accounting, checkpoint meta)."""
    counts = posterior.likelihood.forward.counts
    before, start_time = counts.as_dict(), time.perf_counter()
    map_cache = MAPCache(posterior, init if isinstance(init, MAPResult) else
                         map_of(preconditioner, posterior),
                         method=choice.settings.get("map_method", "lbfgs") if choice
                         else "lbfgs")
    rngs = [np.random.default_rng(s) for s in seed_seq.spawn(checked["chains"])]
    positions, init_kind = initial_positions(init, posterior, checked["chains"], rngs,
                                             map_cache)
    precond_start = time.perf_counter()
    low_rank = getattr(cls, "low_rank", False)
    if hasattr(cls, "setup_reference"):  # delayed acceptance: its surrogate
        sqrt_precond, precond_kind = cls.setup_reference(posterior, map_cache)
    else:
        sqrt_precond, precond_kind = sqrt_preconditioner(
            "laplace_lowrank" if preconditioner is None and low_rank else preconditioner,
            posterior, map_cache)
    method = cls(py_target, sqrt_precond=sqrt_precond)
    sampler = with_hyperparameters(posterior, method)
    value, tuning_attrs = initial_parameter(
        cls, checked["given"], adapt=checked["adapt"], warmup=checked["warmup"],
        posterior=posterior, positions=positions,
        sqrt_precond=method.sqrt_apply if isinstance(method, LowRankMethod) else sqrt_precond,
        safety_factor=checked["safety_factor"],
        curvature_iterations=checked["curvature_iterations"])
    if low_rank:
        tuning_attrs["laplace_rank"] = int(sqrt_precond.shape[0] - 1)
        tuning_attrs["preconditioner_time"] = time.perf_counter() - precond_start
    after_setup = counts.as_dict()
    tuning_attrs["setup_time"] = time.perf_counter() - start_time
    tuning_attrs["num_setup_solves"] = sum(after_setup.values()) - sum(before.values())
    # solve counts and time from here on are the chains' own
    accounting = Accounting(0.0, {"forward": 0, "adjoint": 0, "tangent": 0}, after_setup,
                            time.perf_counter())
    chain_list = []
    for c in range(checked["chains"]):
        x0 = np.ascontiguousarray(positions[c])
        if ctarget is not None:
            state, prediction = sampler.init_compiled(x0, ctarget), None
        else:
            state, prediction = sampler.init(x0)
        chain_list.append(Chain(rngs[c], state, value, adaptation.init(value),
                                prediction=prediction))
    return sampler, chain_list, accounting, {
        "init_kind": init_kind, "preconditioner_kind": precond_kind, "tuning": tuning_attrs}


def resume_chains(posterior: Posterior, cls: type[Method], py_target: WhitenedTarget,
                  meta: dict[str, Any], arrays: dict[str, np.ndarray], start_time: float
                  ) -> tuple[Method, list[Chain], Accounting, dict[str, Any]]:
    """The chains, sampler and accounting of a checkpointed run (see :func:`start_chains`)."""
    R = arrays["sqrt_precond"]
    sampler = with_hyperparameters(posterior,
                                   cls(py_target, sqrt_precond=None if R.size == 0 else R))
    chain_list = ckpt.restore_chains(meta, arrays, sampler)
    accounting = Accounting(meta["elapsed"], meta["counts"],
                            posterior.likelihood.forward.counts.as_dict(), start_time)
    return sampler, chain_list, accounting, {
        k: meta[k] for k in ("init_kind", "preconditioner_kind", "tuning")}


def map_of(preconditioner: Preconditioner, posterior: Posterior) -> MAPResult | None:
    """A Laplace approximation's mean as the MAP (so init='map' does not recompute it)."""
    if not isinstance(preconditioner, LaplaceApproximation):
        return None
    if preconditioner.dim != posterior.whitened.dim:
        raise InvalidArgumentError(
            f"the Laplace approximation has dimension {preconditioner.dim}, the posterior "
            f"{posterior.whitened.dim}: was it built for another posterior?")
    mean = preconditioner.mean
    return MAPResult(mean, posterior.prior.to_physical(mean), float("nan"), True,
                     "the Laplace approximation's mean", 0)
