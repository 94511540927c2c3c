"""Matplotlib figures: fields on a mesh and MCMC traces. One call each, returning the axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np


def triangulation(space) -> mtri.Triangulation:
    """A matplotlib triangulation of a P1 :class:`~bayesinv.fem.LagrangeSpace` (2-d)."""
    xy = space.coordinates
    return mtri.Triangulation(xy[:, 0], xy[:, 1], space.cell_dofs[:, :3])


def plot_field(space, values, ax=None, *, title=None, cmap="viridis", vmin=None, vmax=None,
               colorbar=True, points=None):
    """Plot a P1 field (nodal values) on its mesh, optionally with design points on top."""
    ax = ax if ax is not None else plt.gca()
    tpc = ax.tripcolor(triangulation(space), np.asarray(values), shading="gouraud", cmap=cmap,
                       vmin=vmin, vmax=vmax)
    if points is not None:
        ax.plot(points[:, 0], points[:, 1], ".", color="white", ms=2, alpha=0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(tpc, ax=ax, shrink=0.8)
    return ax


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
