"""Domains (gmsh disks and ellipses, user meshes), designs and observation operators."""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv import InvalidArgumentError

fem = pytest.importorskip("bayesinv.fem")
pytest.importorskip("gmsh")

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def disk():
    return fem.unit_disk(mesh_size=0.1)


def _boundary_points(domain):
    space = domain.parameter_space
    return space.coordinates[space.boundary_dofs]


def _polygon_gap(domain, radius):
    """Upper bound of area(circle) − area(inscribed polygon) for the boundary edge lengths."""
    edges = domain.mesh_size
    return np.pi * radius**2 * (edges / radius) ** 2 / 6


def test_unit_disk_has_measure_close_to_pi_and_vertices_on_the_circle(disk):
    pts = _boundary_points(disk)
    np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), 1.0, atol=1e-12)
    # an inscribed polygon: slightly less than π, by O(h²)
    assert 0 < np.pi - disk.measure < _polygon_gap(disk, 1.0)
    fine = fem.unit_disk(mesh_size=0.05)
    assert np.pi - fine.measure < 0.3 * (np.pi - disk.measure)  # O(h²): a quarter, roughly


def test_disk_of_area_one():
    d = fem.disk_of_area(1.0, mesh_size=0.05)
    radius = 1 / np.sqrt(np.pi)
    pts = _boundary_points(d)
    np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), radius, atol=1e-12)
    assert 0 < 1.0 - d.measure < _polygon_gap(d, radius)


def test_rotated_ellipse_has_measure_close_to_pi_ab():
    a, b, angle, centre = 1.0, 0.4, 0.7, np.array([0.3, -0.2])
    d = fem.ellipse((a, b), rotation=angle, center=centre, mesh_size=0.05)
    x = _boundary_points(d) - centre
    c, s = np.cos(angle), np.sin(angle)
    along, across = x @ np.array([c, s]), x @ np.array([-s, c])
    np.testing.assert_allclose((along / a) ** 2 + (across / b) ** 2, 1.0, atol=1e-12)
    assert 0 < np.pi * a * b - d.measure < 2e-3 * np.pi * a * b
    # a, b swapped and rotated by a right angle is the same ellipse
    swapped = fem.ellipse((b, a), rotation=angle - np.pi / 2, center=centre, mesh_size=0.05)
    assert abs(swapped.measure - d.measure) < 1e-3 * d.measure


@pytest.mark.parametrize(("axes", "match"), [
    ((0.0, 1.0), "semi_axes must be two finite numbers > 0"),
    ((-1.0, 1.0), "degenerate ellipse"),
    ((np.nan, 1.0), "semi_axes"),
    ((1.0,), "semi_axes"),
])
def test_degenerate_ellipses_are_rejected(axes, match):
    with pytest.raises(InvalidArgumentError, match=match):
        fem.ellipse(axes)


def test_other_bad_domain_arguments():
    with pytest.raises(InvalidArgumentError, match="mesh_size must be <= the smaller semi-axis"):
        fem.ellipse((1.0, 0.05), mesh_size=0.1)
    with pytest.raises(InvalidArgumentError, match="mesh_size must be > 0"):
        fem.unit_disk(mesh_size=0.0)
    with pytest.raises(InvalidArgumentError, match="radius must be > 0"):
        fem.disk(radius=-1.0)
    with pytest.raises(InvalidArgumentError, match="area must be > 0"):
        fem.disk_of_area(0.0)


@pytest.mark.slow
def test_darcy_on_the_unit_disk_converges_to_the_radial_solution():
    """Δu = 1 in the unit disk, u = 0 on the circle: u = (|x|² − 1)/4. P1 on polygonal
    approximations of the disk: L² error O(h²)."""
    def exact(x):
        return (x[0] ** 2 + x[1] ** 2 - 1) / 4

    errors, sizes = [], []
    for h in (0.2, 0.1, 0.05):
        d = fem.unit_disk(mesh_size=h)
        G = fem.DarcyMap(d, [[0.0, 0.0]], source=1.0, link="identity")
        u = G.solve_state(np.ones(G.input_dim))
        errors.append(G.state_space.l2_error(u, exact))
        sizes.append(d.mesh_size)
    rates = np.log(np.array(errors[:-1]) / errors[1:]) / np.log(np.array(sizes[:-1]) / sizes[1:])
    assert np.all(rates > 1.7), (errors, rates)


def test_user_supplied_dolfinx_mesh():
    import dolfinx.mesh
    from mpi4py import MPI

    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [2.0, 1.0]], [8, 4])
    d = fem.Domain(mesh, name="rectangle")
    assert abs(d.measure - 2.0) < 1e-12
    X = fem.uniform_design(d, 30, seed=1)
    assert X[:, 0].max() > 1.0  # the design covers the whole rectangle
    G = fem.DarcyMap(d, X)
    assert G(np.zeros(G.input_dim)).shape == (30,)


