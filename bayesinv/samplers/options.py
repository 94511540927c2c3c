"""Grouped options of :func:`~bayesinv.samplers.driver.sample`: tuning and persistence.

``sample(posterior, "mala", tuning=Tuning(step_size=0.1), persistence=Persistence(
checkpoint="run.ckpt"))`` is the same call as ``sample(posterior, "mala", step_size=0.1,
checkpoint="run.ckpt")``; the single keyword arguments stay for the common cases. Giving an
option both ways is an error (:func:`grouped`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from os import PathLike

from .._validation import integer_at_least, positive_float
from ..errors import InvalidArgumentError
from .storage import make_storage


@dataclass(frozen=True)
class Tuning:
    """How the kernel's scale parameter is chosen: the keyword arguments of the same names
    of :func:`~bayesinv.samplers.sample` (see there).

    Attributes
    ----------
    step_size, beta : float, optional
        The scale parameter δ (or RWM's s), or pCN's β; None: adapted in warm-up or, for
        ULA-type methods, ``safety_factor / λ_max``.
    adapt : bool, optional
        Dual-averaging adaptation in warm-up.
    target_accept : float, optional
        Its target acceptance rate.
    safety_factor : float
        The ULA step rule δ = safety_factor / λ_max.
    curvature_iterations : int
        Power iterations for λ_max.
    max_divergences : int, optional
        ULA-type methods stop after more diverging steps than this.
    """

    step_size: float | None = None
    beta: float | None = None
    adapt: bool | None = None
    target_accept: float | None = None
    safety_factor: float = 0.1
    curvature_iterations: int = 20
    max_divergences: int | None = None


@dataclass(frozen=True)
class Persistence:
    """Where draws and the resumable state go: the keyword arguments of the same names of
    :func:`~bayesinv.samplers.sample` (see there and :mod:`bayesinv.samplers.storage`).

    Attributes
    ----------
    checkpoint : path, optional
        A resumable run's checkpoint file.
    checkpoint_interval : float
        Seconds between checkpoints.
    stream : path, optional
        A directory of netCDF parts written while the run goes on.
    stream_every : int
        Kept draws per part.
    """

    checkpoint: str | PathLike | None = None
    checkpoint_interval: float = 60.0
    stream: str | PathLike | None = None
    stream_every: int = 1000

    def storage(self):
        """The storage object of these options (validated): :func:`.storage.make_storage`."""
        return make_storage(
            checkpoint=self.checkpoint,
            checkpoint_interval=positive_float("checkpoint_interval", self.checkpoint_interval),
            stream=self.stream,
            stream_every=integer_at_least("stream_every", self.stream_every, 1))


def grouped(name: str, group, cls, loose: dict):
    """The options object from ``group`` (None or a ``cls``) and the single keyword arguments
    ``loose``; an option given both ways (a loose value other than its default) is an error."""
    if group is None:
        return cls(**loose)
    if not isinstance(group, cls):
        raise InvalidArgumentError(
            f"{name} must be a bayesinv.samplers.{cls.__name__}, got {type(group).__name__}")
    defaults = {f.name: f.default for f in fields(cls)}
    both = sorted(k for k, v in loose.items() if not (v is defaults[k] or v == defaults[k]))
    if both:
        raise InvalidArgumentError(
            f"{', '.join(both)} given both as keyword argument and in {name}="
            f"{cls.__name__}(...): give each option once")
    return group
