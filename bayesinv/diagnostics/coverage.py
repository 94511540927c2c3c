r"""Coverage studies: truth → data → posterior → credible set → hit or miss, R times.

The question (Monard, Nickl & Paternain 2021; Nickl 2023) is whether posterior credible sets
are valid frequentist confidence sets: is P(θ₀ ∈ C_N(Y)) ≈ 1 − α? :func:`run_coverage_study`
repeats, for replicates r = 1..R,

1. the truth θ₀^{(r)}: a fixed θ₀ (``truth="fixed"``, *frequentist coverage*) or a draw from
   the prior (``truth="prior"``, *simulation-based calibration*, where for an exact posterior
   P(θ₀ ∈ C) = 1 − α holds exactly, whatever N);
2. data Y^{(r)} = G(θ₀^{(r)}) + σ ε^{(r)};
3. posterior draws (any sampler of :func:`bayesinv.sample`, the exact posterior of a
   linear–Gaussian problem, or a user function);
4. credible sets at each level (see :mod:`bayesinv.diagnostics.credible`): equal-tailed and
   HDI intervals for scalar functionals (⟨θ, ψ⟩_{L²}, point values θ(x), nodal values),
   and the simultaneous band and the L² ball for the whole field;
5. hit or miss, the rank of the truth among thinned draws (Talts et al. 2018), and convergence
   diagnostics (R-hat, bulk/tail ESS, acceptance, divergences; see
   :class:`ConvergenceCriteria` for what is monitored).

The result is an :class:`xarray.Dataset` (write it with ``to_netcdf``): per-replicate hits
(replicate × level × kind × functional), ranks and diagnostics; empirical coverage over the
replicates that pass the convergence checks, with Clopper–Pearson intervals and a binomial test
against the nominal level; rank-uniformity p-values (χ² test). Replicates failing the checks
(or whose sampler diverged) are *flagged and excluded*, and counted in ``num_flagged``.

Seeds: replicate r uses the r-th child of ``SeedSequence(seed)`` (i.e.
``SeedSequence(seed).spawn(R)[r]``) and its children 0, 1, 2 for the truth, the noise and the
sampler, so a replicate's result depends on (seed, r) only — not on the executor, the number of
workers or the order in which replicates run.

Parallel replicates: the harness calls ``executor.map(fn, tasks)`` and expects the results in
task order, so any object with that method serves — ``None`` (serial, in this process), a
``concurrent.futures.ProcessPoolExecutor`` for local processes, or the executors of
:mod:`bayesinv.hpc.executors` (local processes, MPI ranks, Dask). With ``store=DIR`` each
replicate's result is written to its own file as soon as it is done
(:mod:`bayesinv.hpc.store`) and the Dataset is merged from the files, so an interrupted study
resumes where it stopped; :func:`plan_coverage_study` and :func:`assemble_study` are the two
halves that make this possible.
A task must be picklable, and dolfinx meshes and forward maps are not. So a replicate is
described by *specs*: a :class:`ProblemSpec` names a module-level factory
``factory(**kwargs) -> CoverageModel`` that builds the mesh, forward map, prior and truth; each
worker process calls it once and caches the model (keyed by the pickled spec), so the FEM
set-up is paid once per process, not per replicate. Callables inside specs (ψ, a custom
inference function) must likewise be module-level functions. Example::

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

With the ``fork`` start method (Linux's default) workers inherit the parent's cache; with
``spawn``/``forkserver`` they rebuild the model once each.

References
----------
S. Talts, M. Betancourt, D. Simpson, A. Vehtari & A. Gelman (2018), Validating Bayesian
inference algorithms with simulation-based calibration, arXiv:1804.06788. C. J. Clopper &
E. S. Pearson (1934), Biometrika 26. R. Nickl (2023), *Bayesian non-linear statistical inverse
problems*, EMS.
"""

from __future__ import annotations

import datetime
import json
import pickle
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import scipy.stats
import xarray as xr
from threadpoolctl import threadpool_limits

from .._files import atomic_path
from .._validation import integer_at_least, one_of, positive_float
from .._version import __version__
from ..errors import (
    BayesinvWarning,
    ForwardSolveError,
    InvalidArgumentError,
    SamplerDivergenceError,
)
from .arviz_io import dataset_from_draws, ess, hdi, rhat
from .credible import (
    band_statistics,
    check_level,
    functional_weights,
    l2_norm,
    point_weights,
    posterior_draws,
    sup_statistic,
)

#: credible-set kinds: marginal intervals (scalar functionals) and whole-field sets
KINDS = ("equal_tailed", "hdi", "band", "l2_ball")
SCALAR_KINDS = ("equal_tailed", "hdi")
FIELD_KINDS = ("band", "l2_ball")
FIELD = "field"


