"""The exception hierarchy of bayesinv.

Every error the package raises on purpose derives from :class:`BayesinvError`, so that a
coverage study or a batch run can tell "the model said no" from a bug. Bad user input raises
:class:`InvalidArgumentError`, which is also a :class:`ValueError` so ordinary ``except
ValueError`` code keeps working.
"""

from __future__ import annotations

import os
from typing import Any


class BayesinvError(Exception):
    """Base class of all errors raised by bayesinv."""


class InvalidArgumentError(BayesinvError, ValueError):
    """An argument has a value outside what is valid; the message names both."""


class ForwardSolveError(BayesinvError):
    """A forward (or adjoint) PDE solve failed.

    Samplers treat it as a rejected proposal (pCN, MALA) or a flagged divergence (ULA).

    Parameters
    ----------
    reason : str
        What went wrong, e.g. ``"non-finite parameter"`` or ``"matrix not positive definite"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SamplerDivergenceError(BayesinvError):
    """A chain produced too many non-finite steps and was stopped.

    Attributes
    ----------
    partial : arviz.InferenceData or None
        The draws made before the chain was stopped, if any.
    """

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class SamplingInterrupted(BayesinvError):
    """A run was stopped by SIGTERM after writing its checkpoint.

    Calling :func:`bayesinv.sample` again with the same arguments resumes it; the draws are
    then bit-identical to those of an uninterrupted run.

    Attributes
    ----------
    checkpoint : str
        The checkpoint file that was written.
    iteration : int
        Steps per chain completed before the stop.
    """

    def __init__(self, message: str, checkpoint: str | None = None,
                 iteration: int | None = None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.iteration = iteration


class ChainWorkerError(BayesinvError):
    """A worker process running chains of ``sample(..., cores=N)`` died (or failed); the
    message names the worker, its chains and how it ended."""


class ConfigError(BayesinvError, ValueError):
    """An experiment configuration is invalid; the message names the key and the value."""


class CorruptFileError(BayesinvError):
    """A file bayesinv wrote earlier (a checkpoint, a replicate result, a manifest, a cache)
    cannot be trusted: truncated, damaged, edited or not bayesinv's. The message names it.

    Attributes
    ----------
    path : str
        The file.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else str(path)


class MissingDependencyError(BayesinvError, ImportError):
    """An optional dependency (FEniCSx, scikit-sparse, ...) is needed for this feature."""


class BayesinvWarning(UserWarning):
    """Base class of warnings issued by bayesinv (e.g. poor convergence diagnostics)."""
