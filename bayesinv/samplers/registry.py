"""The registry of sampling methods: name → class, and the low-rank variants.

It sits above every module that defines a method (:mod:`.methods`, :mod:`.lowrank_methods`,
:mod:`.dili`, :mod:`.delayed_acceptance`), so that those modules import :mod:`.methods` for
the base class and nothing imports back (no import circle).
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from ..posterior import WhitenedPosterior
from .delayed_acceptance import DelayedAcceptance
from .dili import DILI
from .lowrank_methods import GPCN, GPCNL
from .lowrank_methods import LOW_RANK_VARIANTS as _LOW_RANK
from .methods import MALA, PCN, PCNL, PULA, RWM, ULA, Method

LOW_RANK_VARIANTS = {**_LOW_RANK, DILI.name: DILI}
METHODS = {cls.name: cls for cls in (ULA, PULA, MALA, PCN, PCNL, RWM, GPCN, GPCNL, DILI,
                                     DelayedAcceptance)}


def low_rank_variant(cls: type[Method]) -> type[Method]:
    """The variant of a method that takes a low-rank Laplace approximation (clear error for
    methods without one)."""
    if cls.name not in LOW_RANK_VARIANTS:
        raise InvalidArgumentError(
            f"a low-rank Laplace preconditioner applies to method={sorted(LOW_RANK_VARIANTS)}, "
            f"not {cls.name!r}")
    return LOW_RANK_VARIANTS[cls.name]


def method_class(name: str) -> type[Method]:
    """The method class for a name, with a clear error for unknown names."""
    if not isinstance(name, str) or name not in METHODS:
        raise InvalidArgumentError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


def make_method(name: str, target: WhitenedPosterior, *,
                sqrt_precond: ArrayLike | None = None) -> Method:
    """Instantiate a method by name."""
    return method_class(name)(target, sqrt_precond=sqrt_precond)