# -- what a study is about -------------------------------------------------------------------

@dataclass
class CoverageModel:
    """The fixed part of a study: prior, forward map, noise level, and how to measure θ.

    Parameters
    ----------
    prior : WhitenedPrior
    forward : ForwardMap
    noise_std : float
    truth : array, optional
        θ₀ (nodal values) for frequentist studies (``truth="fixed"``).
    space : LagrangeSpace, optional
        The FE space of θ: interpolates callable ψ, evaluates θ(x), gives the mass matrix.
    mass_matrix : sparse matrix, optional
        M for ⟨u, v⟩_{L²} = uᵀ M v; defaults to ``space.mass_matrix``, else the identity
        (θ a plain coefficient vector).
    noise_hyper : (a, b), optional
        Unknown noise level: σ² ~ InvGamma(a, b), sampled by the Gibbs step of
        :class:`~bayesinv.likelihoods.UnknownNoiseLikelihood` (variable ``sigma``). The true σ
        is drawn from it (``truth="prior"``) or is ``noise_std`` (a fixed truth).
    scale_hyper : (a, b), optional
        Unknown prior amplitude: :class:`~bayesinv.hierarchical.ScaledPrior` with τ² ~
        InvGamma(a, b) (variable ``tau``); the true τ is drawn from it, or is 1 for a fixed
        truth. Score either with the functional :class:`Hyperparameter`.
    """

    prior: object
    forward: object
    noise_std: float
    truth: np.ndarray | None = None
    space: object = None
    mass_matrix: object = None
    noise_hyper: tuple | None = None
    scale_hyper: tuple | None = None

    def __post_init__(self):
        from ..likelihoods.noise import inverse_gamma_parameters

        self.noise_std = positive_float("noise_std", self.noise_std)
        for name in ("noise_hyper", "scale_hyper"):
            value = getattr(self, name)
            if value is not None:
                if np.ndim(value) != 1 or len(value) != 2:
                    raise InvalidArgumentError(f"{name} must be a pair (a, b), got {value!r}")
                setattr(self, name, inverse_gamma_parameters(*value))
        if self.mass_matrix is None and self.space is not None:
            self.mass_matrix = self.space.mass_matrix
        if self.truth is not None:
            self.truth = check_truth(self.truth, self.dim)

    @property
    def dim(self) -> int:
        return self.prior.dim


def check_truth(truth, dim: int) -> np.ndarray:
    """θ₀ as a finite float vector of length ``dim``."""
    arr = np.asarray(truth, dtype=float)
    if arr.shape != (dim,):
        raise InvalidArgumentError(
            f"truth must have shape ({dim},) (one value per node of θ), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("truth has non-finite values")
    return arr


@dataclass(frozen=True)
class ProblemSpec:
    """A picklable description of a :class:`CoverageModel`: ``factory(**kwargs)``.

    ``factory`` must be a module-level function (importable by worker processes).
    """

    factory: Callable[..., CoverageModel]
    kwargs: Mapping = field(default_factory=dict)

    def __post_init__(self):
        # the spec travels to worker processes (and keys the model cache) pickled: refuse a
        # lambda or nested function here, with the fix, not as a pickling error in a worker
        if not callable(self.factory):
            raise InvalidArgumentError(
                f"factory must be a function returning a CoverageModel, got "
                f"{type(self.factory).__name__}")
        for what, value in (("factory", self.factory), ("kwargs", dict(self.kwargs))):
            try:
                pickle.dumps(value)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                name = getattr(value, "__qualname__", type(value).__name__)
                raise InvalidArgumentError(
                    f"ProblemSpec {what} ({name}) cannot be pickled, and the spec is sent "
                    f"to worker processes pickled: use a module-level function (def ... at "
                    f"the top level of an importable module, not a lambda or a function "
                    f"defined inside another) and picklable keyword values ({exc})") from exc

    def build(self) -> CoverageModel:
        """The model, built once per process and cached (keyed by the pickled spec)."""
        key = pickle.dumps(self)
        if key not in _MODEL_CACHE:
            model = self.factory(**dict(self.kwargs))
            if not isinstance(model, CoverageModel):
                raise InvalidArgumentError(
                    f"the problem factory {self.factory.__qualname__} must return a "
                    f"CoverageModel, got {type(model).__name__}")
            _MODEL_CACHE[key] = model
        return _MODEL_CACHE[key]


_MODEL_CACHE: dict[bytes, CoverageModel] = {}


@dataclass(frozen=True)
class InferenceSpec:
    """How to draw from each replicate's posterior.

    ``method``: a :func:`bayesinv.sample` method name (``"ula"``, ``"pcn"``, ...) with
    ``settings`` its keyword arguments (``draws``, ``chains``, ``step_size``, ``init``, ...);
    ``"exact"`` for :func:`bayesinv.samplers.exact.sample_exact` (linear–Gaussian problems);
    or a module-level function ``method(posterior, *, seed, **settings) -> InferenceData``.
    """

    method: str | Callable = "ula"
    settings: Mapping = field(default_factory=dict)

    @property
    def chains(self) -> int | None:
        """The number of chains, when known before running (None for user functions)."""
        if callable(self.method):
            return self.settings.get("chains")
        return int(self.settings.get("chains", 4))

    def describe(self) -> str:
        name = self.method if isinstance(self.method, str) else (
            f"{self.method.__module__}.{self.method.__qualname__}")
        return json.dumps({"method": name, **{k: _jsonable(v) for k, v in
                                              self.settings.items()}})

    def run(self, posterior, seed):
        settings = dict(self.settings)
        if callable(self.method):
            return self.method(posterior, seed=seed, **settings)
        if self.method == "exact":
            from ..samplers.exact import sample_exact

            return sample_exact(posterior, seed=seed, **settings)
        from ..samplers.driver import sample

        settings.setdefault("progress", False)
        # the harness diagnoses every replicate itself and flags (rather than warns about)
        # the ones that fail its ConvergenceCriteria
        settings.setdefault("diagnostics", False)
        return sample(posterior, self.method, seed=seed, **settings)


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value) if not isinstance(value, np.ndarray) else f"array{value.shape}"


