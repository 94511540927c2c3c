r"""Posterior fields for ParaView: XDMF (and VTX where dolfinx has ADIOS2) from an InferenceData.

:func:`write_paraview` writes, from the draws θ^{(1..S)} of an FE field (the ``theta`` of a
sampler run on an FE forward map, whose InferenceData records its space — see
:mod:`bayesinv.space_record` — or any draws with ``space=``):

* ``mean`` m_i and ``sd`` s_i (pointwise, ddof = 1) of the pooled draws;
* ``pointwise_lower``/``pointwise_upper``: equal-tailed pointwise intervals at ``level``
  (:func:`~bayesinv.diagnostics.pointwise_intervals`);
* ``band_lower``/``band_upper``: the envelope m ∓ R s of the simultaneous sup-norm band at
  ``level`` (:func:`~bayesinv.diagnostics.simultaneous_band`);
* ``draw``: ``num_draws`` draws evenly spaced through the pooled draws, as the time steps of
  one function (time = index of the draw among the S pooled draws, chain-major).

One XDMF file (``<name>.xdmf`` with its HDF5 ``<name>.h5``; open the ``.xdmf`` in ParaView
with the "Xdmf3 Reader S"), each quantity a named function. XDMF holds one value per mesh
vertex (or per cell): P1 and DG0 fields are written exactly; higher-degree Lagrange fields are
written by their vertex values (their interpolant into P1). VTX (ADIOS2 ``.bp``, arbitrary
Lagrange degree) is written too when dolfinx was built with ADIOS2 — Debian 12's dolfinx 0.5.2
was not, and the result then says why it was skipped.

Writes are atomic: the files are written in a temporary directory next to the target and
renamed into place, the ``.h5`` before the ``.xdmf`` that points to it
(:func:`bayesinv._files.atomic_path`). :func:`read_fields` reads such a file back (any dolfinx
XDMF file of functions) into NumPy arrays, optionally in the dof order of a space.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_path
from ._validation import integer_at_least
from .diagnostics.credible import (
    check_level,
    pointwise_intervals,
    posterior_draws,
    require_space,
    simultaneous_band,
)
from .errors import InvalidArgumentError, MissingDependencyError
from .space_record import recorded_space

SUMMARY_FIELDS = ("mean", "sd", "pointwise_lower", "pointwise_upper", "band_lower",
                  "band_upper")


@dataclass
class ParaViewExport:
    """What :func:`write_paraview` wrote: the files, the pooled indices of the draws written
    (their time values), and the formats skipped with the reason."""

    xdmf: Path
    h5: Path
    vtx: list[Path] = field(default_factory=list)
    draw_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    skipped: dict[str, str] = field(default_factory=dict)


def posterior_fields(draws, level: float = 0.95, *, var_name: str = "theta") -> dict:
    """The summary fields written by :func:`write_paraview` (see the module docstring), as
    arrays of θ's length keyed by :data:`SUMMARY_FIELDS`."""
    level = check_level(level)
    arr = posterior_draws(draws, var_name)
    pooled = arr.reshape(-1, arr.shape[-1])
    pw = pointwise_intervals(arr, level)
    band = simultaneous_band(arr, level)
    return {"mean": pooled.mean(axis=0), "sd": pooled.std(axis=0, ddof=1),
            "pointwise_lower": pw.lower, "pointwise_upper": pw.upper,
            "band_lower": band.lower, "band_upper": band.upper}


def _dolfinx_target(space):
    """(V, dofs, output space W): θ's values v go to a Function on V with u[dofs] = v; XDMF
    writes on W (V itself for P1/DG0, P1 for higher-degree Lagrange)."""
    from .fem import _compat

    V = getattr(space, "function_space", None)
    if V is None:
        raise InvalidArgumentError(
            f"space must be an FE space with a dolfinx function_space (a LagrangeSpace, the "
            f"parameter_space of a MeshDomain or a recorded space), got {type(space).__name__}")
    dofs = getattr(space, "dolfinx_dofs", None)
    dofs = np.arange(space.num_dofs) if dofs is None else dofs
    family, degree = _compat.element_family(V)
    if (family, degree) in (("DG", 0), ("Lagrange", 1)):
        return V, dofs, V
    if family == "Lagrange":
        return V, dofs, _compat.function_space(V.mesh, "Lagrange", 1)
    raise InvalidArgumentError(
        f"write_paraview writes Lagrange and DG0 fields, got a {family}{degree} space")


