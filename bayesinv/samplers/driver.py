"""``sample()``: run chains of a sampler on a posterior and return ArviZ InferenceData.

Chains get independent random streams spawned from one seed
(``SeedSequence(seed).spawn(chains)``): the same seed gives identical draws, whatever else
runs in the process. Two loops run the same kernel code:

* the **interpreted loop** (numba propose/accept around the Python target, i.e. the PDE
  solve; ~25 µs per step on top of it);
* the **compiled loop** (:mod:`.compiled`), used when the posterior has a numba-compiled
  target (linear forward maps with Gaussian priors, or a user's
  :class:`~.compiled.CompiledTarget`), running whole segments of each chain in numba, one
  thread per chain with the GIL released.

All chains advance together in *blocks* of steps (about half a second each). Between blocks
the driver updates the progress bar, hands kept draws to the storage (in memory, streamed to
disk, checkpointed: :mod:`.storage`) and honours SIGTERM (:class:`.runner.ChainRunner`); block
boundaries never change the draws, since each chain owns its Generator, kernel state and
adaptation state. Settings are checked by :mod:`.settings` (shared with batch configs), fresh
or checkpointed chains set up by :mod:`.setup`; the tuning and persistence options are passed
grouped, as ``tuning=Tuning(...)`` and ``persistence=Persistence(...)`` (:mod:`.options`).

Warm-up: the first ``warmup`` steps are discarded; during them pCN's β and MALA's, pCN-
Langevin's and RWM's step are adapted by dual averaging (:mod:`.adaptation`) to a target
acceptance rate, then frozen. ULA-type methods have no acceptance rate: their step is
``safety_factor / λ_max`` with λ_max the largest eigenvalue of the Gauss–Newton Hessian at
the warm start (power iteration, :mod:`.tuning`), unless given.

BLAS is limited to one thread while chains run: per-step linear algebra is small (a prior
factor times ξ, a sparse factorisation of a few thousand unknowns), and measured on 2 cores a
multi-threaded OpenBLAS made each Schrödinger ULA step ~1.8× slower (1.96 vs 1.07 ms at 32²)
through thread wake-ups. Cores are better used across chains and replicates.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict
from typing import TYPE_CHECKING, Literal, Never

import numpy as np

from .._validation import spd_matrix
from .._version import __version__
from ..arviz_io import convergence_diagnostics
from ..errors import BayesinvWarning, InvalidArgumentError
from ..laplace import LaplaceApproximation
from ..posterior import Posterior
from . import checkpoint as ckpt
from .auto import choose_method
from .chains import RunSettings
from .compiled import CompiledTarget, InterpretedAdapter
from .exact import exact_from_sample_options
from .options import Persistence, Tuning, checked_group, refuse_moved_keywords
from .parallel import check_cores
from .runner import ChainRunner, communicator
from .settings import LOOPS, check_settings, choose_loop
from .setup import check_processes, read_checkpoint, resume_chains, resume_settings, start_chains
from .warmstart import seed_sequence

if TYPE_CHECKING:
    import arviz
    from numpy.typing import ArrayLike

    from ..optimize import MAPResult

__all__ = ["LOOPS", "check_settings", "sample"]

_NEVER = 2**62  # "no divergence limit" for methods with an accept step
#: Warn when the worst bulk or tail ESS of ξ is below this many draws per chain
#: (Vehtari et al. 2021 ask for 100 per chain before trusting R-hat and the MCSE).
ESS_PER_CHAIN = 100
RHAT_MAX = 1.01


# -- results --------------------------------------------------------------------------------

def _warn_if_not_converged(idata: arviz.InferenceData, chains: int) -> dict[str, float]:
    """R-hat, ESS and MCSE of ξ (ArviZ); a BayesinvWarning naming the worst coordinates."""
    diag = convergence_diagnostics(idata, "xi")
    ess_min = np.minimum(diag["ess_bulk"], diag["ess_tail"])
    with warnings.catch_warnings():  # too few draws: all NaN, reported as NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = {"rhat_max": float(np.nanmax(diag["rhat"])),
                   "ess_bulk_min": float(np.nanmin(diag["ess_bulk"])),
                   "ess_tail_min": float(np.nanmin(diag["ess_tail"])),
                   "mcse_mean_max": float(np.nanmax(diag["mcse_mean"]))}
    threshold = ESS_PER_CHAIN * chains
    bad_rhat = np.flatnonzero(~(diag["rhat"] <= RHAT_MAX))
    bad_ess = np.flatnonzero(~(ess_min >= threshold))
    if bad_rhat.size or bad_ess.size:
        # worst first: highest R-hat, then lowest ESS (NaN, i.e. too few draws, counts as worst)
        order = np.lexsort((np.nan_to_num(ess_min, nan=-1.0),
                            -np.nan_to_num(diag["rhat"], nan=np.inf)))
        worst = [int(i) for i in order[:5]]
        listed = ", ".join(f"xi[{i}] (R-hat {diag['rhat'][i]:.3f}, ESS bulk "
                           f"{diag['ess_bulk'][i]:.0f}, tail {diag['ess_tail'][i]:.0f})"
                           for i in worst)
        warnings.warn(
            f"the chains have not converged: {bad_rhat.size} coordinates of xi have R-hat > "
            f"{RHAT_MAX} and {bad_ess.size} have bulk or tail ESS < {threshold} "
            f"({ESS_PER_CHAIN} per chain); worst: {listed}. Run longer chains (draws, "
            f"warmup), start at the MAP (init='map') or use a better-suited method; pass "
            f"diagnostics=False to skip this check.", BayesinvWarning, stacklevel=3)
    return summary


def sample(posterior: Posterior, method: str | None = None, *, draws: int = 1000,
           warmup: int | None = None, chains: int = 4,
           seed: int | np.random.SeedSequence | None = None, step_size: float | None = None,
           beta: float | None = None,
           init: Literal["prior", "map"] | MAPResult | ArrayLike | None = None, thin: int = 1,
           preconditioner: Literal["laplace", "laplace_lowrank"] | LaplaceApproximation
           | ArrayLike | None = None,
           store_theta: bool = True, progress: bool | None = None,
           loop: Literal["auto", "interpreted", "compiled"] = "auto",
           compiled: CompiledTarget | None = None, diagnostics: bool = True,
           surrogate: Posterior | None = None, cores: int | None = None,
           tuning: Tuning | None = None, persistence: Persistence | None = None,
           **moved: Never) -> arviz.InferenceData:
    """Draw from the posterior with a numba-kernel MCMC sampler.

    Parameters
    ----------
    posterior : Posterior
    method : str or None
        One of None, "pcn", "pcnl", "mala", "ula", "pula", "rwm", "gpcn", "gpcnl", "dili",
        "da", "exact". None (default): chosen for the posterior by
        :func:`bayesinv.samplers.auto.choose_method` — exact draws for a linear–Gaussian
        problem, gpCN-Langevin from the MAP with the low-rank Laplace reference when the
        forward map has a tangent-linear map, pCN-Langevin from the MAP with gradients only,
        pCN otherwise; warm-up ``DEFAULT_WARMUP`` (500) steps adapting the scale; the choice
        and the reason are recorded in the attributes ``method_choice`` and
        ``method_reason``. "exact": independent draws from the Gaussian posterior of a
        linear–Gaussian problem (:func:`bayesinv.samplers.exact.sample_exact`; takes
        ``draws``, ``chains``, ``seed``, ``store_theta``; no chain diagnostics). The others, in
        the prior-whitened coordinates ξ: pCN (Cotter et al. 2013; scale ``beta``),
        pCN-Langevin / ∞-MALA (``step_size`` δ), MALA (δ), the unadjusted Langevin algorithm
        (δ), prior-preconditioned Crank–Nicolson ULA (δ), random-walk Metropolis (proposal
        sd ``step_size``), generalised pCN (``beta``) and generalised pCN-Langevin (δ ≤ 2)
        with the low-rank Laplace approximation as reference Gaussian (Pinski et al. 2015;
        built at the MAP unless ``preconditioner`` gives one), DILI (δ ≤ 2: Langevin on the
        likelihood-informed subspace of that Laplace approximation, pCN on its complement;
        :mod:`bayesinv.samplers.dili`) and two-stage delayed acceptance with pCN (``beta``;
        a cheap ``surrogate`` screens proposals, the full posterior corrects them;
        :mod:`bayesinv.samplers.delayed_acceptance`). See :mod:`bayesinv.samplers.kernels`.
    draws : int
        Draws kept per chain (after warm-up and thinning); >= 1.
    warmup : int, optional
        Initial steps discarded per chain (burn-in, and adaptation); >= 0. Default 0 with a
        given method, 500 with the automatic choice.
    chains : int
        Independent chains; >= 1 (>= 4 for meaningful R-hat).
    seed : int, SeedSequence or None
        Root seed; chain c uses ``default_rng(SeedSequence(seed).spawn(chains)[c])``. None
        draws fresh entropy, recorded in the ``seed`` attribute so the run can be repeated.
    step_size : float, optional
        The kernel's scale parameter: δ > 0 (ULA, MALA, pCN-Langevin, pULA; δ ≤ 2 for the
        last two) or RWM's s > 0. ULA/pULA without it use ``Tuning.safety_factor / λ_max``
        (Gauss–Newton curvature at the warm start; λ_max − 1 for pULA); MALA, pCN-Langevin
        and RWM adapt it in warm-up.
    beta : float, optional
        pCN's scale parameter β in (0, 1]; adapted in warm-up when not given.
    init : "prior", "map", MAPResult or array, optional
        Start at independent prior draws (over-dispersed; the default with a given method;
        the automatic choice starts gradient methods at the MAP), at the MAP estimate
        (L-BFGS warm start; pass the result of :func:`bayesinv.find_map` to reuse one already
        computed, also for ``preconditioner="laplace"``), or at given whitened positions,
        shape (k,) or (chains, k).
    thin : int
        Keep every ``thin``-th step after warm-up (so ``warmup + draws*thin`` steps in all).
    preconditioner : None, "laplace", "laplace_lowrank", LaplaceApproximation or array (k, k)
        ULA and MALA: a constant preconditioner C (the proposal becomes ξ + δ C ∇log π +
        √(2δ) C^½ η). "laplace" uses the inverse Gauss–Newton Hessian at the MAP estimate,
        dense (k tangent solves, O(k²) per step), which makes δ ≈ 0.1 appropriate however
        informative the data. A :class:`~bayesinv.laplace.LaplaceApproximation`
        (:func:`bayesinv.laplace`) or "laplace_lowrank" (one built at the MAP with the
        default threshold) is its low-rank form C = I − V D Vᵀ, applied in O(k r) per step;
        it is also the reference Gaussian of "gpcn" and "gpcnl". A user matrix must be
        finite, symmetric and positive definite.
    store_theta : bool
        Store θ = T(ξ) for each draw (dim × draws per chain); ξ is always stored.
    progress : bool or None
        Show a progress bar (acceptance rate, divergences); None shows it only when stderr is
        a terminal.
    loop : {"auto", "interpreted", "compiled"}
        "auto" uses the compiled loop when the posterior has a compiled target.
    compiled : CompiledTarget, optional
        A user's numba target (see :mod:`bayesinv.samplers.compiled`), overriding the
        automatic one; with ``loop="interpreted"`` it is evaluated from Python.
    surrogate : Posterior, optional
        ``method="da"`` only: a cheaper posterior on the same whitened space (e.g. a coarser
        mesh) for the first stage; None (default) uses the forward map linearised at the MAP.
    diagnostics : bool
        Compute R-hat, bulk/tail ESS and MCSE of ξ (stored in the attributes) and warn
        (:class:`BayesinvWarning`) naming the worst coordinates when R-hat > 1.01 or ESS <
        100 per chain.
    cores : int, optional
        Cores the chains run on, 1 <= cores <= the cores this process may use. Interpreted
        loop (PDE targets): chains run in ``cores`` fork-started worker processes
        (:mod:`.parallel`), default 1 (this process); draws, checkpoints and streams are
        bit-identical to ``cores=1`` and solve counts are summed. Compiled loop: threads,
        default one per chain up to the cores available.
    tuning : Tuning, optional
        How the scale parameter is tuned (:class:`bayesinv.samplers.Tuning`; None: its
        defaults). ``adapt``: adapt it during warm-up to ``target_accept`` (dual averaging)
        and freeze it afterwards; default: when it is not given (and the method has an accept
        step); with a given value and ``adapt=True`` that value is the start.
        ``target_accept`` in (0, 1): default 0.25 (pCN, RWM) or 0.574 (MALA, pCN-Langevin).
        ``safety_factor``: ULA/pULA default step δ = safety_factor / λ_max (stability needs
        < 2), λ_max by ``curvature_iterations`` power iterations (2 linearised solves each).
        ``max_divergences``: ULA/pULA stop with :class:`SamplerDivergenceError` when a chain
        has more diverging steps than this (default: 5% of its steps, at least 10); methods
        with an accept step count failed solves as rejections and never stop.
    persistence : Persistence, optional
        Where the draws and the resumable state go (:class:`bayesinv.samplers.Persistence`;
        None: in memory), through one storage object (:mod:`bayesinv.samplers.storage`).
        ``checkpoint`` (a path): a resumable run, whose state is saved there (atomically)
        every ``checkpoint_interval`` seconds, at the end and on SIGTERM (which then stops
        the run with :class:`SamplingInterrupted`); if the file exists, the run resumes from
        it — after checking that it belongs to this problem and these settings — and the
        draws are bit-identical to an uninterrupted run. ``stream`` (a directory): kept draws
        are written there as netCDF parts while the run goes on (every ``stream_every`` draws
        and at checkpoints), not kept in memory, and the result is read back from the parts
        at the end.
    **moved
        Nothing: the former keyword arguments ``adapt``, ``target_accept``,
        ``safety_factor``, ``curvature_iterations``, ``max_divergences`` (now in ``tuning``)
        and ``checkpoint``, ``checkpoint_interval``, ``stream``, ``stream_every`` (now in
        ``persistence``) raise an :class:`~bayesinv.errors.InvalidArgumentError` that names
        the new spelling; any other unknown keyword is a ``TypeError``.

    Returns
    -------
    arviz.InferenceData
        ``posterior``: ``xi`` (chain, draw, mode) and ``theta`` (chain, draw, node);
        ``sample_stats``: ``lp``, ``acceptance_rate``, ``diverging``, ``step_size`` (the
        frozen scale parameter); ``log_likelihood``: ``y``; ``observed_data``: ``y``;
        attributes: sampler, its parameters and how they were chosen, seed, loop, solve
        counts, time, diagnostics and version.

    Raises
    ------
    InvalidArgumentError
        A setting out of range or not taken by the method (naming it), or a former keyword
        argument of ``tuning`` or ``persistence``.

    Examples
    --------
    >>> idata = sample(posterior, "mala", step_size=0.1,
    ...                tuning=Tuning(target_accept=0.6),
    ...                persistence=Persistence(checkpoint="run.ckpt"))  # doctest: +SKIP
    """
    if not isinstance(posterior, Posterior):
        raise InvalidArgumentError(
            f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
    refuse_moved_keywords("sample", moved)
    tuning = checked_group("tuning", tuning, Tuning)
    persistence = checked_group("persistence", persistence, Persistence)
    options = {"warmup": warmup, "init": init, "step_size": step_size,
               "beta": beta, "thin": thin, "preconditioner": preconditioner,
               "adapt": tuning.adapt, "target_accept": tuning.target_accept,
               "compiled": compiled, "checkpoint": persistence.checkpoint,
               "stream": persistence.stream}
    choice = None
    if method is None:
        choice = choose_method(posterior, options)
        method = choice.method
        warmup = choice.settings.get("warmup", 0) if warmup is None else warmup
        init = choice.settings.get("init", "prior") if init is None else init
    warmup, init = (0 if warmup is None else warmup), ("prior" if init is None else init)
    if method == "exact":
        idata = exact_from_sample_options(
            posterior, draws=draws, chains=chains, seed=seed, store_theta=store_theta,
            unused={**options, "warmup": warmup, "init": init})
        if choice is not None:
            idata.attrs.update(choice.attrs)
        return idata   # independent draws: no chain diagnostics (``diagnostics`` unused)
    checked = check_settings(method, draws=draws, warmup=warmup, chains=chains, thin=thin,
                             step_size=step_size, beta=beta, preconditioner=preconditioner,
                             loop=loop, surrogate=surrogate, **asdict(tuning))
    cls = checked["cls"]
    storage = persistence.storage()
    comm, cores = communicator(posterior), check_cores(cores)
    check_processes(posterior, comm, cores, persistence.stream)
    ctarget, use_compiled = choose_loop(posterior, compiled, checked["loop"])
    use_compiled = use_compiled and getattr(cls, "compiled_loop", True)
    if preconditioner is not None and not isinstance(preconditioner,
                                                     (str, LaplaceApproximation)):
        preconditioner = spd_matrix("preconditioner", preconditioner, posterior.whitened.dim)
    seed_seq = seed_sequence(seed)
    base_meta = {"problem": ckpt.problem_fingerprint(posterior), "method": cls.name,
                 "settings": ckpt.digest(resume_settings(checked, seed_seq, init, preconditioner,
                                                   store_theta, surrogate))}
    resume = read_checkpoint(persistence.checkpoint, base_meta)
    py_target = InterpretedAdapter(compiled) if (
        compiled is not None and not use_compiled) else posterior.whitened
    start_time = time.perf_counter()
    if resume is None:
        setup = start_chains(posterior, cls, py_target, checked, seed_seq, init,
                              preconditioner, choice, ctarget if use_compiled else None)
        storage.start(None)
    else:
        resumed_meta, resumed_arrays = resume
        setup = resume_chains(posterior, cls, py_target, resumed_meta, resumed_arrays, start_time)
        storage.start(resumed_meta["streamed"])
    sampler, chain_list, accounting, meta = setup
    base_meta.update(meta)
    draws, warmup, thin = checked["draws"], checked["warmup"], checked["thin"]
    run = RunSettings(sampler, warmup, thin, warmup + draws * thin, checked["adapt"],
                      checked["target_accept"],
                      checked["max_divergences"] if cls.stops_on_divergence else _NEVER,
                      ctarget if use_compiled else None)
    attrs = {
        "sampler": cls.name, "draws": draws, "warmup": warmup, "thin": thin,
        "chains": checked["chains"], "init": meta["init_kind"],
        "preconditioner": meta["preconditioner_kind"],
        "loop": "compiled" if use_compiled else "interpreted", "adapted": int(checked["adapt"]),
        **({"target_accept": checked["target_accept"]} if checked["adapt"] else {}),
        **meta["tuning"],
        "seed": str(seed_seq.entropy), "seed_spawn_key": str(tuple(seed_seq.spawn_key)),
        "inference_library": "bayesinv", "inference_library_version": __version__,
    }
    runner = ChainRunner(posterior, cls, chain_list, run, attrs, accounting,
                         resumed=resume is not None, store_theta=store_theta, storage=storage,
                         base_meta=base_meta, cores=cores)
    runner.run_blocks(progress)
    idata = runner.result()
    if hasattr(cls, "result_attrs"):  # e.g. delayed acceptance's full and surrogate solves
        idata.attrs.update(cls.result_attrs(chain_list))
    if choice is not None:
        idata.attrs.update(choice.attrs)
    if diagnostics:
        idata.attrs.update(_warn_if_not_converged(idata, checked["chains"]))
    return idata
