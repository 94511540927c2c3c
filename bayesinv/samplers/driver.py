"""``sample()``: run chains of a sampler on a posterior and return ArviZ InferenceData.

Chains get independent random streams spawned from one seed
(``SeedSequence(seed).spawn(chains)``): the same seed gives identical draws, whatever else
runs in the process. The loop is interpreted (numba kernels around the Python PDE call),
costing ~25 µs per step on top of the target evaluation.

BLAS is limited to one thread while chains run: per-step linear algebra is small (a prior
factor times ξ, a sparse factorisation of a few thousand unknowns), and measured on 2 cores a
multi-threaded OpenBLAS made each Schrödinger ULA step ~1.8× slower (1.96 vs 1.07 ms at 32²)
through thread wake-ups. Cores are better used across chains and replicates.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .._validation import integer_at_least
from .._version import __version__
from ..diagnostics.arviz_io import build_inference_data
from ..errors import InvalidArgumentError, SamplerDivergenceError
from ..optimize import find_map
from ..posterior import Posterior
from .methods import make_method
from .tuning import gauss_newton_hessian, sqrt_inverse


@dataclass
class _ChainRecord:
    """Draws kept from one chain (after warm-up and thinning)."""

    xi: list = field(default_factory=list)
    lp: list = field(default_factory=list)
    acceptance_rate: list = field(default_factory=list)
    diverging: list = field(default_factory=list)
    prediction: list = field(default_factory=list)


def _seed_sequence(seed) -> np.random.SeedSequence:
    """The root SeedSequence from an int, None (fresh entropy) or a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                        and seed >= 0):
        return np.random.SeedSequence(seed)
    raise InvalidArgumentError(
        f"seed must be a non-negative int, None or a numpy SeedSequence, got {seed!r}")


class _MAPCache:
    """Computes the MAP estimate at most once per call of ``sample``."""

    def __init__(self, posterior: Posterior):
        self.posterior = posterior
        self._result = None

    @property
    def position(self) -> np.ndarray:
        if self._result is None:
            self._result = find_map(self.posterior)
        return self._result.position


def _initial_positions(init, posterior: Posterior, chains: int, rngs,
                       map_cache: _MAPCache) -> tuple[np.ndarray, str]:
    k = posterior.whitened.dim
    if isinstance(init, str):
        if init == "prior":
            return np.stack([rng.standard_normal(k) for rng in rngs]), "prior"
        if init == "map":
            return np.tile(map_cache.position, (chains, 1)), "map"
        raise InvalidArgumentError(f"init must be 'prior', 'map' or an array, got {init!r}")
    x = np.asarray(init, dtype=float)
    if x.shape == (k,):
        x = np.tile(x, (chains, 1))
    if x.shape != (chains, k) or not np.isfinite(x).all():
        raise InvalidArgumentError(
            f"init array must be finite with shape ({k},) or ({chains}, {k}) (whitened "
            f"coordinates), got shape {np.shape(init)}")
    return x.copy(), "user"


def _sqrt_preconditioner(preconditioner, posterior: Posterior, map_cache: _MAPCache):
    """R with R Rᵀ = C for the requested constant preconditioner C (None: identity)."""
    if preconditioner is None:
        return None, "identity"
    if isinstance(preconditioner, str):
        if preconditioner != "laplace":
            raise InvalidArgumentError(
                f"preconditioner must be None, 'laplace' or a (k, k) SPD matrix, "
                f"got {preconditioner!r}")
        H = gauss_newton_hessian(posterior, map_cache.position)
        return sqrt_inverse(H), "laplace"
    k = posterior.whitened.dim
    C = np.asarray(preconditioner, dtype=float)
    if C.shape != (k, k):
        raise InvalidArgumentError(f"preconditioner must have shape ({k}, {k}), got {C.shape}")
    try:
        return np.linalg.cholesky(C), "user"
    except np.linalg.LinAlgError as exc:
        raise InvalidArgumentError("preconditioner must be symmetric positive definite") from exc


