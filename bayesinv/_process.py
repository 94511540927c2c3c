"""Worker-process set-up shared by the chain workers (:mod:`bayesinv.samplers.parallel`) and the
replicate executors (:mod:`bayesinv.hpc.executors`); ground floor (imports nothing of bayesinv)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def default_signals() -> None:
    """In a worker process: SIGTERM terminates (forked workers would otherwise inherit the
    ``bayesinv`` command's handler and carry on with the next task), and on Linux the worker
    is killed when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so a ``bayesinv``
    process killed with SIGKILL leaves no orphaned workers behind."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes
        import multiprocessing

        with contextlib.suppress(OSError):  # not glibc: no parent-death signal then
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # died before prctl took effect
            os._exit(1)
