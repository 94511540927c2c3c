"""Matplotlib figures: fields on a mesh (2-d, 1-d, plane cuts of 3-d), MCMC traces with rank
plots, and (re-exported from :mod:`bayesinv.diagnostics.plots`) the coverage calibration plot.
One call each, returning the axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
import scipy.stats

from ._validation import integer_at_least, one_of
from .arviz_io import convergence_diagnostics
from .diagnostics.credible import posterior_draws
from .diagnostics.plots import plot_coverage  # noqa: F401  (the calibration plot, one call)
from .errors import InvalidArgumentError
from .space_record import RecordedSpace, recorded_space


def _recorded(space):
    """``space`` itself, or the FE space an InferenceData records (error if none)."""
    if not hasattr(space, "groups"):
        return space
    found = recorded_space(space)
    if found is None:
        raise InvalidArgumentError(
            "space: the InferenceData records no FE space (only runs on an FE forward map do); "
            "pass the space itself")
    return found


def _describe(space) -> tuple[str, str, int]:
    """(cell type, family, degree) of a space (a recorded one, a dolfinx-backed one, or a
    plain triangulation with ``coordinates`` and ``cell_dofs``)."""
    if isinstance(space, RecordedSpace):
        return space.cell_type, space.family, space.degree
    V = getattr(space, "function_space", None)
    if V is None:  # a plain P1 triangulation
        cells = np.asarray(space.cell_dofs)
        return ("triangle" if cells.ndim == 2 and cells.shape[1] == 3 else "unknown",
                "Lagrange", 1)
    from .fem import _compat

    return (_compat.mesh_cell_type_name(V.mesh), *_compat.element_family(V))


def _mesh_arrays(space) -> tuple[np.ndarray, np.ndarray]:
    """(vertex coordinates, cell vertices) of the space's mesh, cells in cell_dofs' order."""
    if isinstance(space, RecordedSpace):
        return space.geometry, space.topology
    from .fem import _compat

    mesh = space.function_space.mesh
    return mesh.geometry.x[:, :mesh.geometry.dim], _compat.geometry_dofs(mesh)


def triangulation(space) -> mtri.Triangulation:
    """A matplotlib triangulation of the vertices of a Lagrange space on triangles (P1, or
    the vertex dofs of P2: the first three dofs of each cell)."""
    xy = space.coordinates
    return mtri.Triangulation(xy[:, 0], xy[:, 1], np.asarray(space.cell_dofs)[:, :3])


def _field_values(space, values):
    """(space, values): an InferenceData with no values plots its posterior mean of θ."""
    if hasattr(space, "groups") and values is None:
        theta = posterior_draws(space, "theta")
        values = theta.reshape(-1, theta.shape[-1]).mean(axis=0)
    space = _recorded(space)
    values = np.asarray(values, dtype=float)
    if values.shape != (space.num_dofs if hasattr(space, "num_dofs") else
                        np.shape(space.coordinates)[0],):
        raise InvalidArgumentError(
            f"values must have one entry per dof of the space "
            f"({np.shape(space.coordinates)[0]}), got shape {values.shape}")
    return space, values


def unplottable(space) -> str | None:
    """Why :func:`plot_field` cannot draw fields on ``space`` (a sentence), or None if it can."""
    dim = np.shape(space.coordinates)[1]
    if dim == 3:
        return ("plot_field draws 2-d fields; this field lives in 3-d: use plot_slices(space, "
                "values) for plane cuts, or bayesinv.io.write_paraview for ParaView")
    cell, family, degree = _describe(space)
    if dim == 2 and (cell != "triangle" or (family, degree) not in (
            ("Lagrange", 1), ("Lagrange", 2), ("DG", 0))):
        return (f"plot_field draws Lagrange (P1, P2) and DG0 fields on triangles, got a "
                f"{family}{degree} field on {cell} cells: use bayesinv.io.write_paraview")
    return None


def plot_field(space, values=None, ax=None, *, title=None, cmap="viridis", vmin=None,
               vmax=None, colorbar=True, points=None):
    """Plot a field (dof values) on its 2-d mesh, optionally with design points on top.

    ``space``: an FE space, or an InferenceData that records one (then ``values`` default to
    the posterior mean of θ). Lagrange fields on triangles are shaded between their vertex
    values (P2: at the vertices), DG0 fields cell by cell; 1-d fields are drawn as a curve.
    Other meshes are refused rather than drawn wrongly: 3-d fields through
    :func:`plot_slices` (or :func:`bayesinv.io.write_paraview` for ParaView), quadrilaterals
    through ParaView.
    """
    space, values = _field_values(space, values)
    reason = unplottable(space)
    if reason:
        raise InvalidArgumentError(reason)
    _, family, _ = _describe(space)
    ax = ax if ax is not None else plt.gca()
    if np.shape(space.coordinates)[1] == 1:
        order = np.argsort(space.coordinates[:, 0])
        ax.plot(space.coordinates[order, 0], values[order], color="C0")
        ax.set_xlabel("x")
        if title:
            ax.set_title(title)
        return ax
    if family == "DG":
        xy, cells = _mesh_arrays(space)
        tri = mtri.Triangulation(xy[:, 0], xy[:, 1], cells)
        artist = ax.tripcolor(tri, facecolors=values[np.asarray(space.cell_dofs)[:, 0]],
                              cmap=cmap, vmin=vmin, vmax=vmax)
    else:
        artist = ax.tripcolor(triangulation(space), values, shading="gouraud", cmap=cmap,
                              vmin=vmin, vmax=vmax)
    if points is not None:
        ax.plot(points[:, 0], points[:, 1], ".", color="white", ms=2, alpha=0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(artist, ax=ax, shrink=0.8)
    return ax


def _evaluator(space):
    """(mesh, E(points)): the dolfinx mesh of a 3-d space and its evaluation operator."""

    mesh = space.function_space.mesh
    if hasattr(space, "evaluation_matrix"):
        return mesh, space.evaluation_matrix
    from .fem.pointeval import evaluation_matrix

    return mesh, lambda pts: evaluation_matrix(space.function_space, pts)


def field_on_plane(space, values, axis: str = "z", position: float = 0.5, resolution: int = 60):
    """The field on a grid over the plane {x_axis = position} through a 3-d mesh's bounding
    box: (u, v, grid values with NaN outside the mesh), u and v the other two coordinates."""
    from .fem import _compat

    space, values = _field_values(space, values)
    k = "xyz".index(one_of("axis", axis, ("x", "y", "z")))
    mesh, evaluate = _evaluator(space)
    x = mesh.geometry.x[:, :3]
    lo, hi = x.min(axis=0), x.max(axis=0)
    if not lo[k] <= position <= hi[k]:
        raise InvalidArgumentError(
            f"position must lie in the mesh's extent [{lo[k]:g}, {hi[k]:g}] along {axis}, got "
            f"{position!r}")
    others = [i for i in range(3) if i != k]
    resolution = integer_at_least("resolution", resolution, 2)
    u = np.linspace(lo[others[0]], hi[others[0]], resolution)
    v = np.linspace(lo[others[1]], hi[others[1]], resolution)
    U, W = np.meshgrid(u, v)
    pts = np.zeros((U.size, 3))
    pts[:, others[0]], pts[:, others[1]], pts[:, k] = U.ravel(), W.ravel(), position
    tree = _compat.bounding_box_tree(mesh, mesh.topology.dim)
    inside = _compat.colliding_cells(mesh, tree, pts) >= 0
    out = np.full(U.size, np.nan)
    if inside.any():
        out[inside] = evaluate(pts[inside]) @ values
    return u, v, out.reshape(U.shape)


def plot_slices(space, values=None, *, axis="z", positions=None, resolution=60, axes=None,
                cmap="viridis", title=None):
    """Plane cuts of a 3-d field: the field on grids over planes {x_axis = c} for each c in
    ``positions`` (default: the quartiles of the mesh's extent), on one colour scale, blank
    outside the mesh. ``space`` as in :func:`plot_field` (an InferenceData plots its posterior
    mean of θ). The values are those of the FE function (evaluated, not interpolated)."""
    space, values = _field_values(space, values)
    if np.shape(space.coordinates)[1] != 3:
        raise InvalidArgumentError("plot_slices cuts 3-d fields; use plot_field in 2-d")
    mesh, _ = _evaluator(space)
    k = "xyz".index(one_of("axis", axis, ("x", "y", "z")))
    x = mesh.geometry.x[:, k]
    positions = (np.quantile([x.min(), x.max()], [0.25, 0.5, 0.75]) if positions is None
                 else np.atleast_1d(np.asarray(positions, dtype=float)))
    if axes is None:
        _, axes = plt.subplots(1, len(positions), figsize=(3.2 * len(positions) + 0.8, 3.2),
                               squeeze=False, layout="constrained")
        axes = axes[0]
    cuts = [field_on_plane(space, values, axis, c, resolution) for c in positions]
    lo = min(np.nanmin(g) for _, _, g in cuts if np.isfinite(g).any())
    hi = max(np.nanmax(g) for _, _, g in cuts if np.isfinite(g).any())
    names = [n for n in "xyz" if n != axis]
    for ax, c, (u, v, grid) in zip(axes, positions, cuts, strict=True):
        image = ax.pcolormesh(u, v, np.ma.masked_invalid(grid), cmap=cmap, vmin=lo, vmax=hi,
                              shading="nearest")
        ax.set_aspect("equal")
        ax.set_title(f"{axis} = {c:.3g}", fontsize=10)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    axes[0].figure.colorbar(image, ax=list(axes), shrink=0.8)
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_traces(idata, var_name="xi", indices=(0, 1, 2), axes=None, title=None):
    """Trace plots of a few coordinates of a posterior variable: one row per coordinate, one
    line per chain. ``axes`` (one per index) default to a new figure."""
    if axes is None:
        _, axes = plt.subplots(len(indices), 1, sharex=True, squeeze=False)
        axes = axes[:, 0]
    values = idata.posterior[var_name].values
    for ax, idx in zip(axes, indices, strict=True):
        for c in range(values.shape[0]):
            ax.plot(values[c, :, idx], lw=0.4, alpha=0.7, color=f"C{c}")
        ax.set_ylabel(f"{var_name}[{idx}]")
        ax.margins(x=0)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("draw (after warm-up and thinning)")
    if title:
        axes[0].set_title(title)
    return axes


def chain_rank_counts(values, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Rank plot data (Vehtari et al. 2021, §4.2): the draws (chain, draw) of a scalar are
    ranked over all chains together (1..S, ties averaged), and each chain's ranks are
    counted in ``bins`` equal bins of [0.5, S + 0.5]. Returns (bin edges, counts (chain,
    bins)); with mixed chains each chain's counts are uniform up to binomial noise."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise InvalidArgumentError(f"values must have shape (chain, draw), got {values.shape}")
    bins = integer_at_least("bins", bins, 1)
    ranks = scipy.stats.rankdata(values.ravel()).reshape(values.shape)
    edges = np.linspace(0.5, values.size + 0.5, bins + 1)
    return edges, np.stack([np.histogram(r, edges)[0] for r in ranks])


def plot_trace_rank(idata, var_name="xi", indices=(0, 1, 2), *, bins=20, axes=None,
                    title=None):
    """Trace (left) and rank plot (right) of a few coordinates of a posterior variable, one
    row per coordinate, one colour per chain, with the rank-normalised split R-hat.

    The rank plot (:func:`chain_rank_counts`) shows each chain's histogram of pooled ranks and
    the 99% range of a bin's count under uniform ranks: a chain stuck in part of the
    posterior shows as counts piled at one end. ``axes``: (len(indices), 2) axes, default a
    new figure."""
    values = idata.posterior[var_name].values
    values = values.reshape(*values.shape[:2], -1)
    indices = [int(i) for i in np.atleast_1d(indices)]
    if not indices or min(indices) < 0 or max(indices) >= values.shape[2]:
        raise InvalidArgumentError(
            f"indices must be coordinates in [0, {values.shape[2]}) of {var_name!r}, got "
            f"{indices}")
    if axes is None:
        _, axes = plt.subplots(len(indices), 2, figsize=(10, 1.9 * len(indices) + 0.6),
                               squeeze=False, layout="constrained")
    axes = np.asarray(axes).reshape(len(indices), 2)
    rhat = convergence_diagnostics(idata, var_name)["rhat"]
    nchain, ndraw = values.shape[:2]
    for (trace, rank), idx in zip(axes, indices, strict=True):
        x = values[:, :, idx]
        for c in range(nchain):
            trace.plot(x[c], lw=0.4, alpha=0.7, color=f"C{c}")
        trace.set_ylabel(f"{var_name}[{idx}]")
        trace.margins(x=0)
        edges, counts = chain_rank_counts(x, bins)
        lo, hi = scipy.stats.binom.ppf([0.005, 0.995], ndraw, 1.0 / bins)
        rank.axhspan(lo, hi, color="0.6", alpha=0.3, zorder=0)
        rank.axhline(ndraw / bins, color="0.3", lw=0.8)
        for c in range(nchain):
            rank.stairs(counts[c], edges, color=f"C{c}", lw=1.2, label=f"chain {c}")
        rank.set_ylabel("draws per bin")
        rank.set_title(f"R-hat = {rhat[idx]:.3f}", fontsize=9, loc="right")
        rank.margins(x=0)
    axes[-1, 0].set_xlabel("draw (after warm-up and thinning)")
    axes[-1, 1].set_xlabel("rank among all chains' draws (grey: 99% range under mixing)")
    if nchain <= 8:
        axes[0, 1].legend(fontsize=7, ncols=min(nchain, 4), loc="upper right")
    if title:
        axes[0, 0].figure.suptitle(title)
    return axes


def plot_prior_draws(prior, space, n: int = 4, *, seed=0, axes=None, title=None,
                     cmap="RdBu_r"):
    """``n`` draws θ = T(ξ) of any whitened prior on a P1 space in one row, on one colour scale
    centred at the draws' median (one colour bar). ``axes`` (n of them) default to a new row."""
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.8, 2.6), squeeze=False,
                                 layout="constrained")
        axes = axes[0]
    draws = np.atleast_2d(prior.sample(np.random.default_rng(seed), size=n))
    centre = float(np.median(draws))
    half = float(np.abs(draws - centre).max())
    for i, ax in enumerate(axes):
        plot_field(space, draws[i], ax, cmap=cmap, vmin=centre - half, vmax=centre + half,
                   colorbar=False, title=f"draw {i + 1}")
    mappable = axes[-1].collections[0]
    axes[0].figure.colorbar(mappable, ax=list(axes), shrink=0.8)
    if title:
        axes[0].figure.suptitle(title)
    return axes