# -- scalar functionals of θ -----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LinearFunctional:
    """⟨θ, ψ⟩_{L²} with ψ a module-level callable ψ(x) or nodal values (quadrature by M)."""

    name: str
    psi: Callable | np.ndarray

    def weights(self, model: CoverageModel) -> np.ndarray:
        return functional_weights(self.psi, model.dim, space=model.space,
                                  mass_matrix=model.mass_matrix)


@dataclass(frozen=True)
class PointValue:
    """θ(x), the FE field evaluated at a point x of the domain (needs ``model.space``)."""

    name: str
    point: tuple

    def weights(self, model: CoverageModel) -> np.ndarray:
        if model.space is None:
            raise InvalidArgumentError(
                f"PointValue {self.name!r} needs a CoverageModel with a space; use NodalValue "
                f"for a plain coefficient vector")
        point = np.atleast_2d(np.asarray(self.point, dtype=float))
        return point_weights(point, model.space, model.dim)[0]


@dataclass(frozen=True)
class NodalValue:
    """θ_i, the i-th coefficient (nodal value) of θ."""

    name: str
    index: int

    def weights(self, model: CoverageModel) -> np.ndarray:
        index = integer_at_least("index", self.index, 0)
        if index >= model.dim:
            raise InvalidArgumentError(
                f"NodalValue {self.name!r}: index must be < {model.dim}, got {index}")
        w = np.zeros(model.dim)
        w[index] = 1.0
        return w


@dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter's posterior draws as a scalar "functional": ``"sigma"`` (needs
    ``CoverageModel.noise_hyper``) or ``"tau"`` (needs ``scale_hyper``); scored against the
    replicate's true value like any functional (intervals, ranks, mean and sd)."""

    name: str

    def weights(self, model: CoverageModel) -> np.ndarray:
        need = {"sigma": "noise_hyper", "tau": "scale_hyper"}
        if self.name not in need:
            raise InvalidArgumentError(
                f"Hyperparameter name must be 'sigma' or 'tau', got {self.name!r}")
        if getattr(model, need[self.name]) is None:
            raise InvalidArgumentError(
                f"Hyperparameter({self.name!r}) needs a CoverageModel with {need[self.name]}")
        return np.zeros(model.dim)  # not linear in θ: the draws are read from the run


