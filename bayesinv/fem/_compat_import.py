"""The FEniCSx imports of :mod:`bayesinv.fem._compat`: mpi4py, petsc4py, dolfinx, basix and ufl,
imported once with each installation fault turned into one sentence, PETSc's signal
handlers undone, the dolfinx version checked against :data:`SUPPORTED`, and quiet JIT."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from ..errors import MissingDependencyError

#: Inclusive range of dolfinx (major, minor) versions this package is written and tested for.
SUPPORTED = ((0, 5), (0, 10))

INSTALL_HINT = (
    "FEniCSx (dolfinx) is needed for bayesinv.fem but could not be imported: "
    "on Debian 12 or 13 `sudo apt-get install python3-dolfinx` and use a venv made with "
    "`/usr/bin/python3 -m venv --system-site-packages .venv` (or just run `make setup`); "
    "elsewhere `conda install -c conda-forge fenics-dolfinx` (see README)."
)


def _numpy_abi_sentence(exc: BaseException) -> str:
    import numpy

    want = "numpy>=2" if int(numpy.__version__.split(".")[0]) < 2 else "numpy<2"
    return (
        f"numpy {numpy.__version__} does not match the numpy that petsc4py/dolfinx were built "
        f"against ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
        f"install {want} in this environment (on Debian: rerun `make setup`, which pins numpy "
        "to the one of the release's python3-dolfinx).")


def _is_numpy_abi_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in (
        "numpy.dtype size changed", "binary incompatibility", "compiled using NumPy 1.x",
        "numpy.core.multiarray failed to import", "_ARRAY_API not found",
        "numpy._core.multiarray failed to import"))


def _import_fenicsx() -> tuple[Any, Any, Any]:
    """Import mpi4py, petsc4py and dolfinx, translating installation faults into one sentence."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        if _is_numpy_abi_error(exc):
            raise MissingDependencyError(_numpy_abi_sentence(exc)) from exc
        raise MissingDependencyError(
            "mpi4py is missing but dolfinx needs it: install `python3-mpi4py` (Debian, the "
            "one built for its OpenMPI) or `conda install -c conda-forge mpi4py` "
            f"(import error: {exc}).") from exc
    try:
        import dolfinx
        import dolfinx.fem
        import dolfinx.fem.petsc
        import dolfinx.geometry
        import dolfinx.io
        import dolfinx.mesh
        from petsc4py import PETSc
    except (ImportError, ValueError, AttributeError) as exc:
        if _is_numpy_abi_error(exc):
            raise MissingDependencyError(_numpy_abi_sentence(exc)) from exc
        if isinstance(exc, ImportError) and getattr(exc, "name", None) == "mpi4py":
            raise MissingDependencyError(
                "mpi4py is missing but dolfinx needs it: install `python3-mpi4py` (Debian) or "
                f"`conda install -c conda-forge mpi4py` (import error: {exc}).") from exc
        if isinstance(exc, ImportError):
            raise MissingDependencyError(f"{INSTALL_HINT} (import error: {exc})") from exc
        raise
    return MPI, PETSc, dolfinx


def _restore_python_signal_handling() -> None:
    """Undo PETSc's signal handlers, installed when petsc4py initialises PETSc.

    PETSc traps SIGPIPE, SIGTERM, SIGINT, ... and answers with MPI_ABORT (exit 59): a client
    closing a socket early (SIGPIPE, which Python ignores) or a SIGTERM that the samplers turn
    into a checkpoint would kill the process. Python's own dispositions are put back (they are
    what ``signal.getsignal`` still reports); only possible from the main thread.
    """
    import signal
    import threading

    PETSc.Sys.popSignalHandler()
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGPIPE", "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT"):
        sig = getattr(signal, name, None)
        if sig is None:  # not on this platform
            continue
        handler = signal.getsignal(sig)
        if handler is not None:
            signal.signal(sig, handler)


MPI, PETSc, dolfinx = _import_fenicsx()
_restore_python_signal_handling()
# imported by dolfinx above; after the checked imports on purpose, re-exported by _compat
import basix  # noqa: E402, F401
import ufl  # noqa: E402, F401

COMM = MPI.COMM_SELF


def _parse_version(text: str) -> tuple[int, int, int]:
    major, minor, patch, *_ = [*(int(m) for m in re.findall(r"\d+", str(text))[:3]), 0, 0, 0]
    return major, minor, patch


#: The dolfinx version found, as integers (major, minor, patch).
DOLFINX_VERSION: tuple[int, int, int] = _parse_version(dolfinx.__version__)


def unsupported_version_message(version: tuple[int, ...]) -> str | None:
    """The one-sentence error for a dolfinx ``version`` outside :data:`SUPPORTED`, else None."""
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED
    if (lo_major, lo_minor) <= tuple(version[:2]) <= (hi_major, hi_minor):
        return None
    found = ".".join(str(v) for v in version)
    return (f"bayesinv.fem supports dolfinx {lo_major}.{lo_minor} to {hi_major}.{hi_minor}, "
            f"but dolfinx {found} is installed: install a dolfinx in that range (Debian 12/13's "
            "`python3-dolfinx`, or `conda install -c conda-forge "
            f"'fenics-dolfinx>={lo_major}.{lo_minor},<{hi_major}.{hi_minor + 1}'`).")


def check_supported() -> None:
    """Raise :class:`MissingDependencyError` when the installed dolfinx is outside SUPPORTED."""
    message = unsupported_version_message(DOLFINX_VERSION)
    if message is not None:
        raise MissingDependencyError(message)


check_supported()


# --- quiet JIT ----------------------------------------------------------------------------

def _drop_info(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence FFCx's INFO logging of C build commands during first-time form compilation.

    (setuptools resets the root logger's level, so the records are filtered instead.)
    """
    root = logging.getLogger()
    targets = [root, *root.handlers]  # records of child loggers reach the handlers directly
    for target in targets:
        target.addFilter(_drop_info)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(_drop_info)
