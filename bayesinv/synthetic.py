r"""Synthetic experiments: truth → data → posterior → draws, written once.

A synthetic experiment fixes a :class:`CoverageModel` (prior Π, forward map G, noise level σ,
optionally a truth θ₀ and hyperpriors) and, from one root seed, realises

1. the truth θ₀: the model's (or a given) fixed θ₀, or a draw θ₀ ~ Π (seed child 0; with
   ``noise_hyper`` / ``scale_hyper`` also the true σ and τ from their inverse-gamma
   hyperpriors);
2. the data Y = G(θ₀) + σ ε, ε ~ N(0, I) (seed child 1);
3. the posterior Π(· | Y) (:class:`~bayesinv.posterior.Posterior`: the prior, or the scaled
   prior of an unknown amplitude, and the Gaussian likelihood, or the unknown-noise one);
4. draws from it with the sampler an :class:`InferenceSpec` names (seed child 2).

:func:`realise` does steps 1–3 and :meth:`Realisation.sample` step 4. Both the ``bayesinv
run`` command (:func:`bayesinv.hpc.study.run_inversion`, a fixed truth) and every replicate
of a coverage study (:mod:`bayesinv.coverage.replicate`) go through them, so "one inversion"
and "replicate r of a study" differ only in their root seed. Children are taken statelessly
(:func:`bayesinv.seeds.child_seed`): a realisation depends on (root seed, model) only.

References
----------
A. M. Stuart (2010), Inverse problems: a Bayesian perspective, Acta Numerica 19. R. Nickl
(2023), *Bayesian non-linear statistical inverse problems*, EMS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import positive_float
from .errors import InvalidArgumentError
from .likelihood import GaussianLikelihood, simulate
from .likelihoods.noise import UnknownNoiseLikelihood, inverse_gamma_parameters
from .linear_gaussian import linear_gaussian
from .posterior import Posterior
from .protocols import LikelihoodProtocol
from .seeds import child_seed, seed_sequence

if TYPE_CHECKING:
    import scipy.sparse as sp
    from arviz import InferenceData

    from .fem.domain import LagrangeSpace
    from .fem.variational_spaces import DofSpace
    from .forward.base import ForwardMap
    from .priors.base import WhitenedPrior

#: a root seed: a non-negative int, None (fresh entropy) or a SeedSequence
#: (:func:`bayesinv.seeds.seed_sequence`)
RootSeed = int | np.random.SeedSequence | None


@dataclass
class CoverageModel:
    """The fixed part of a synthetic experiment: prior, forward map, noise level, how to
    measure θ.

    Parameters
    ----------
    prior : WhitenedPrior
    forward : ForwardMap
    noise_std : float
    truth : array, optional
        θ₀ (nodal values) for a fixed truth (``bayesinv run``; ``truth="fixed"`` studies).
    space : LagrangeSpace, optional
        The FE space of θ: interpolates callable ψ, evaluates θ(x), gives the mass matrix.
    mass_matrix : sparse matrix, optional
        M for ⟨u, v⟩_{L²} = uᵀ M v; defaults to ``space.mass_matrix``, else the identity
        (θ a plain coefficient vector).
    noise_hyper : (a, b), optional
        Unknown noise level: σ² ~ InvGamma(a, b), sampled by the Gibbs step of
        :class:`~bayesinv.likelihoods.UnknownNoiseLikelihood` (variable ``sigma``). The true σ
        is drawn from it (truth from the prior) or is ``noise_std`` (a fixed truth).
    scale_hyper : (a, b), optional
        Unknown prior amplitude: :class:`~bayesinv.hierarchical.ScaledPrior` with τ² ~
        InvGamma(a, b) (variable ``tau``); the true τ is drawn from it, or is 1 for a fixed
        truth. Score either with the functional :class:`~bayesinv.coverage.Hyperparameter`.
    """

    prior: WhitenedPrior
    forward: ForwardMap
    noise_std: float
    truth: NDArray[np.float64] | None = None
    space: LagrangeSpace | DofSpace | None = None
    mass_matrix: sp.spmatrix | NDArray[np.float64] | None = None
    noise_hyper: tuple[float, float] | None = None
    scale_hyper: tuple[float, float] | None = None

    def __post_init__(self) -> None:
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
        """p, the length of θ."""
        return self.prior.dim

    @property
    def hierarchical(self) -> bool:
        """Whether σ or τ is unknown (sampled with θ)."""
        return self.noise_hyper is not None or self.scale_hyper is not None


def linear_gaussian_model(**kwargs: Any) -> CoverageModel:
    """A problem factory for coverage studies: ``linear_gaussian(**kwargs)`` as a
    :class:`~bayesinv.synthetic.CoverageModel` (truth = its prior draw θ₀;
    mass matrix = identity). Module-level, hence picklable in a ``ProblemSpec``."""
    problem = linear_gaussian(**kwargs)
    return CoverageModel(problem.prior, problem.forward, problem.noise_std, truth=problem.truth)


def check_truth(truth: ArrayLike, dim: int) -> NDArray[np.float64]:
    """θ₀ as a finite float vector of length ``dim``."""
    arr = np.asarray(truth, dtype=float)
    if arr.shape != (dim,):
        raise InvalidArgumentError(
            f"truth must have shape ({dim},) (one value per node of θ), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("truth has non-finite values")
    return arr


@dataclass(frozen=True)
class InferenceSpec:
    """How to draw from a posterior (picklable, so it travels to worker processes).

    ``method``: a :func:`bayesinv.sample` method name (``"ula"``, ``"pcn"``, ...) with
    ``settings`` its keyword arguments (``draws``, ``chains``, ``step_size``, ``init``, ...),
    flat as in a config's ``[inference.settings]``: options of ``sample()``'s groups
    (``target_accept``, ``checkpoint``, ...) are gathered into ``tuning=`` and
    ``persistence=`` (:func:`bayesinv.samplers.options.grouped_settings`);
    ``"exact"`` for :func:`bayesinv.samplers.exact.sample_exact` (linear–Gaussian problems);
    or a module-level function ``method(posterior, *, seed, **settings) -> InferenceData``.
    """

    method: str | Callable[..., InferenceData] = "ula"
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def chains(self) -> int | None:
        """The number of chains, when known before running (None for user functions)."""
        if callable(self.method):
            return self.settings.get("chains")
        return int(self.settings.get("chains", 4))

    def describe(self) -> str:
        """The method's name (a function's dotted path) and the settings, as JSON."""
        name = self.method if isinstance(self.method, str) else (
            f"{self.method.__module__}.{self.method.__qualname__}")
        return json.dumps({"method": name, **{k: jsonable(v) for k, v in
                                              self.settings.items()}})

    def run(self, posterior: Posterior, seed: RootSeed, **overrides: Any) -> InferenceData:
        """Draws from ``posterior`` with the ``settings`` updated by ``overrides``. The
        sampler's own progress bar and convergence warnings are off unless asked for: a
        study diagnoses (and flags) every replicate itself."""
        settings = {**self.settings, **overrides}
        if callable(self.method):
            return self.method(posterior, seed=seed, **settings)
        if self.method == "exact":
            from .samplers.exact import sample_exact

            return sample_exact(posterior, seed=seed, **settings)
        from .samplers.driver import sample
        from .samplers.options import grouped_settings

        settings.setdefault("progress", False)
        settings.setdefault("diagnostics", False)
        return sample(posterior, self.method, seed=seed, **grouped_settings(settings))


def jsonable(value: object) -> str | int | float | bool | None:
    """A JSON-friendly stand-in for a setting's value (its repr, an array's shape)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value) if not isinstance(value, np.ndarray) else f"array{value.shape}"


