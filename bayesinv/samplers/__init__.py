"""MCMC samplers: numba kernels (:mod:`.kernels`), methods, the ``sample`` driver, the
compiled loop (:mod:`.compiled`), warm-up adaptation, grouped options (:mod:`.options`) and the
draw storage (:mod:`.storage`: in memory, streamed, checkpointed)."""

from .compiled import CompiledTarget, compiled_target
from .driver import sample
from .exact import sample_exact
from .methods import METHODS
from .options import Persistence, Tuning
from .storage import read_stream

__all__ = ["METHODS", "CompiledTarget", "Persistence", "Tuning", "compiled_target", "read_stream",
           "sample", "sample_exact"]