def _hierarchical_replicate(model: CoverageModel, task, truth_rng):
    """(likelihood factory, prior, true θ, true σ, true {name: value}) of one replicate, with
    the unknown σ and τ of ``noise_hyper`` / ``scale_hyper`` drawn from their hyperpriors
    (``truth="prior"``) or fixed (σ = ``noise_std``, τ = 1)."""
    from ..hierarchical import ScaledPrior
    from ..likelihood import GaussianLikelihood
    from ..likelihoods.noise import UnknownNoiseLikelihood

    true = {}
    prior = model.prior
    if model.scale_hyper is not None:
        a, b = model.scale_hyper
        tau = 1.0 if task.truth is not None else float(np.sqrt(b / truth_rng.gamma(a)))
        prior = ScaledPrior(model.prior, a, b, scale=tau)
        true["tau"] = tau
    sigma = model.noise_std
    if model.noise_hyper is not None:
        a, b = model.noise_hyper
        if task.truth is None:
            sigma = float(np.sqrt(b / truth_rng.gamma(a)))
        true["sigma"] = sigma
    theta0 = prior.sample(truth_rng) if task.truth is None else task.truth
    if model.scale_hyper is not None:
        prior.scale = prior.initial = 1.0  # chains start from τ = 1

    def likelihood(data):
        if model.noise_hyper is None:
            return GaussianLikelihood(model.forward, data, sigma)
        return UnknownNoiseLikelihood(model.forward, data, *model.noise_hyper)

    return likelihood, prior, theta0, sigma, true


def _functional_matrix(functionals, model: CoverageModel) -> np.ndarray:
    """The (F, n) matrix W whose rows give the scalar functionals f = W θ."""
    if not functionals:
        return np.zeros((0, model.dim))
    return np.stack([f.weights(model) for f in functionals])


_WEIGHTS_CACHE: dict[bytes, np.ndarray] = {}


def _cached_functional_matrix(problem, functionals, model) -> np.ndarray:
    key = pickle.dumps((problem, functionals))
    if key not in _WEIGHTS_CACHE:
        _WEIGHTS_CACHE[key] = _functional_matrix(functionals, model)
    return _WEIGHTS_CACHE[key]


# -- convergence -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvergenceCriteria:
    """Checks a replicate must pass to be counted; None disables a check.

    R-hat (rank-normalised split R-hat, max over monitored quantities; Vehtari et al. 2021)
    needs >= 2 chains; ESS is the min over monitored quantities of the bulk and tail ESS.
    Monitored are the quantities the credible sets are built from — the scalar functionals,
    and per draw the L² distance ‖θ^{(s)} − m‖_{L²} and the standardised sup-norm statistic of
    the field sets — and, with ``latent=True``, every whitened coordinate ξ_k too. The latter
    is much stricter: with k ≈ 60 coordinates the max R-hat exceeds 1.01 by chance unless the
    ESS is in the thousands (in E1 with bulk ESS ≥ 460 on every ξ_k, 89 of 100 replicates had
    max R-hat between 1.010 and 1.021).
    """

    rhat_max: float | None = 1.01
    ess_min: float | None = 400.0
    max_divergences: int | None = 0
    min_acceptance: float | None = None
    latent: bool = False

    def failures(self, diag: Mapping) -> list[str]:
        out = []
        if self.rhat_max is not None and not diag["rhat_max"] < self.rhat_max:
            out.append(f"R-hat {diag['rhat_max']:.4f} >= {self.rhat_max}")
        if self.ess_min is not None and not diag["ess_bulk_min"] >= self.ess_min:
            out.append(f"bulk ESS {diag['ess_bulk_min']:.0f} < {self.ess_min:g}")
        if self.ess_min is not None and not diag["ess_tail_min"] >= self.ess_min:
            out.append(f"tail ESS {diag['ess_tail_min']:.0f} < {self.ess_min:g}")
        if self.max_divergences is not None and diag["divergences"] > self.max_divergences:
            out.append(f"{diag['divergences']} divergences > {self.max_divergences}")
        if self.min_acceptance is not None and not diag["acceptance_rate"] >= \
                self.min_acceptance:
            out.append(f"acceptance {diag['acceptance_rate']:.3f} < {self.min_acceptance}")
        return out


def replicate_diagnostics(idata, monitored: np.ndarray | None = None, *,
                            latent: bool = True, rhat_required: bool = True) -> dict:
    """Max R-hat, min bulk/tail ESS, mean acceptance and divergences of one run.

    ``monitored``: draws (chain, draw, K) of the quantities to diagnose; ``latent`` adds the
    whitened coordinates ξ (when the posterior group has them). Raises InvalidArgumentError
    when R-hat is required and there are fewer than 2 chains.
    """
    parts = []
    if latent and hasattr(idata, "posterior") and "xi" in idata.posterior:
        parts.append(idata.posterior["xi"].values)
    if monitored is not None and np.shape(monitored)[-1] > 0:
        parts.append(np.asarray(monitored, dtype=float))
    if not parts:
        raise InvalidArgumentError("nothing to diagnose: no monitored quantities (and no 'xi')")
    chains = parts[0].shape[0]
    if rhat_required and chains < 2:
        raise InvalidArgumentError(
            f"R-hat needs at least 2 chains, got {chains}; run more chains or disable the "
            f"R-hat check (ConvergenceCriteria(rhat_max=None))")
    data = dataset_from_draws({"q": np.concatenate(parts, axis=-1)})
    out = {
        "ess_bulk_min": float(ess(data, method="bulk")["q"].values.min()),
        "ess_tail_min": float(ess(data, method="tail")["q"].values.min()),
        "rhat_max": float(rhat(data)["q"].values.max()) if chains >= 2 else float("nan"),
    }
    stats = getattr(idata, "sample_stats", None)
    out["acceptance_rate"] = (float(stats["acceptance_rate"].mean())
                              if stats is not None and "acceptance_rate" in stats else np.nan)
    out["divergences"] = (int(stats["diverging"].sum())
                          if stats is not None and "diverging" in stats else 0)
    return out


