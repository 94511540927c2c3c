"""MCMC samplers: numba kernels (:mod:`.kernels`), methods, the ``sample`` driver, the
compiled loop (:mod:`.compiled`), warm-up adaptation, checkpoints and streaming storage."""

from .compiled import CompiledTarget, compiled_target
from .driver import sample
from .exact import sample_exact
from .methods import METHODS
from .storage import read_stream

__all__ = ["METHODS", "CompiledTarget", "compiled_target", "read_stream", "sample", "sample_exact"]