def write_paraview(path, draws, *, space=None, level: float = 0.95, num_draws: int = 10,
                   var_name: str = "theta", vtx: bool = True) -> ParaViewExport:
    """Write posterior mean, sd, pointwise and simultaneous band limits and thinned draws of an
    FE field to ``path`` (``.xdmf``; its ``.h5`` beside it) and, where dolfinx has ADIOS2,
    to VTX ``<stem>.bp`` and ``<stem>_draws.bp``.

    Parameters
    ----------
    path : str or Path
        The ``.xdmf`` file to write.
    draws : InferenceData (or array (chain, draw, n))
        Posterior draws of θ; an InferenceData from an FE problem records its space.
    space : FE space, optional
        θ's space (default: the one recorded in ``draws``).
    level : float
        Credible level of the intervals and the band.
    num_draws : int
        How many draws to write (evenly spaced among the pooled draws; 0 for none).
    vtx : bool
        Also write VTX files where dolfinx supports them.
    """
    from .fem import _compat

    path = Path(path)
    if path.suffix.lower() != ".xdmf":
        raise InvalidArgumentError(f"path must end in '.xdmf', got {str(path)!r}")
    num_draws = integer_at_least("num_draws", num_draws, 0)
    arr = posterior_draws(draws, var_name)
    space = require_space(draws, space, arr.shape[-1], "write_paraview")
    fields = posterior_fields(arr, level)
    pooled = arr.reshape(-1, arr.shape[-1])
    count = min(num_draws, pooled.shape[0])
    picks = np.unique(np.linspace(0, pooled.shape[0] - 1, count).round().astype(int)) \
        if count else np.zeros(0, dtype=int)
    V, dofs, W = _dolfinx_target(space)

    def function(values, name, on):
        u = _compat.dolfinx.fem.Function(V)
        u.x.array[dofs] = values
        if on is not V:
            w = _compat.dolfinx.fem.Function(on)
            w.interpolate(u)
            u = w
        u.name = name
        return u

    h5 = path.with_suffix(".h5")
    export = ParaViewExport(xdmf=path, h5=h5, draw_indices=picks)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as tmp:
        staged = Path(tmp) / path.name
        with _compat.xdmf_file(_compat.COMM, staged, "w") as xdmf:
            xdmf.write_mesh(W.mesh)
            for name, values in fields.items():
                xdmf.write_function(function(values, name, W), 0.0)
            for i in picks:
                xdmf.write_function(function(pooled[i], "draw", W), float(i))
        with atomic_path(path) as tmp_xdmf, atomic_path(h5) as tmp_h5:
            shutil.copyfile(staged.with_suffix(".h5"), tmp_h5)
            shutil.copyfile(staged, tmp_xdmf)
    if vtx:
        _write_vtx(export, V, fields, pooled[picks], function)
    return export


def _write_vtx(export, V, fields, picked, function) -> None:
    """VTX (ADIOS2) output in V's own element, or the reason it is skipped."""
    from .fem import _compat

    if getattr(_compat.dolfinx.io, "VTXWriter", None) is None:
        export.skipped["vtx"] = (f"dolfinx {_compat.dolfinx.__version__} was built without "
                                 f"ADIOS2 (no dolfinx.io.VTXWriter)")
        return
    stem = export.xdmf.with_suffix("")
    summary = [function(values, name, V) for name, values in fields.items()]
    targets = [(stem.with_suffix(".bp"), summary, [0.0])]
    if len(picked):
        draw = function(picked[0], "draw", V)
        targets.append((Path(f"{stem}_draws.bp"), [draw], export.draw_indices))
    for target, functions, times in targets:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
            staged = Path(tmp) / target.name
            writer = _compat.vtx_writer(_compat.COMM, staged, functions)
            if writer is None:  # pragma: no cover - ruled out by the VTXWriter check above
                raise MissingDependencyError("dolfinx.io.VTXWriter is unavailable (no ADIOS2)")
            try:
                for k, t in enumerate(times):
                    if functions[0].name == "draw":
                        functions[0].x.array[:] = function(picked[k], "draw", V).x.array
                    writer.write(float(t))
            finally:
                writer.close()
            _replace_directory(staged, target)
        export.vtx.append(target)


