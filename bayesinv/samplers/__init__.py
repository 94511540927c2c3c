"""MCMC samplers: numba kernels (:mod:`.kernels`), methods, the ``sample`` driver, the
compiled loop (:mod:`.compiled`), warm-up adaptation, grouped options (:mod:`.options`) and the
draw storage (:mod:`.storage`: in memory, streamed, checkpointed)."""

from .compiled import CompiledTarget, compiled_target
from .driver import LOOPS, check_settings, sample
from .exact import sample_exact
from .options import Persistence, Tuning
from .registry import METHODS
from .storage import read_stream
from .warmstart import INITS, PRECONDITIONERS

__all__ = ["INITS", "LOOPS", "METHODS", "PRECONDITIONERS", "CompiledTarget", "Persistence",
           "Tuning", "check_settings", "compiled_target", "read_stream", "sample", "sample_exact"]