def sample(posterior: Posterior, method: str = "pcn", *, draws: int = 1000, warmup: int = 0,
           chains: int = 4, seed=None, step_size=None, beta=None, init="prior", thin: int = 1,
           preconditioner=None, max_divergences: int | None = None, store_theta: bool = True,
           progress=None):
    """Draw from the posterior with a numba-kernel MCMC sampler.

    Parameters
    ----------
    posterior : Posterior
    method : {"pcn", "ula"}
        pCN (Cotter et al. 2013; needs ``beta``) or the unadjusted Langevin algorithm (needs
        ``step_size``), both in the prior-whitened coordinates ξ.
    draws : int
        Draws kept per chain (after warm-up and thinning); >= 1.
    warmup : int
        Initial steps discarded per chain (burn-in); >= 0.
    chains : int
        Independent chains; >= 1 (>= 4 for meaningful R-hat).
    seed : int, SeedSequence or None
        Root seed; chain c uses ``default_rng(SeedSequence(seed).spawn(chains)[c])``. None
        draws fresh entropy, recorded in the ``seed`` attribute so the run can be repeated.
    step_size : float
        ULA's δ > 0.
    beta : float
        pCN's β in (0, 1].
    init : "prior", "map" or array
        Start at independent prior draws (over-dispersed, the default), at the MAP estimate
        (L-BFGS warm start), or at given whitened positions, shape (k,) or (chains, k).
    thin : int
        Keep every ``thin``-th step after warm-up (so ``warmup + draws*thin`` steps in all).
    preconditioner : None, "laplace" or array, shape (k, k)
        ULA only: a constant preconditioner C (the step becomes ξ + δ C ∇log π + √(2δ) C^½ η).
        "laplace" uses the inverse Gauss–Newton Hessian at the MAP estimate (k tangent solves),
        which makes δ ≈ 0.1 appropriate however informative the data.
    max_divergences : int, optional
        ULA stops with :class:`SamplerDivergenceError` when a chain has more diverging steps
        than this (default: 5% of its steps, at least 10). pCN counts failed solves as
        rejections and never stops.
    store_theta : bool
        Store θ = T(ξ) for each draw (dim × draws per chain); ξ is always stored.
    progress : bool or None
        Show a progress bar; None shows it only when stderr is a terminal.

    Returns
    -------
    arviz.InferenceData
        ``posterior``: ``xi`` (chain, draw, mode) and ``theta`` (chain, draw, node);
        ``sample_stats``: ``lp``, ``acceptance_rate``, ``diverging``, ``step_size``;
        ``log_likelihood``: ``y``; ``observed_data``: ``y``; attributes as documented in
        :mod:`bayesinv.diagnostics.arviz_io`.
    """
    if not isinstance(posterior, Posterior):
        raise InvalidArgumentError(
            f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
    draws = integer_at_least("draws", draws, 1)
    warmup = integer_at_least("warmup", warmup, 0)
    chains = integer_at_least("chains", chains, 1)
    thin = integer_at_least("thin", thin, 1)
    seed_seq = _seed_sequence(seed)
    if preconditioner is not None and method != "ula":
        raise InvalidArgumentError(f"preconditioner applies to method='ula' only, not {method!r}")
    target = posterior.whitened
    map_cache = _MAPCache(posterior)
    counts = target.forward.counts
    before = counts.as_dict()
    start_time = time.perf_counter()
    sqrt_precond, precond_kind = _sqrt_preconditioner(preconditioner, posterior, map_cache)
    sampler = make_method(method, target, step_size=step_size, beta=beta,
                          sqrt_precond=sqrt_precond)
    if max_divergences is None:
        max_divergences = max(10, (warmup + draws * thin) // 20)
    max_divergences = integer_at_least("max_divergences", max_divergences, 0)

    rngs = [np.random.default_rng(s) for s in seed_seq.spawn(chains)]
    positions, init_kind = _initial_positions(init, posterior, chains, rngs, map_cache)

    show = progress if progress is not None else sys.stderr.isatty()
    with threadpool_limits(limits=1, user_api="blas"):
        records = [
            _run_chain(sampler, positions[c], rngs[c], warmup=warmup, draws=draws, thin=thin,
                       max_divergences=max_divergences, label=f"chain {c + 1}/{chains}",
                       show=show)
            for c in range(chains)
        ]

    elapsed = time.perf_counter() - start_time
    after = counts.as_dict()
    return _to_inference_data(posterior, sampler, records, store_theta, attrs={
        "sampler": sampler.name,
        **sampler.parameters,
        "draws": draws, "warmup": warmup, "thin": thin, "chains": chains,
        "init": init_kind,
        "preconditioner": precond_kind,
        "seed": str(seed_seq.entropy),
        "seed_spawn_key": str(tuple(seed_seq.spawn_key)),
        "num_forward_solves": after["forward"] - before["forward"],
        "num_adjoint_solves": after["adjoint"] - before["adjoint"],
        "num_tangent_solves": after["tangent"] - before["tangent"],
        "sampling_time": elapsed,
        "inference_library": "bayesinv",
        "inference_library_version": __version__,
    })


def _run_chain(sampler, position, rng, *, warmup, draws, thin, max_divergences, label, show):
    """One chain: ``warmup + draws*thin`` steps, keeping every ``thin``-th after warm-up."""
    rec = _ChainRecord()
    state, prediction = sampler.init(position)
    total = warmup + draws * thin
    n_div = n_acc = 0
    with tqdm(total=total, desc=f"{sampler.name} {label}", disable=not show, leave=False,
              mininterval=0.5) as bar:
        for i in range(total):
            state, stats, new_prediction = sampler.step(state, rng)
            if new_prediction is not None:
                prediction = new_prediction
            n_div += stats.diverging
            n_acc += stats.acceptance_rate
            if sampler.uses_gradient and n_div > max_divergences:
                raise SamplerDivergenceError(
                    f"{label}: {n_div} of the first {i + 1} {sampler.name.upper()} steps "
                    f"diverged (non-finite log density or gradient, or a failed PDE solve). "
                    f"Try a smaller step_size (now {sampler.step_size:g}), a warm start "
                    f"(init='map'), or a link with bounded growth (link='regular').")
            if i >= warmup and (i - warmup) % thin == 0:
                rec.xi.append(state.position.copy())
                rec.lp.append(stats.lp)
                rec.acceptance_rate.append(stats.acceptance_rate)
                rec.diverging.append(stats.diverging)
                rec.prediction.append(prediction)
            if show and (i % 50 == 0 or i == total - 1):
                bar.set_postfix(acc=f"{n_acc / (i + 1):.2f}", div=n_div, refresh=False)
            bar.update(1)
    return rec


def _to_inference_data(posterior: Posterior, sampler, records, store_theta: bool, attrs: dict):
    like = posterior.likelihood
    xi = np.stack([np.asarray(r.xi) for r in records])
    post = {"xi": xi}
    if store_theta:
        post["theta"] = posterior.prior.to_physical(xi)
    pred = np.stack([np.asarray(r.prediction) for r in records])
    step = sampler.parameters["step_size"]
    stats = {
        "lp": np.stack([r.lp for r in records]),
        "acceptance_rate": np.stack([r.acceptance_rate for r in records]),
        "diverging": np.stack([r.diverging for r in records]).astype(bool),
        "step_size": np.full(xi.shape[:2], step),
    }
    constant = {}
    forward = like.forward
    if hasattr(forward, "design"):
        constant["design"] = forward.design
    if hasattr(forward, "parameter_space"):
        constant["node_coordinates"] = forward.parameter_space.coordinates
    return build_inference_data(
        posterior=post,
        sample_stats=stats,
        log_likelihood={"y": like.pointwise_from_prediction(pred)},
        observed_data={"y": like.data},
        constant_data=constant,
        attrs={**attrs, "noise_std": like.noise_std},
    )
