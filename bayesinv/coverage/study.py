r"""Coverage studies: truth → data → posterior → credible set → hit or miss, R times.

The question (Monard, Nickl & Paternain 2021; Nickl 2023) is whether posterior credible sets
are valid frequentist confidence sets: is P(θ₀ ∈ C_N(Y)) ≈ 1 − α? :func:`run_coverage_study`
repeats, for replicates r = 1..R, the synthetic experiment of :mod:`bayesinv.synthetic` — the
truth θ₀^{(r)} fixed (``truth="fixed"``, *frequentist coverage*) or drawn from the prior
(``truth="prior"``, *simulation-based calibration*, where for an exact posterior
P(θ₀ ∈ C) = 1 − α holds exactly, whatever N), data, posterior draws — and scores each
replicate (:mod:`bayesinv.coverage.replicate`): equal-tailed and HDI intervals for scalar
functionals (:mod:`bayesinv.coverage.functionals`), the simultaneous band and the L² ball for
the whole field, ranks of the truth (Talts et al. 2018), convergence diagnostics
(:mod:`bayesinv.coverage.convergence`).

The result is an :class:`xarray.Dataset`: per-replicate hits (replicate × level × kind ×
functional), ranks and diagnostics, and the summary of :mod:`bayesinv.coverage.summary`
(empirical coverage over the replicates that pass the convergence checks, Clopper–Pearson
intervals, binomial tests, rank-uniformity p-values). Replicates failing the checks (or whose
sampler diverged) are *flagged and excluded*, and counted in ``num_flagged``.

Seeds: replicate r uses ``SeedSequence(seed).spawn(R)[r]``, so its result depends on (seed, r)
only — not on the executor, the number of workers or the order in which replicates run.

Parallel replicates: the harness calls ``executor.map(fn, tasks)`` and expects the results in
task order, so any object with that method serves — ``None`` (serial, in this process), a
``concurrent.futures.ProcessPoolExecutor``, or the executors of :mod:`bayesinv.hpc.executors`
(local processes, MPI ranks, Dask). With ``store=DIR`` each replicate's result is written to
its own file as soon as it is done (:mod:`bayesinv.coverage.store`) and the Dataset is merged
from the files, so an interrupted study resumes where it stopped; :func:`plan_coverage_study`
and :func:`assemble_study` are the two halves that make this possible. Tasks are picklable:
the problem is named by a :class:`~bayesinv.coverage.spec.ProblemSpec`. Example::

    # mystudy.py (importable by the workers)
    def my_problem(mesh=32, n_obs=600):
        domain = fem.unit_square(mesh)
        ...
        return CoverageModel(prior, forward, noise_std, truth=theta0,
                             space=domain.parameter_space)

    with ProcessPoolExecutor(2) as pool:
        result = run_coverage_study(
            ProblemSpec(my_problem, {"n_obs": 600}),
            InferenceSpec("ula", {"step_size": 0.1, "preconditioner": "laplace",
                                  "init": "map", "draws": 2000, "chains": 4}),
            replicates=200, seed=1, truth="fixed",
            functionals=[LinearFunctional("<theta,psi>", psi)], executor=pool)

References
----------
S. Talts, M. Betancourt, D. Simpson, A. Vehtari & A. Gelman (2018), Validating Bayesian
inference algorithms with simulation-based calibration, arXiv:1804.06788. F. Monard, R. Nickl
& G. P. Paternain (2021), Consistent inversion of noisy non-Abelian X-ray transforms, CPAM 74.
R. Nickl (2023), *Bayesian non-linear statistical inverse problems*, EMS.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .._validation import integer_at_least, one_of
from .._version import __version__
from ..diagnostics.credible import check_level
from ..errors import InvalidArgumentError
from ..synthetic import InferenceSpec, check_truth, jsonable
from .convergence import DEFAULT_CRITERIA, ConvergenceCriteria
from .functionals import Functional, cached_functional_matrix
from .io import write_netcdf
from .replicate import ReplicateTask, run_replicate
from .spec import FIELD, KINDS, Executor, ProblemSpec
from .summary import summarize_coverage

if TYPE_CHECKING:
    from .store import ReplicateStore


def check_levels(levels: ArrayLike) -> tuple[float, ...]:
    """Credible levels as a sorted tuple of distinct floats, each in (0, 1)."""
    try:
        values = [float(v) for v in np.atleast_1d(np.asarray(levels, dtype=float))]
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"levels must be numbers in (0, 1), got {levels!r}") from exc
    if not values:
        raise InvalidArgumentError("levels must contain at least one level in (0, 1)")
    for v in values:
        check_level(v, "each level")
    if len(set(values)) != len(values):
        raise InvalidArgumentError(f"levels must be distinct, got {levels!r}")
    return tuple(sorted(values))


def run_coverage_study(problem: ProblemSpec, inference: InferenceSpec, *, replicates: int,
                       seed: int, truth: Literal["prior", "fixed"] | ArrayLike = "prior",
                       levels: ArrayLike = (0.5, 0.8, 0.9, 0.95),
                       functionals: Sequence[Functional] = (), kinds: Sequence[str] = KINDS,
                       convergence: ConvergenceCriteria | None = DEFAULT_CRITERIA,
                       sbc_draws: int = 99, pointwise_field: bool = True,
                       executor: Executor | None = None, confidence: float = 0.95,
                       output: str | os.PathLike[str] | None = None,
                       store: str | os.PathLike[str] | ReplicateStore | None = None
                       ) -> xr.Dataset:
    """Run R replicates of truth → data → posterior → credible sets and score them.

    Parameters
    ----------
    problem : ProblemSpec
        ``factory(**kwargs) -> CoverageModel`` (module-level; cached per process).
    inference : InferenceSpec
        The sampler and its settings (or ``"exact"`` for linear–Gaussian problems).
    replicates : int
        R >= 1.
    seed : int
        Root seed; replicate r uses ``SeedSequence(seed).spawn(R)[r]``.
    truth : "prior", "fixed" or array
        "prior": θ₀ drawn from the prior in each replicate (simulation-based calibration);
        "fixed": the model's ``truth`` in every replicate (frequentist coverage); an array:
        that fixed θ₀.
    levels : sequence of float
        Credible levels 1 − α, each in (0, 1).
    functionals : sequence of LinearFunctional, PointValue, NodalValue, Hyperparameter
        Scalar quantities for the interval kinds; the whole field (``"field"``) is always
        scored by the band and L²-ball kinds.
    kinds : subset of ("equal_tailed", "hdi", "band", "l2_ball")
    convergence : ConvergenceCriteria or None
        Replicates failing these checks are flagged and excluded from the coverage counts.
        None computes no diagnostics (NaN) and flags nothing: for exact (independent) draws.
    sbc_draws : int
        Draws (evenly thinned) among which the truth is ranked: ranks lie in {0..sbc_draws}.
        For MCMC keep it below the effective sample size (Talts et al. 2018).
    pointwise_field : bool
        Also record the fraction of nodes whose pointwise interval covers θ₀.
    executor : object with ``map(fn, iterable)``, optional
        E.g. ``concurrent.futures.ProcessPoolExecutor``; None runs serially here.
    confidence : float
        Confidence of the Clopper–Pearson intervals for the coverage.
    output : path, optional
        Also write the Dataset there as netCDF (atomically: temporary file, then rename).
    store : path or :class:`bayesinv.coverage.store.ReplicateStore`, optional
        A results directory: each replicate's result is written there as its own file
        (atomically) as soon as it is done, and the Dataset is merged from those files. A
        rerun with the same arguments skips the replicates already there and recomputes
        truncated or foreign ones; a directory holding a different study is refused. A
        replicate that raises is recorded as failed (with its traceback), not fatal.

    Returns
    -------
    xarray.Dataset
        See :func:`summarize_coverage` for the summary variables; per-replicate variables are
        ``hit`` (replicate, level, kind, functional; NaN where a kind does not apply), ``rank``
        (replicate, kind, functional), ``pointwise_fraction``, ``truth_value``,
        ``posterior_mean``, ``posterior_sd`` (replicate, scalar functional), ``l2_error``,
        ``relative_l2_error``, ``rhat_max``, ``ess_bulk_min``, ``ess_tail_min``,
        ``acceptance_rate``, ``divergences``, ``flagged``, ``flags``, ``failure``,
        ``wall_time`` (replicate); in frequentist mode also ``fixed_truth`` (node). Ranks are
        uniform only in SBC mode (truth ~ prior); at a fixed truth their uniformity p-values
        measure something else (the Bernstein–von Mises approximation and the prior's bias).
    """
    plan = plan_coverage_study(
        problem, inference, replicates=replicates, seed=seed, truth=truth, levels=levels,
        functionals=functionals, kinds=kinds, convergence=convergence, sbc_draws=sbc_draws,
        pointwise_field=pointwise_field, confidence=confidence)
    executor_name = type(executor).__name__ if executor is not None else "serial"
    start = time.perf_counter()
    if store is None:
        run_all = map if executor is None else executor.map
        results = dict(enumerate(run_all(run_replicate, plan.tasks)))
    else:
        from .store import ReplicateStore, run_stored

        if not isinstance(store, ReplicateStore):
            store = ReplicateStore(store)
        store.open(plan.fingerprint(), plan.metadata, fixed_truth=plan.fixed_truth)
        run_stored(store, plan, executor)
        results = store.load_results(range(plan.replicates))
        missing = sorted(set(range(plan.replicates)) - set(results))
        if missing:  # only when a worker was lost without raising (cannot happen serially)
            raise InvalidArgumentError(
                f"replicates {missing[:10]} have no result in {store.directory}; rerun to "
                f"compute them")
    ds = plan.assemble(results, total_wall_time=time.perf_counter() - start,
                       executor=executor_name)
    if output is not None:
        write_netcdf(ds, output)
    return ds


@dataclass(frozen=True, eq=False)
class CoveragePlan:
    """A validated study: one :class:`~bayesinv.coverage.replicate.ReplicateTask` per
    replicate, and how to assemble the results.

    Made by :func:`plan_coverage_study`. ``metadata`` (JSON-serialisable) together with
    ``fixed_truth`` is all :func:`assemble_study` needs, so a results store can merge
    per-replicate files without rebuilding the model.
    """

    tasks: tuple[ReplicateTask, ...]
    metadata: dict[str, Any]
    fixed_truth: NDArray[np.float64] | None

    @property
    def replicates(self) -> int:
        """R, the number of replicates."""
        return len(self.tasks)

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the replicates' results."""
        first = self.tasks[0]
        key = (first.problem, first.inference, first.functionals, first.levels, first.kinds,
               first.truth, first.criteria, first.sbc_draws, first.pointwise_field,
               int(self.metadata["attrs"]["seed"]), self.replicates)
        return hashlib.sha256(pickle.dumps(key)).hexdigest()

    def assemble(self, results: Mapping[int, Mapping[str, Any]], **attrs: Any) -> xr.Dataset:
        """The study Dataset from per-replicate results {replicate index: result}."""
        return assemble_study(results, self.metadata, self.fixed_truth, **attrs)


def plan_coverage_study(problem: ProblemSpec, inference: InferenceSpec, *, replicates: int,
                        seed: int, truth: Literal["prior", "fixed"] | ArrayLike = "prior",
                        levels: ArrayLike = (0.5, 0.8, 0.9, 0.95),
                        functionals: Sequence[Functional] = (), kinds: Sequence[str] = KINDS,
                        convergence: ConvergenceCriteria | None = DEFAULT_CRITERIA,
                        sbc_draws: int = 99, pointwise_field: bool = True,
                        confidence: float = 0.95) -> CoveragePlan:
    """Validate a study's arguments (see :func:`run_coverage_study`) and describe each
    replicate as a picklable task; builds the model once, here, to check it."""
    if not isinstance(problem, ProblemSpec):
        raise InvalidArgumentError(
            f"problem must be a ProblemSpec(factory, kwargs), got {type(problem).__name__}")
    if not isinstance(inference, InferenceSpec):
        raise InvalidArgumentError(
            f"inference must be an InferenceSpec(method, settings), got "
            f"{type(inference).__name__}")
    replicates = integer_at_least("replicates (R)", replicates, 1)
    seed = integer_at_least("seed", seed, 0)
    levels = check_levels(levels)
    kinds = tuple(one_of("kind", k, KINDS) for k in kinds)
    if not kinds or len(set(kinds)) != len(kinds):
        raise InvalidArgumentError(f"kinds must be distinct and non-empty, got {kinds!r}")
    sbc_draws = integer_at_least("sbc_draws", sbc_draws, 1)
    confidence = check_level(confidence, "confidence")
    functionals = tuple(functionals)
    names = [getattr(f, "name", None) for f in functionals]
    if any(not isinstance(n, str) for n in names) or len(set(names)) != len(names) \
            or FIELD in names:
        raise InvalidArgumentError(
            f"functionals need distinct string names other than {FIELD!r}, got {names!r}")
    if convergence is not None and convergence.rhat_max is not None \
            and inference.chains is not None and inference.chains < 2:
        raise InvalidArgumentError(
            f"R-hat needs at least 2 chains, but the inference runs {inference.chains}; run "
            f"more chains or disable the R-hat check (ConvergenceCriteria(rhat_max=None))")
    if isinstance(inference.method, str):  # known before sampling: fail now, not per replicate
        per_replicate = int(inference.settings.get("draws", 1000)) * (inference.chains or 1)
        if sbc_draws > per_replicate:
            raise InvalidArgumentError(
                f"sbc_draws={sbc_draws} exceeds the {per_replicate} posterior draws of a "
                f"replicate; lower sbc_draws or draw more")

    model = problem.build()  # validates the spec, functionals and truth here, not in a worker
    cached_functional_matrix(problem, functionals, model)
    if isinstance(truth, str):
        one_of("truth", truth, ("prior", "fixed"))
        if truth == "fixed" and model.truth is None:
            raise InvalidArgumentError(
                "truth='fixed' needs a CoverageModel with a truth; pass truth= an array or "
                "'prior'")
        fixed = None if truth == "prior" else model.truth
    else:
        fixed = check_truth(truth, model.dim)

    children = np.random.SeedSequence(seed).spawn(replicates)
    tasks = tuple(ReplicateTask(problem, inference, functionals, levels, kinds, fixed, convergence,
                        sbc_draws, pointwise_field, children[r], r) for r in range(replicates))
    metadata = {
        "names": names, "levels": list(levels), "kinds": list(kinds), "sbc_draws": sbc_draws,
        "confidence": confidence,
        "attrs": {
            "mode": "sbc" if fixed is None else "frequentist", "seed": seed,
            "replicates": replicates,
            "problem": f"{problem.factory.__module__}.{problem.factory.__qualname__}",
            "problem_kwargs": json.dumps({k: jsonable(v) for k, v in problem.kwargs.items()}),
            "inference": inference.describe(),
            "convergence": json.dumps(None if convergence is None else convergence.__dict__),
            "sbc_draws": sbc_draws,
        },
    }
    return CoveragePlan(tasks, metadata, fixed)


def assemble_study(results: Mapping[int, Mapping[str, Any]], metadata: Mapping[str, Any],
                   fixed_truth: ArrayLike | None = None, **attrs: Any) -> xr.Dataset:
    """Merge per-replicate results {index: result} into the study Dataset and summarise it.

    ``metadata`` is :attr:`CoveragePlan.metadata`; ``attrs`` are extra Dataset attributes
    (``total_wall_time``, ``executor``, ...). The ``replicate`` coordinate holds the indices
    present, so a partial study (some replicates missing) is summarised over those it has.
    """
    indices = sorted(int(r) for r in results)
    if not indices:
        raise InvalidArgumentError("no replicate results to assemble")
    ds = _assemble([results[r] for r in indices], metadata["names"], metadata["levels"],
                   metadata["kinds"], metadata["sbc_draws"], indices=indices)
    if fixed_truth is not None:
        ds["fixed_truth"] = ("node", np.asarray(fixed_truth, dtype=float))
    ds.attrs.update(metadata["attrs"])
    ds.attrs.update({
        "total_wall_time": float("nan"), "executor": "serial",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "bayesinv_version": __version__,
    })
    ds.attrs.update(attrs)
    return summarize_coverage(ds, confidence=metadata["confidence"])


def _assemble(results: Sequence[Mapping[str, Any]], names: Sequence[str],
              levels: Sequence[float], kinds: Sequence[str], sbc_draws: int,
              indices: Sequence[int] | None = None) -> xr.Dataset:
    rep = np.arange(len(results)) if indices is None else np.asarray(indices)
    stack = lambda key: np.stack([np.asarray(r[key]) for r in results])  # noqa: E731
    failed = np.array([bool(r["failure"]) for r in results])
    flagged = failed | np.array([bool(r["flags"]) for r in results])
    dims4 = ("replicate", "level", "kind", "functional")
    return xr.Dataset(
        {
            "hit": (dims4, stack("hit")),
            "rank": (("replicate", "kind", "functional"), stack("rank")),
            "pointwise_fraction": (("replicate", "level", "kind"), stack("pointwise_fraction")),
            "truth_value": (("replicate", "scalar"), stack("truth_value").reshape(len(rep), -1)),
            "posterior_mean": (("replicate", "scalar"),
                               stack("posterior_mean").reshape(len(rep), -1)),
            "posterior_sd": (("replicate", "scalar"), stack("posterior_sd").reshape(len(rep), -1)),
            **{key: ("replicate", stack(key)) for key in (
                "l2_error", "relative_l2_error", "rhat_max", "ess_bulk_min", "ess_tail_min",
                "acceptance_rate", "divergences", "wall_time")},
            "flagged": ("replicate", flagged),
            "flags": ("replicate", np.array([r["flags"] for r in results], dtype=object)),
            "failure": ("replicate", np.array([r["failure"] for r in results], dtype=object)),
        },
        coords={"replicate": rep, "level": list(levels), "kind": list(kinds),
                "functional": [*names, FIELD], "scalar": list(names)},
    )