def _replace_directory(source: Path, target: Path) -> None:
    """Move the directory ``source`` onto ``target`` (an old ``target`` is renamed aside
    first and removed after, so ``target`` is never half-written)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _child(element: ET.Element, path: str, where: Path) -> ET.Element:
    """The first descendant at ``path``; a file without it is not a dolfinx XDMF file."""
    found = element.find(path)
    if found is None:
        raise InvalidArgumentError(
            f"{str(where)!r} is not a dolfinx XDMF file of functions: <{element.tag}> has no "
            f"{path}")
    return found


def _attribute(element: ET.Element, name: str, where: Path) -> str:
    value = element.get(name)
    if value is None:
        raise InvalidArgumentError(
            f"{str(where)!r} is not a dolfinx XDMF file of functions: <{element.tag}> has no "
            f"attribute {name}")
    return value


def read_fields(path: str | os.PathLike[str], *, space: Any = None) -> dict[str, np.ndarray]:
    """Arrays from a dolfinx XDMF file of functions (such as :func:`write_paraview`'s).

    Returns a dict with ``"geometry"`` (vertices, gdim), ``"topology"`` (cells, vertices per
    cell), and for each function its values: shape (n,) for one time step, (steps, n) with
    ``"<name>_time"`` (steps,) for several. Without ``space`` the values are in the file's
    order (one per vertex, or per cell for DG0). With ``space`` (an FE space or an
    InferenceData recording one) they are in the space's dof order: vertex values go to the
    dofs at those vertices (NaN at dofs elsewhere, e.g. the edge dofs of P2), cell values to
    DG0 dofs (matched to the cell midpoints).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InvalidArgumentError(f"XDMF file {str(path)!r} does not exist")
    root = ET.parse(path).getroot()
    grids = _child(root, "Domain", path).findall("Grid")

    def read(item: ET.Element, h5files: dict[str, Any]) -> np.ndarray:
        name, _, dataset = (item.text or "").strip().partition(":")
        file = h5files.setdefault(name, h5py.File(path.parent / name, "r"))
        return np.asarray(file[dataset])

    h5files: dict = {}
    try:
        mesh = next((g for g in grids if g.get("GridType") == "Uniform"), None)
        if mesh is None:
            raise InvalidArgumentError(
                f"{str(path)!r} is not a dolfinx XDMF file of functions: it has no mesh "
                f"(a Grid of GridType Uniform)")
        out = {"geometry": read(_child(mesh, "Geometry/DataItem", path), h5files),
               "topology": read(_child(mesh, "Topology/DataItem", path),
                                h5files).astype(np.int64)}
        centers: dict[str, str | None] = {}
        for grid in grids:
            if grid.get("GridType") != "Collection":
                continue
            name = _attribute(grid, "Name", path)
            times, values = [], []
            for step in grid.findall("Grid"):
                attribute = _child(step, "Attribute", path)
                times.append(float(_attribute(_child(step, "Time", path), "Value", path)))
                values.append(read(_child(attribute, "DataItem", path), h5files).reshape(-1))
                centers[name] = attribute.get("Center")
            if len(values) == 1:
                out[name] = values[0]
            else:
                out[name] = np.stack(values)
                out[f"{name}_time"] = np.asarray(times)
    finally:
        for file in h5files.values():
            file.close()
    if space is not None:
        _to_dof_order(out, centers, space)
    return out


def _to_dof_order(out: dict, centers: dict, space) -> None:
    from .space_record import match_points

    if hasattr(space, "groups"):  # an InferenceData
        found = recorded_space(space)
        if found is None:
            raise InvalidArgumentError("space: the InferenceData records no FE space")
        space = found
    coords = np.asarray(space.coordinates, dtype=float)
    geometry = out["geometry"][:, :coords.shape[1]]
    midpoints = geometry[out["topology"]].mean(axis=1)
    from scipy.spatial import cKDTree

    dist, nearest = cKDTree(geometry).query(coords)
    at_vertex = dist <= 1e-9 * (1.0 + np.abs(coords).max())
    for name, center in centers.items():
        values = out[name]
        if center == "Cell":
            idx = match_points(coords, midpoints, "dofs of the space")
            out[name] = values[..., idx]
        else:
            mapped = np.full((*values.shape[:-1], coords.shape[0]), np.nan)
            mapped[..., at_vertex] = values[..., nearest[at_vertex]]
            out[name] = mapped
