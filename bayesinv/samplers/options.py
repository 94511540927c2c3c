"""Grouped options of :func:`~bayesinv.samplers.driver.sample`: tuning and persistence.

``sample()`` takes the kernel's scale parameter directly (``step_size``, or pCN's ``beta``)
and the other options of how it is tuned, and of where the draws go, as one object each::

    sample(posterior, "mala", step_size=0.1, tuning=Tuning(target_accept=0.6),
           persistence=Persistence(checkpoint="run.ckpt", stream="parts"))

Every option has exactly one spelling. The former single keyword arguments (``adapt=``,
``target_accept=``, ``safety_factor=``, ``curvature_iterations=``, ``max_divergences=``,
``checkpoint=``, ``checkpoint_interval=``, ``stream=``, ``stream_every=``) are refused with an
:class:`~bayesinv.errors.InvalidArgumentError` naming the new spelling
(:func:`refuse_moved_keywords`). Flat settings — a batch config's ``[inference.settings]``,
an :class:`~bayesinv.synthetic.InferenceSpec`'s ``settings`` — keep the flat names
(``target_accept = 0.6``); :func:`grouped_settings` gathers them into the groups where they
become a ``sample()`` call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from os import PathLike
from typing import Any, TypeVar

from .._validation import integer_at_least, positive_float
from ..errors import InvalidArgumentError
from .storage import Checkpointed, InMemory, make_storage


@dataclass(frozen=True)
class Tuning:
    """How the kernel is tuned, besides its scale parameter (``sample(step_size=...)`` or
    ``beta=...``, given directly): see :func:`~bayesinv.samplers.sample`.

    Attributes
    ----------
    adapt : bool, optional
        Adapt the scale parameter in warm-up to ``target_accept`` (dual averaging), then
        freeze it; default: when the scale parameter is not given (and the method has an
        accept step).
    target_accept : float in (0, 1), optional
        The target acceptance rate; default 0.25 (pCN, RWM) or 0.574 (MALA, pCN-Langevin).
    safety_factor : float
        ULA-type methods without a given step: δ = safety_factor / λ_max (stability needs
        < 2).
    curvature_iterations : int
        Power iterations for λ_max (2 linearised solves each).
    max_divergences : int, optional
        ULA-type methods stop after more diverging steps than this in a chain (default: 5% of
        its steps, at least 10).
    """

    adapt: bool | None = None
    target_accept: float | None = None
    safety_factor: float = 0.1
    curvature_iterations: int = 20
    max_divergences: int | None = None


@dataclass(frozen=True)
class Persistence:
    """Where draws and the resumable state go: see :func:`~bayesinv.samplers.sample` and
    :mod:`bayesinv.samplers.storage`.

    Attributes
    ----------
    checkpoint : path, optional
        A resumable run's checkpoint file: saved every ``checkpoint_interval`` seconds, at the
        end and on SIGTERM; an existing one is resumed.
    checkpoint_interval : float
        Seconds between checkpoints.
    stream : path, optional
        A directory of netCDF parts written while the run goes on (draws not kept in memory).
    stream_every : int
        Kept draws per part.
    """

    checkpoint: str | PathLike[str] | None = None
    checkpoint_interval: float = 60.0
    stream: str | PathLike[str] | None = None
    stream_every: int = 1000

    def storage(self) -> InMemory | Checkpointed:
        """The storage object of these options (validated): :func:`.storage.make_storage`."""
        return make_storage(
            checkpoint=self.checkpoint,
            checkpoint_interval=positive_float("checkpoint_interval", self.checkpoint_interval),
            stream=self.stream,
            stream_every=integer_at_least("stream_every", self.stream_every, 1))


G = TypeVar("G", Tuning, Persistence)

#: the groups, by the keyword of ``sample()`` that takes each
GROUPS: dict[str, type[Tuning] | type[Persistence]] = {"tuning": Tuning,
                                                       "persistence": Persistence}
#: {option: the keyword of its group}: the former single keyword arguments of ``sample()``
MOVED: dict[str, str] = {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}


def refuse_moved_keywords(function: str, given: Mapping[str, object]) -> None:
    """Refuse the keyword arguments in ``given`` (a ``**`` catch-all of ``function``).

    A former single keyword argument of a group (:data:`MOVED`) is an
    :class:`~bayesinv.errors.InvalidArgumentError` naming its spelling now; any other name
    was never an option and is the ``TypeError`` Python raises for an unexpected keyword.
    """
    for name in given:
        if name not in MOVED:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
    if given:
        hints = [f"{name}= is given as {MOVED[name]}={GROUPS[MOVED[name]].__name__}"
                 f"({name}=...)" for name in given]
        raise InvalidArgumentError(
            f"{'; '.join(hints)} (from bayesinv.samplers import Tuning, Persistence)")


def checked_group(name: str, value: object, cls: type[G]) -> G:
    """The options object passed as ``sample(name=value)``: ``value``, or the defaults for
    None; anything but a ``cls`` is an InvalidArgumentError naming ``name``."""
    if value is None:
        return cls()
    if not isinstance(value, cls):
        raise InvalidArgumentError(
            f"{name} must be a bayesinv.samplers.{cls.__name__}(...), got "
            f"{type(value).__name__}")
    return value


def grouped_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``sample()`` settings, as a batch config writes them (``target_accept``,
    ``checkpoint_interval``, ...), as ``sample()``'s keyword arguments: the options of a
    group gathered into ``tuning=Tuning(...)`` and ``persistence=Persistence(...)``; the rest
    unchanged. A group given as an object besides flat options of it is refused."""
    out = {k: v for k, v in settings.items() if k not in MOVED}
    for group, cls in GROUPS.items():
        flat = {k: v for k, v in settings.items() if MOVED.get(k) == group}
        if not flat:
            continue
        if settings.get(group) is not None:
            raise InvalidArgumentError(
                f"{', '.join(flat)} given both as flat settings and in {group}="
                f"{cls.__name__}(...): give each option once")
        out[group] = cls(**flat)
    return out
