"""The sampler settings of :func:`~bayesinv.samplers.driver.sample` that need no posterior:
validated and normalised by :func:`check_settings`, which ``sample`` and batch configurations
(:mod:`bayesinv.hpc.config`) share, so that a bad setting is refused before any run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._validation import float_in_interval, integer_at_least, one_of, positive_float
from ..errors import InvalidArgumentError
from ..laplace import LaplaceApproximation
from .compiled import CompiledTarget, compiled_target
from .delayed_acceptance import with_surrogate
from .registry import low_rank_variant, method_class

if TYPE_CHECKING:
    from ..posterior import Posterior
    from .methods import Method
    from .warmstart import Preconditioner


def _tuning_options(cls: type[Method], step_size: float | None, beta: float | None,
                    adapt: bool | None, warmup: int, target_accept: float | None
                    ) -> tuple[float | None, bool, float]:
    """(the given scale parameter or None, whether to adapt it, the target acceptance)."""
    if cls.parameter == "beta":
        if step_size is not None:
            raise InvalidArgumentError("step_size is not a pCN parameter; pCN takes beta")
        given = beta
    else:
        if beta is not None:
            raise InvalidArgumentError(
                f"beta is a pCN parameter; method={cls.name!r} takes step_size")
        given = step_size
    if cls.target_accept is None:
        if adapt:
            raise InvalidArgumentError(
                f"adapt=True: method={cls.name!r} has no accept step, hence no acceptance "
                f"rate to adapt to; leave step_size=None for the curvature rule or give it")
        adapt = False
    elif adapt is None:
        adapt = given is None and warmup > 0
    if adapt and warmup == 0:
        raise InvalidArgumentError("adapt=True needs warmup > 0 (adaptation runs in warm-up)")
    if target_accept is not None:
        target_accept = float_in_interval("target_accept", target_accept, 0.0, 1.0,
                                          closed_high=False)
    else:
        target_accept = cls.target_accept or 0.5  # (unused without an accept step)
    return given, bool(adapt), target_accept


def choose_loop(posterior: Posterior, compiled: CompiledTarget | None, loop: str
                ) -> tuple[CompiledTarget | None, bool]:
    """(the compiled target or None, whether the compiled loop runs)."""
    if compiled is not None and not isinstance(compiled, CompiledTarget):
        raise InvalidArgumentError(
            f"compiled must be a bayesinv CompiledTarget, got {type(compiled).__name__}")
    target = compiled if compiled is not None else compiled_target(posterior)
    if loop == "compiled" and target is None:
        raise InvalidArgumentError(
            "loop='compiled' needs a numba-compiled target: this posterior has none (only "
            "LinearForwardMap with a GaussianPrior is built in); pass compiled=CompiledTarget"
            "(...) or use loop='interpreted'")
    return target, target is not None and loop != "interpreted"


_LOW_RANK_ONLY = ("gpcn", "gpcnl", "dili")


def _method_for_preconditioner(cls: type[Method], preconditioner: Preconditioner
                               ) -> type[Method]:
    """The method class for this preconditioner: the low-rank variant for a low-rank Laplace
    approximation (which gpCN and gpCN-Langevin always use), with clear errors otherwise."""
    low_rank = isinstance(preconditioner, LaplaceApproximation) or (
        isinstance(preconditioner, str) and preconditioner == "laplace_lowrank")
    if cls.name in _LOW_RANK_ONLY:
        if preconditioner is not None and not low_rank:
            raise InvalidArgumentError(
                f"method={cls.name!r} takes its reference Gaussian from a low-rank Laplace "
                f"approximation: preconditioner=None (built at the MAP), 'laplace_lowrank' or "
                f"bayesinv.laplace(posterior), not {preconditioner!r}")
        return low_rank_variant(cls)
    if low_rank:
        return low_rank_variant(cls)
    if preconditioner is not None and not cls.preconditionable:
        raise InvalidArgumentError(
            f"preconditioner applies to method='ula' or 'mala' only (and a low-rank Laplace "
            f"approximation also to 'gpcn', 'gpcnl', 'dili'), not {cls.name!r}")
    return cls


#: the values of ``sample(loop=...)``
LOOPS = ("auto", "interpreted", "compiled")


def check_settings(method: str = "pcn", *, draws: int = 1000, warmup: int = 0,
                   chains: int = 4, thin: int = 1, step_size: float | None = None,
                   beta: float | None = None, preconditioner: Preconditioner = None,
                   max_divergences: int | None = None, adapt: bool | None = None,
                   target_accept: float | None = None, safety_factor: float = 0.1,
                   curvature_iterations: int = 20, loop: str = "auto",
                   surrogate: Posterior | None = None) -> dict[str, Any]:
    """Validate the sampler settings of :func:`sample` that need no posterior — the same
    checks ``sample`` makes, so that a batch config can be refused before any run.

    Returns the normalised values (``cls``: the method class, ``given``: the scale parameter
    given, or None). Raises :class:`~bayesinv.errors.InvalidArgumentError` naming the
    setting, e.g. ``step_size`` with pCN, ``beta`` with ULA, a preconditioner with a method
    that takes none, or an unknown ``loop``.
    """
    cls = method_class(method)
    draws = integer_at_least("draws", draws, 1)
    warmup = integer_at_least("warmup", warmup, 0)
    chains = integer_at_least("chains", chains, 1)
    thin = integer_at_least("thin", thin, 1)
    loop = one_of("loop", loop, LOOPS)
    safety_factor = positive_float("safety_factor", safety_factor)
    curvature_iterations = integer_at_least("curvature_iterations", curvature_iterations, 1)
    cls = with_surrogate(_method_for_preconditioner(cls, preconditioner), surrogate)
    if loop == "compiled" and not getattr(cls, "compiled_loop", True):
        raise InvalidArgumentError(f"method={cls.name!r} runs in the interpreted loop only; "
                                   f"use loop='auto' or 'interpreted'")
    given, adapt, target_accept = _tuning_options(cls, step_size, beta, adapt, warmup,
                                                  target_accept)
    if max_divergences is None:
        max_divergences = max(10, (warmup + draws * thin) // 20)
    max_divergences = integer_at_least("max_divergences", max_divergences, 0)
    return {"cls": cls, "given": given, "draws": draws, "warmup": warmup, "chains": chains,
            "thin": thin, "loop": loop, "safety_factor": safety_factor,
            "curvature_iterations": curvature_iterations, "adapt": adapt,
            "target_accept": target_accept, "max_divergences": max_divergences}