@dataclass(frozen=True, eq=False)
class Realisation:
    """One realised experiment: the truth, its data and the posterior they define.

    ``hyper`` holds the true values of the unknown hyperparameters (``"sigma"``, ``"tau"``);
    ``sampler_seed`` is the root seed's child 2, the stream of :meth:`sample`.
    """

    truth: NDArray[np.float64]
    noise_std: float
    hyper: dict[str, float]
    data: NDArray[np.float64]
    posterior: Posterior
    sampler_seed: np.random.SeedSequence

    def sample(self, inference: InferenceSpec, **overrides: Any) -> InferenceData:
        """Posterior draws (InferenceData) by ``inference`` from the sampler seed."""
        return inference.run(self.posterior, self.sampler_seed, **overrides)


def realise(model: CoverageModel, seed: RootSeed, truth: ArrayLike | None = None
            ) -> Realisation:
    """Truth → data → posterior from the root ``seed`` (int or SeedSequence).

    ``truth``: a fixed θ₀ (checked against the model), or None to draw θ₀ from the prior (and
    σ, τ from their hyperpriors) with the seed's child 0. The noise uses child 1.
    """
    seed = seed_sequence(seed)
    fixed = None if truth is None else check_truth(truth, model.dim)
    truth_rng = np.random.default_rng(child_seed(seed, 0))
    likelihood: Callable[[NDArray[np.float64]], LikelihoodProtocol]
    if model.hierarchical:
        likelihood, prior, theta0, sigma, hyper = _hierarchical(model, fixed, truth_rng)
    else:
        theta0 = model.prior.sample(truth_rng) if fixed is None else fixed
        prior, sigma, hyper = model.prior, model.noise_std, {}

        def likelihood(data: NDArray[np.float64]) -> LikelihoodProtocol:
            return GaussianLikelihood(model.forward, data, noise_std=sigma)

    data = simulate(model.forward, theta0, sigma, seed=child_seed(seed, 1))
    return Realisation(theta0, sigma, hyper, data, Posterior(prior, likelihood(data)),
                       child_seed(seed, 2))


def _hierarchical(model: CoverageModel, truth: NDArray[np.float64] | None,
                  truth_rng: np.random.Generator
                  ) -> tuple[Callable[[NDArray[np.float64]], LikelihoodProtocol], WhitenedPrior,
                             NDArray[np.float64], float, dict[str, float]]:
    """(likelihood factory, prior, true θ, true σ, true {name: value}), with the unknown σ and
    τ of ``noise_hyper`` / ``scale_hyper`` drawn from their hyperpriors (``truth`` None) or
    fixed (σ = ``noise_std``, τ = 1)."""
    from .hierarchical import ScaledPrior

    hyper = {}
    prior = model.prior
    scaled = None
    if model.scale_hyper is not None:
        a, b = model.scale_hyper
        tau = 1.0 if truth is not None else float(np.sqrt(b / truth_rng.gamma(a)))
        prior = scaled = ScaledPrior(model.prior, a, b, scale=tau)
        hyper["tau"] = tau
    sigma = model.noise_std
    noise_hyper = model.noise_hyper
    if noise_hyper is not None:
        a, b = noise_hyper
        if truth is None:
            sigma = float(np.sqrt(b / truth_rng.gamma(a)))
        hyper["sigma"] = sigma
    theta0 = prior.sample(truth_rng) if truth is None else truth
    if scaled is not None:
        scaled.scale = scaled.initial = 1.0  # chains start from τ = 1

    def likelihood(data: NDArray[np.float64]) -> LikelihoodProtocol:
        if noise_hyper is None:
            return GaussianLikelihood(model.forward, data, sigma)
        return UnknownNoiseLikelihood(model.forward, data, *noise_hyper)

    return likelihood, prior, theta0, sigma, hyper