# -- one replicate ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Task:
    problem: ProblemSpec
    inference: InferenceSpec
    functionals: tuple
    levels: tuple
    kinds: tuple
    truth: np.ndarray | None  # None: draw from the prior
    criteria: ConvergenceCriteria | None
    sbc_draws: int
    pointwise_field: bool
    seed: np.random.SeedSequence
    replicate: int


def _run_replicate(task: _Task) -> dict:
    """Simulate, infer and score one replicate (runs in a worker process)."""
    from ..likelihood import GaussianLikelihood, simulate
    from ..posterior import Posterior
    from ..samplers.warmstart import child_seed

    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        model = task.problem.build()
        W = _cached_functional_matrix(task.problem, task.functionals, model)
        hyper = {}
        if model.noise_hyper is None and model.scale_hyper is None:
            if task.truth is None:
                truth = model.prior.sample(np.random.default_rng(child_seed(task.seed, 0)))
            else:
                truth = task.truth
            prior, sigma = model.prior, model.noise_std
            likelihood = partial(GaussianLikelihood, model.forward, noise_std=sigma)
        else:
            likelihood, prior, truth, sigma, hyper = _hierarchical_replicate(
                model, task, np.random.default_rng(child_seed(task.seed, 0)))
        data = simulate(model.forward, truth, sigma, seed=child_seed(task.seed, 1))
        posterior = Posterior(prior, likelihood(data))
        out = _empty_result(task, W.shape[0])
        try:
            idata = task.inference.run(posterior, child_seed(task.seed, 2))
        except (SamplerDivergenceError, ForwardSolveError) as exc:
            return failed_result(task, exc, start)
        theta = posterior_draws(idata, "theta")
        fdraws = theta @ W.T
        ftruth = W @ truth
        for j, f in enumerate(task.functionals):
            if isinstance(f, Hyperparameter):
                fdraws[..., j] = idata.posterior[f.name].values
                ftruth[j] = hyper[f.name]
        field = _field_statistics(theta, truth, task.kinds, model.mass_matrix)
        if task.criteria is not None:
            monitored = np.concatenate(
                [fdraws, *(stat.reshape(*theta.shape[:2], 1) for stat, _ in field.values())],
                axis=-1)
            diag = replicate_diagnostics(idata, monitored, latent=task.criteria.latent,
                                           rhat_required=task.criteria.rhat_max is not None)
            out.update(diag)
            out["flags"] = "; ".join(task.criteria.failures(diag))
        _score(out, task, theta, fdraws, ftruth, truth, model.mass_matrix, field)
    out["wall_time"] = time.perf_counter() - start
    return out


def failed_result(task: _Task, exc: BaseException, start: float) -> dict:
    """The record of a replicate whose inference raised ``exc`` (started at ``start``)."""
    out = _empty_result(task, len(task.functionals))
    out["failure"] = f"{type(exc).__name__}: {exc}"
    out["wall_time"] = time.perf_counter() - start
    return out


def _empty_result(task: _Task, num_functionals: int) -> dict:
    nl, nk, nf = len(task.levels), len(task.kinds), num_functionals + 1
    nan = np.nan
    return {
        "hit": np.full((nl, nk, nf), nan), "rank": np.full((nk, nf), nan),
        "pointwise_fraction": np.full((nl, nk), nan),
        "truth_value": np.full(num_functionals, nan),
        "posterior_mean": np.full(num_functionals, nan),
        "posterior_sd": np.full(num_functionals, nan),
        "l2_error": nan, "relative_l2_error": nan,
        "rhat_max": nan, "ess_bulk_min": nan, "ess_tail_min": nan, "acceptance_rate": nan,
        "divergences": -1, "flags": "", "failure": "", "wall_time": nan,
    }