@pytest.mark.parametrize("degree", [1, 2])
def test_point_evaluation_is_exact_on_the_disk_and_outside_points_are_rejected(disk, degree,
                                                                              rng):
    space = disk.space(degree)
    fn = lambda x: 1 + 2 * x[0] - x[1] + (degree - 1) * x[0] * x[1]  # noqa: E731
    pts = disk.uniform_points(40, seed=2)
    np.testing.assert_allclose(space.evaluation_matrix(pts) @ space.interpolate(fn),
                               fn(pts.T), atol=1e-13)
    with pytest.raises(InvalidArgumentError, match="outside the domain"):
        space.evaluation_matrix([[0.0, 0.0], [1.01, 0.0]])


# --- designs and observations ----------------------------------------------------------------

def test_node_design_draws_distinct_mesh_vertices_reproducibly(disk):
    X = fem.node_design(disk, 300, seed=4)
    coords = disk.parameter_space.coordinates
    idx = [int(np.flatnonzero(np.all(coords == x, axis=1))[0]) for x in X]
    assert len(set(idx)) == 300  # distinct vertices
    np.testing.assert_array_equal(X, fem.node_design(disk, 300, seed=4))
    assert not np.array_equal(X, fem.node_design(disk, 300, seed=5))
    interior = fem.node_design(disk, 200, seed=4, include_boundary=False)
    assert np.hypot(interior[:, 0], interior[:, 1]).max() < 1 - 1e-9
    # all vertices: a permutation of the mesh nodes
    everything = fem.node_design(disk, coords.shape[0], seed=0)
    assert np.array_equal(np.unique(everything, axis=0), np.unique(coords, axis=0))
    with pytest.raises(InvalidArgumentError, match=r"n must be <= \d+, the number of mesh"):
        fem.node_design(disk, coords.shape[0] + 1)
    with pytest.raises(InvalidArgumentError, match="interior mesh vertices"):
        fem.node_design(disk, coords.shape[0], include_boundary=False)


@pytest.mark.parametrize("degree", [1, 2])
def test_field_observation_euclidean_misfit_is_the_l2_misfit(disk, degree, rng):
    G = fem.DarcyMap(disk, "field", degree=degree, boundary_value=lambda x: x[0])
    S = G.state_space
    R = G.observation.matrix(S)
    # RᵀR = M exactly, so ‖R u − R v‖ = ‖u_h − v_h‖_{L²}
    assert abs(R.T @ R - S.mass_matrix).max() < 1e-15 * abs(S.mass_matrix).max() * 10
    theta0, theta1 = rng.standard_normal((2, G.input_dim))
    u0, u1 = G.solve_state(theta0), G.solve_state(theta1)
    l2 = np.sqrt((u0 - u1) @ (S.mass_matrix @ (u0 - u1)))
    np.testing.assert_allclose(np.linalg.norm(G(theta0) - G(theta1)), l2, rtol=1e-12)
    # and against an independent quadrature of the L² norm of a known function
    fn = lambda x: np.sin(x[0]) * x[1]  # noqa: E731
    values = S.interpolate(fn)
    assert abs(np.linalg.norm(R @ values) - np.sqrt(values @ (S.mass_matrix @ values))) < 1e-12
    assert not hasattr(G, "design")


def test_multi_experiment_map_stacks_the_single_experiment_maps(rng):
    d = fem.unit_square(8)
    X = fem.uniform_design(d, 15, seed=1)
    data = [(1.0, None), (lambda x: x[0], 2.0), (lambda x: np.cos(x[1]), lambda x: x[0])]
    multi = fem.SchrodingerMap(d, X, experiments=[fem.Experiment(g, s) for g, s in data])
    singles = [fem.SchrodingerMap(d, X, boundary_value=g, source=s) for g, s in data]
    theta, w = rng.standard_normal(d.parameter_space.num_dofs), rng.standard_normal(45)
    y, pullback = multi.value_and_pullback(theta)
    grad = pullback(w)
    assert multi.output_dim == 45 and multi.num_experiments == 3
    np.testing.assert_allclose(y, np.concatenate([G(theta) for G in singles]), atol=1e-13)
    expected = sum(G.value_and_pullback(theta)[1](w[15 * k:15 * (k + 1)])
                   for k, G in enumerate(singles))
    np.testing.assert_allclose(grad, expected, rtol=1e-11, atol=1e-13)
    # one factorisation, three right-hand sides each way
    assert multi.counts.as_dict() == {"forward": 3, "adjoint": 3, "tangent": 0}
    assert multi.solve_state(theta).shape == (3, d.parameter_space.num_dofs)
    with pytest.raises(InvalidArgumentError, match="experiments must be a non-empty sequence"):
        fem.DarcyMap(d, X, experiments=[])
