"""Mesh I/O across dolfinx 0.5–0.10: gmsh models and files, XDMF, VTX (part of
:mod:`bayesinv.fem._compat`; see its table of renames)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import MissingDependencyError
from ._compat_import import dolfinx

if TYPE_CHECKING:
    from dolfinx.fem import Function
    from dolfinx.io import VTXWriter, XDMFFile
    from dolfinx.mesh import Mesh, MeshTags
    from mpi4py.MPI import Comm

#: (mesh, cell tags or None, facet tags or None)
MeshAndTags: TypeAlias = tuple["Mesh", "MeshTags | None", "MeshTags | None"]

# --- mesh I/O -----------------------------------------------------------------------------------

def _gmsh_io() -> ModuleType:
    """dolfinx's gmsh module: ``dolfinx.io.gmsh`` (0.10+) or ``dolfinx.io.gmshio``."""
    for name in ("dolfinx.io.gmsh", "dolfinx.io.gmshio"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "model_to_mesh"):
                return module
    raise MissingDependencyError(
        "dolfinx's gmsh reader is unavailable: install gmsh (`pip install gmsh`; on Debian also "
        "libglu1-mesa libxcursor1 libxft2 libxinerama1, installed by `make setup`).")


def _unpack_mesh_data(result: Any) -> MeshAndTags:
    if hasattr(result, "mesh"):  # 0.10+: MeshData named tuple
        return result.mesh, result.cell_tags, result.facet_tags
    mesh, cell_tags, facet_tags = result[:3]
    return mesh, cell_tags, facet_tags


def model_to_mesh(model: Any, comm: Comm, rank: int, gdim: int) -> MeshAndTags:
    """Convert a gmsh model to ``(mesh, cell_tags, facet_tags)`` (tags from physical groups)."""
    result = _gmsh_io().model_to_mesh(model, comm, int(rank), gdim=int(gdim))
    return _unpack_mesh_data(result)


_GMSH_MODELS = itertools.count()


@contextlib.contextmanager
def gmsh_model(purpose: str, name: str) -> Iterator[ModuleType]:
    """A fresh gmsh model ``bayesinv_<name>_<k>`` inside a quiet gmsh session, yielding the gmsh
    module; ``purpose`` says what needs gmsh in the error when it is missing.

    A gmsh session opened by the caller is left open (only our model is removed); one opened
    here is finalised.
    """
    try:
        import gmsh
    except (ImportError, OSError) as exc:  # OSError: a missing system library (libGLU, libX*)
        raise MissingDependencyError(
            f"{purpose} needs gmsh: pip install gmsh (on Debian it also needs "
            "libglu1-mesa libxcursor1 libxft2 libxinerama1, installed by `make setup`) "
            f"(import error: {exc})") from exc
    owned = not gmsh.isInitialized()
    if owned:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(f"bayesinv_{name}_{next(_GMSH_MODELS)}")
        yield gmsh
    finally:
        if gmsh.isInitialized():
            gmsh.model.remove()
            if owned:
                gmsh.finalize()


def read_gmsh(path: str | os.PathLike[str], comm: Comm, gdim: int) -> MeshAndTags:
    """Read a gmsh ``.msh`` file into ``(mesh, cell_tags, facet_tags)``.

    A gmsh session opened by the caller is left open (only the model read here is removed).
    """
    with gmsh_model("reading .msh files", "read") as gmsh:
        gmsh.merge(str(Path(path)))
        return model_to_mesh(gmsh.model, comm, 0, gdim)


def xdmf_file(comm: Comm, path: str | os.PathLike[str], mode: str) -> XDMFFile:
    """``dolfinx.io.XDMFFile(comm, path, mode)``, a context manager (mode "r", "w" or "a")."""
    return dolfinx.io.XDMFFile(comm, str(path), mode)


def write_meshtags(xdmf: XDMFFile, tags: MeshTags, mesh: Mesh) -> None:
    """Write mesh tags to an open XDMF file (0.7+ also takes the mesh geometry)."""
    try:
        params = list(inspect.signature(type(xdmf).write_meshtags).parameters)
    except (TypeError, ValueError):  # a C++ method without a Python signature (0.5 / 0.6)
        params = []
    if len(params) > 2 and params[2] == "x":
        xdmf.write_meshtags(tags, mesh.geometry)
    else:
        xdmf.write_meshtags(tags)


def read_xdmf(path: str | os.PathLike[str], comm: Comm, mesh_name: str = "mesh",
              cell_tags: str | None = None, facet_tags: str | None = None) -> MeshAndTags:
    """Read a mesh and optionally named cell/facet tags from an XDMF file.

    Returns ``(mesh, cell_tags or None, facet_tags or None)``.
    """
    with xdmf_file(comm, path, "r") as xdmf:
        mesh = xdmf.read_mesh(name=mesh_name)
        ct = ft = None
        tdim = mesh.topology.dim
        if cell_tags is not None:
            ct = xdmf.read_meshtags(mesh, cell_tags)
        if facet_tags is not None:
            mesh.topology.create_connectivity(tdim - 1, tdim)
            ft = xdmf.read_meshtags(mesh, facet_tags)
    return mesh, ct, ft


def vtx_writer(comm: Comm, path: str | os.PathLike[str],
               functions: Function | Sequence[Function]) -> VTXWriter | None:
    """``dolfinx.io.VTXWriter`` for ``functions`` (ADIOS2 ``.bp``), or None without ADIOS2."""
    writer = getattr(dolfinx.io, "VTXWriter", None)
    if writer is None:
        return None
    listed = list(functions) if isinstance(functions, list | tuple) else [functions]
    return writer(comm, str(path), listed)
