"""Field plots for every dimension (2-d shaded, 3-d by plane cuts, never overlapping triangles)
and the trace/rank plot (figures looked at by eye as well)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayesinv.arviz_io import (
    build_inference_data,
    read_netcdf,
    write_netcdf_atomic,
)
from bayesinv.errors import InvalidArgumentError
from bayesinv.plotting import chain_rank_counts, plot_trace_rank


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def idata_of(posterior, space=None):
    first = next(iter(posterior.values()))
    return build_inference_data(posterior=posterior, sample_stats={"lp": first[..., 0]},
                                log_likelihood=None, observed_data={"y": np.zeros(2)},
                                constant_data={}, attrs={}, space=space)


# -- fields -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fem():
    return pytest.importorskip("bayesinv.fem")


@pytest.fixture(scope="module")
def cube(fem):
    from bayesinv.fem import _compat

    return fem.Domain(_compat.dolfinx.mesh.create_unit_cube(_compat.COMM, 3, 3, 3))


@pytest.mark.fem
def test_a_3d_field_is_refused_by_plot_field_not_drawn_as_triangles(cube):
    from bayesinv.plotting import plot_field

    space = cube.space(1)
    plt.close("all")  # figures left by earlier tests (in any order) are not this test's
    with pytest.raises(InvalidArgumentError, match="plot_slices"):
        plot_field(space, np.zeros(space.num_dofs))
    with pytest.raises(InvalidArgumentError, match="plot_slices"):
        plot_field(idata_of({"theta": np.zeros((1, 3, space.num_dofs))}, space))
    assert not plt.get_fignums()  # no figure was even opened, so nothing was drawn


@pytest.mark.fem
def test_quadrilaterals_are_refused(fem):
    from bayesinv.fem import _compat
    from bayesinv.fem.variational import DofSpace
    from bayesinv.plotting import plot_field

    mesh = _compat.dolfinx.mesh.create_unit_square(
        _compat.COMM, 3, 3, _compat.dolfinx.mesh.CellType.quadrilateral)
    space = DofSpace(_compat.function_space(mesh, "Lagrange", 1))
    with pytest.raises(InvalidArgumentError, match="quadrilateral"):
        plot_field(space, np.zeros(space.num_dofs))


@pytest.mark.fem
def test_2d_fields_draw_their_values(fem, tmp_path):
    from bayesinv.fem import _compat
    from bayesinv.fem.variational import DofSpace
    from bayesinv.plotting import plot_field

    square = fem.unit_square(4)
    f = lambda x: np.sin(3 * x[0]) + x[1]  # noqa: E731
    P1 = square.space(1)
    arr = np.random.default_rng(0).standard_normal((2, 10, P1.num_dofs)) + P1.interpolate(f)
    write_netcdf_atomic(idata_of({"theta": arr}, P1), tmp_path / "run.nc")
    ax = plot_field(read_netcdf(tmp_path / "run.nc"))  # the recorded space, the mean of θ
    np.testing.assert_allclose(ax.collections[0].get_array(), arr.mean(axis=(0, 1)))
    with pytest.raises(InvalidArgumentError, match="no variable 'theta'"):
        plot_field(idata_of({"xi": arr}, P1))
    dg = DofSpace(_compat.function_space(square.mesh, "DG", 0))
    values = dg.interpolate(f)
    ax = plot_field(dg, values, plt.figure().gca())
    # one flat colour per triangle, each the value of the cell's own dof
    np.testing.assert_array_equal(ax.collections[0].get_array(), values[dg.cell_dofs[:, 0]])
    midpoints = np.array([path.vertices[:3].mean(axis=0)
                          for path in ax.collections[0].get_paths()])
    np.testing.assert_allclose(midpoints, dg.coordinates[dg.cell_dofs[:, 0]], atol=1e-12)


@pytest.mark.fem
@pytest.mark.slow
def test_plane_cuts_evaluate_the_fe_function_and_blank_the_outside(cube, tmp_path):
    from bayesinv.plotting import field_on_plane, plot_slices

    g = lambda x: x[0] + 2 * x[1] + 3 * x[2]  # noqa: E731  (P1 holds it exactly)
    space = cube.space(1)
    values = space.interpolate(g)
    u, v, grid = field_on_plane(space, values, "y", 0.4, resolution=9)
    U, W = np.meshgrid(u, v)
    np.testing.assert_allclose(grid, U + 2 * 0.4 + 3 * W, atol=1e-12)
    # a recorded space reloaded from a file gives the same cut
    arr = np.broadcast_to(values, (1, 2, space.num_dofs))
    write_netcdf_atomic(idata_of({"theta": arr}, space), tmp_path / "run.nc")
    back = read_netcdf(tmp_path / "run.nc")
    _, _, again = field_on_plane(back, None, "y", 0.4, resolution=9)
    np.testing.assert_allclose(again, grid, atol=1e-12)
    axes = plot_slices(back, axis="z", positions=[0.1, 0.9])
    assert [ax.get_title() for ax in axes] == ["z = 0.1", "z = 0.9"]
    with pytest.raises(InvalidArgumentError, match="position"):
        field_on_plane(space, values, "z", 1.5)


@pytest.mark.fem
@pytest.mark.slow
def test_plane_cuts_of_a_nonconvex_mesh_are_blank_outside(fem):
    from bayesinv.fem import _compat
    from bayesinv.plotting import field_on_plane

    # an L-shaped prism: the unit cube without the cells with x > 1/2 and y > 1/2
    full = _compat.dolfinx.mesh.create_unit_cube(_compat.COMM, 2, 2, 2)
    x = full.geometry.x
    cells = _compat.geometry_dofs(full)
    centre = x[cells].mean(axis=1)
    keep = ~((centre[:, 0] > 0.5) & (centre[:, 1] > 0.5))
    used, topology = np.unique(cells[keep], return_inverse=True)
    mesh = _compat.create_mesh(topology.reshape(-1, 4), x[used], "tetrahedron")
    domain = fem.Domain(mesh)
    space = domain.space(1)
    u, v, grid = field_on_plane(space, np.ones(space.num_dofs), "z", 0.5, resolution=11)
    U, W = np.meshgrid(u, v)
    outside = (U > 0.5 + 1e-9) & (W > 0.5 + 1e-9)
    assert np.isnan(grid[outside]).all()
    np.testing.assert_allclose(grid[~outside], 1.0)


# -- trace and rank ---------------------------------------------------------------------------

def test_rank_counts_pool_the_chains_and_expose_a_shifted_chain():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 200))
    x[2] += 100.0  # chain 2 lies above the others: it holds exactly the ranks 401..600
    edges, counts = chain_rank_counts(x, bins=10)
    assert counts.shape == (3, 10) and (counts.sum(axis=1) == 200).all()
    np.testing.assert_allclose(edges[[0, -1]], [0.5, 600.5])
    np.testing.assert_array_equal(counts[2], [0, 0, 0, 0, 0, 0, 20, 60, 60, 60])
    np.testing.assert_array_equal(counts[:2].sum(0), [60, 60, 60, 60, 60, 60, 40, 0, 0, 0])
    with pytest.raises(InvalidArgumentError, match="chain, draw"):
        chain_rank_counts(x[0])


def test_trace_rank_plot_draws_each_chains_rank_histogram():
    rng = np.random.default_rng(4)
    xi = rng.standard_normal((4, 100, 3))
    xi[3] += 1.5
    axes = plot_trace_rank(idata_of({"xi": xi}), indices=(0, 2), bins=10)
    assert axes.shape == (2, 2)
    for row, idx in zip(axes, (0, 2), strict=True):
        _, counts = chain_rank_counts(xi[:, :, idx], 10)
        stairs = [p for p in row[1].patches if hasattr(p, "get_data")]
        assert len(stairs) == 4
        for c, st in enumerate(stairs):
            np.testing.assert_array_equal(st.get_data().values, counts[c])
        assert len(row[0].lines) == 4
        assert row[1].get_title(loc="right").startswith("R-hat = ")
    with pytest.raises(InvalidArgumentError, match="indices"):
        plot_trace_rank(idata_of({"xi": xi}), indices=(5,))


@pytest.mark.fem
def test_a_1d_field_is_drawn_as_a_curve_in_coordinate_order(fem):
    from bayesinv.fem import _compat
    from bayesinv.fem.variational import DofSpace
    from bayesinv.plotting import plot_field

    mesh = _compat.dolfinx.mesh.create_unit_interval(_compat.COMM, 6)
    space = DofSpace(_compat.function_space(mesh, "Lagrange", 2))
    values = space.interpolate(lambda x: x[0] ** 2)
    line = plot_field(space, values).lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert (np.diff(x) > 0).all()
    np.testing.assert_allclose(y, x**2, atol=1e-14)