def _field_statistics(theta, truth, kinds, M) -> dict:
    """Per kind of field set, the statistic of each draw (S,) and of the truth: the
    standardised sup-norm deviation from the mean (band) and the L² distance (ball)."""
    pooled = theta.reshape(-1, theta.shape[-1])
    mean = pooled.mean(axis=0)
    out = {}
    if "band" in kinds:
        _, scale, tol, stat = band_statistics(pooled)
        out["band"] = (stat, float(sup_statistic(truth, mean, scale, tol)))
    if "l2_ball" in kinds:
        out["l2_ball"] = (l2_norm(pooled - mean, M), float(l2_norm(truth - mean, M)))
    return out


def _score(out: dict, task: _Task, theta, fdraws, ftruth, truth, M, field) -> None:
    """Hits, ranks and summaries of one replicate's draws (fills ``out`` in place)."""
    chains, draws, n = theta.shape
    S = chains * draws
    pooled = theta.reshape(S, n)
    fpooled = fdraws.reshape(S, fdraws.shape[-1])
    if task.sbc_draws > S:
        raise InvalidArgumentError(
            f"sbc_draws={task.sbc_draws} exceeds the {S} posterior draws of a replicate; "
            f"lower sbc_draws or draw more")
    thin = np.linspace(0, S - 1, task.sbc_draws).round().astype(int)
    levels = np.asarray(task.levels)
    alpha = 1.0 - levels
    F = fpooled.shape[1]
    out["truth_value"], out["posterior_mean"] = ftruth, fpooled.mean(axis=0)
    out["posterior_sd"] = fpooled.std(axis=0, ddof=1)
    mean = pooled.mean(axis=0)
    out["l2_error"] = float(l2_norm(mean - truth, M))
    norm0 = float(l2_norm(truth, M))
    out["relative_l2_error"] = out["l2_error"] / norm0 if norm0 > 0 else np.nan
    for k, kind in enumerate(task.kinds):
        if kind == "equal_tailed":
            q = np.quantile(fpooled, np.concatenate([alpha / 2, 1 - alpha / 2]), axis=0)
            lo, hi = q[: len(levels)], q[len(levels):]
            out["hit"][:, k, :F] = (lo <= ftruth) & (ftruth <= hi)
            out["rank"][k, :F] = (fpooled[thin] < ftruth).sum(axis=0)
            if task.pointwise_field:
                qf = np.quantile(pooled, np.concatenate([alpha / 2, 1 - alpha / 2]), axis=0)
                inside = (qf[: len(levels)] <= truth) & (truth <= qf[len(levels):])
                out["pointwise_fraction"][:, k] = inside.mean(axis=1)
        elif kind == "hdi":
            for i, level in enumerate(levels):
                if F:
                    lo, hi = hdi(fdraws, level)
                    out["hit"][i, k, :F] = (lo <= ftruth) & (ftruth <= hi)
                if task.pointwise_field:
                    lo_f, hi_f = hdi(theta, level)
                    out["pointwise_fraction"][i, k] = ((lo_f <= truth) & (truth <= hi_f)).mean()
        else:
            stat, stat0 = field[kind]
            radii = np.quantile(stat, levels)
            out["hit"][:, k, F] = stat0 <= radii
            out["rank"][k, F] = (stat[thin] < stat0).sum()


# -- the study -------------------------------------------------------------------------------

def _check_levels(levels) -> tuple:
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
                       seed: int, truth="prior", levels=(0.5, 0.8, 0.9, 0.95),
                       functionals: Sequence = (), kinds: Sequence[str] = KINDS,
                       convergence: ConvergenceCriteria | None = ConvergenceCriteria(),
                       sbc_draws: int = 99, pointwise_field: bool = True, executor=None,
                       confidence: float = 0.95, output=None, store=None) -> xr.Dataset:
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
    store : path or :class:`bayesinv.hpc.store.ReplicateStore`, optional
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
        results = dict(enumerate(run_all(_run_replicate, plan.tasks)))
    else:
        from ..hpc.executors import SerialExecutor
        from ..hpc.store import ReplicateStore, run_stored

        if not isinstance(store, ReplicateStore):
            store = ReplicateStore(store)
        store.open(plan.fingerprint(), plan.metadata, fixed_truth=plan.fixed_truth)
        run_stored(store, plan, executor or SerialExecutor())
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
    """A validated study: one :class:`_Task` per replicate, and how to assemble the results.

    Made by :func:`plan_coverage_study`. ``metadata`` (JSON-serialisable) together with
    ``fixed_truth`` is all :func:`assemble_study` needs, so a results store can merge
    per-replicate files without rebuilding the model.
    """

    tasks: tuple
    metadata: dict
    fixed_truth: np.ndarray | None

    @property
    def replicates(self) -> int:
        return len(self.tasks)

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the replicates' results."""
        import hashlib

        first = self.tasks[0]
        key = (first.problem, first.inference, first.functionals, first.levels, first.kinds,
               first.truth, first.criteria, first.sbc_draws, first.pointwise_field,
               int(self.metadata["attrs"]["seed"]), self.replicates)
        return hashlib.sha256(pickle.dumps(key)).hexdigest()

    def assemble(self, results: Mapping[int, dict], **attrs) -> xr.Dataset:
        """The study Dataset from per-replicate results {replicate index: result}."""
        return assemble_study(results, self.metadata, self.fixed_truth, **attrs)


def plan_coverage_study(problem: ProblemSpec, inference: InferenceSpec, *, replicates: int,
                        seed: int, truth="prior", levels=(0.5, 0.8, 0.9, 0.95),
                        functionals: Sequence = (), kinds: Sequence[str] = KINDS,
                        convergence: ConvergenceCriteria | None = ConvergenceCriteria(),
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
    levels = _check_levels(levels)
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
        per_replicate = int(inference.settings.get("draws", 1000)) * inference.chains
        if sbc_draws > per_replicate:
            raise InvalidArgumentError(
                f"sbc_draws={sbc_draws} exceeds the {per_replicate} posterior draws of a "
                f"replicate; lower sbc_draws or draw more")

    model = problem.build()  # validates the spec, functionals and truth here, not in a worker
    _cached_functional_matrix(problem, functionals, model)
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
    tasks = tuple(_Task(problem, inference, functionals, levels, kinds, fixed, convergence,
                        sbc_draws, pointwise_field, children[r], r) for r in range(replicates))
    metadata = {
        "names": names, "levels": list(levels), "kinds": list(kinds), "sbc_draws": sbc_draws,
        "confidence": confidence,
        "attrs": {
            "mode": "sbc" if fixed is None else "frequentist", "seed": seed,
            "replicates": replicates,
            "problem": f"{problem.factory.__module__}.{problem.factory.__qualname__}",
            "problem_kwargs": json.dumps({k: _jsonable(v) for k, v in problem.kwargs.items()}),
            "inference": inference.describe(),
            "convergence": json.dumps(None if convergence is None else convergence.__dict__),
            "sbc_draws": sbc_draws,
        },
    }
    return CoveragePlan(tasks, metadata, fixed)


def assemble_study(results: Mapping[int, dict], metadata: Mapping, fixed_truth=None,
                   **attrs) -> xr.Dataset:
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


def _assemble(results, names, levels, kinds, sbc_draws, indices=None) -> xr.Dataset:
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


def summarize_coverage(ds: xr.Dataset, confidence: float = 0.95) -> xr.Dataset:
    """Add (or recompute) the summary over the unflagged replicates.

    ``num_valid``: unflagged replicates; ``num_flagged``; ``num_hits``, ``coverage``,
    ``coverage_lower``/``coverage_upper`` (Clopper–Pearson at ``confidence``) and
    ``binom_pvalue`` (two-sided exact binomial test of coverage = level), each (level, kind,
    functional), NaN where a kind does not apply; ``rank_pvalue`` (kind, functional): χ² test
    of uniformity of the ranks over {0..sbc_draws}.
    """
    confidence = check_level(confidence, "confidence")
    valid = ~ds["flagged"].values
    n = int(valid.sum())
    hits = ds["hit"].values[valid]  # (n, level, kind, functional)
    applicable = ~np.isnan(ds["hit"].values).all(axis=0)
    k = np.where(applicable, np.nansum(hits, axis=0), np.nan)
    cov = np.full(k.shape, np.nan)
    lo, hi, pval = cov.copy(), cov.copy(), cov.copy()
    levels = ds["level"].values
    for idx in zip(*np.nonzero(applicable & (n > 0)), strict=True):
        test = scipy.stats.binomtest(int(k[idx]), n, p=float(levels[idx[0]]))
        ci = test.proportion_ci(confidence_level=confidence, method="exact")
        cov[idx], lo[idx], hi[idx], pval[idx] = k[idx] / n, ci.low, ci.high, test.pvalue
    ranks = ds["rank"].values[valid]
    rank_p = np.full(ranks.shape[1:], np.nan)
    L = int(ds.attrs.get("sbc_draws", np.nanmax(ds["rank"].values, initial=0)))
    for idx in zip(*np.nonzero(~np.isnan(ds["rank"].values).all(axis=0)), strict=True):
        r = ranks[(slice(None), *idx)]
        rank_p[idx] = rank_uniformity_pvalue(r[~np.isnan(r)], L)
    dims3 = ("level", "kind", "functional")
    out = ds.assign(
        num_hits=(dims3, k), coverage=(dims3, cov), coverage_lower=(dims3, lo),
        coverage_upper=(dims3, hi), binom_pvalue=(dims3, pval),
        rank_pvalue=(("kind", "functional"), rank_p),
        num_valid=n, num_flagged=int((~valid).sum()))
    out.attrs["confidence"] = confidence
    return out


def rank_uniformity_pvalue(ranks, num_draws: int) -> float:
    """χ² test that ranks are uniform on {0, …, num_draws} (Talts et al. 2018).

    Ranks are binned into B ≤ 20 bins with at least ~5 expected counts each (B =
    min(20, n/5, num_draws + 1), at least 2); expected counts follow the bins' sizes. Returns
    NaN for fewer than 10 ranks.
    """
    r = np.asarray(ranks, dtype=float)
    n = r.size
    if n < 10:
        return float("nan")
    values = num_draws + 1
    bins = int(max(2, min(20, n // 5, values)))
    edges = np.floor(np.arange(values) * bins / values).astype(int)  # bin of each rank value
    expected = np.bincount(edges, minlength=bins) / values * n
    observed = np.bincount(edges[np.clip(r.astype(int), 0, num_draws)], minlength=bins)
    return float(scipy.stats.chisquare(observed, expected).pvalue)


def _criterion(flag: str) -> str:
    """A flag without its measured value: "R-hat 1.0234 >= 1.01" → "R-hat >= 1.01"."""
    return re.sub(r"-?\d+(\.\d*)?(e[-+]?\d+)?\s*", "", flag.strip(), count=1).strip()


def flagged_summary(ds: xr.Dataset) -> str:
    """A sentence saying how many replicates were flagged (excluded) and why: per criterion
    of :class:`ConvergenceCriteria` (e.g. "R-hat >= 1.01: 5") and per failure (the
    exception's type), counting a replicate once under each criterion it failed."""
    flagged = np.asarray(ds["flagged"].values, bool)
    total = int(flagged.size)
    if not flagged.any():
        return f"0 of {total} replicates flagged."
    counts: dict[str, int] = {}
    for flags, failure in zip(ds["flags"].values[flagged], ds["failure"].values[flagged],
                              strict=True):
        reasons = {_criterion(f) for f in str(flags).split(";") if f.strip()}
        if str(failure):
            reasons.add("failed: " + str(failure).split(":")[0])
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    detail = "; ".join(f"{reason}: {n}" for reason, n in
                       sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return (f"{int(flagged.sum())} of {total} replicates flagged and excluded ({detail}); "
            f"replicates failing the ConvergenceCriteria are not counted: run longer "
            f"chains, use a better-suited method, or loosen the criteria "
            f"(run_coverage_study(..., convergence=ConvergenceCriteria(...))).")


def coverage_table(ds: xr.Dataset):
    """A pandas DataFrame: one row per applicable (kind, functional, level).

    With no valid replicate the table is empty; a :class:`~bayesinv.errors.BayesinvWarning`
    then says how many replicates were flagged and by which criterion
    (:func:`flagged_summary`, also in the table's ``attrs["flagged"]``).
    """
    import pandas as pd

    rows = []
    for kind in ds["kind"].values:
        for func in ds["functional"].values:
            for level in ds["level"].values:
                sel = {"kind": kind, "functional": func, "level": level}
                if np.isnan(ds["coverage"].sel(sel)):
                    continue
                rows.append({
                    "kind": kind, "functional": func, "level": float(level),
                    "hits": int(ds["num_hits"].sel(sel)), "valid": int(ds["num_valid"]),
                    "coverage": float(ds["coverage"].sel(sel)),
                    "ci_low": float(ds["coverage_lower"].sel(sel)),
                    "ci_high": float(ds["coverage_upper"].sel(sel)),
                    "binom_p": float(ds["binom_pvalue"].sel(sel)),
                    "rank_p": float(ds["rank_pvalue"].sel(kind=kind, functional=func)),
                })
    table = pd.DataFrame(rows)
    table.attrs["flagged"] = flagged_summary(ds)
    if table.empty:
        warnings.warn(f"the coverage table is empty: {table.attrs['flagged']}",
                      BayesinvWarning, stacklevel=2)
    return table


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write a study atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp)
    return path


def load_coverage_study(path) -> xr.Dataset:
    """Read a study written by :func:`run_coverage_study` (``output=``) or ``write_netcdf``."""
    ds = xr.load_dataset(path)
    ds["flagged"] = ds["flagged"].astype(bool)
    return ds
