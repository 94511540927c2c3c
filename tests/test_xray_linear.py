"""X-ray geometry, P1 fields on triangulations and the (attenuated) X-ray transform."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from bayesinv.errors import InvalidArgumentError
from bayesinv.testing import check_forward_map
from bayesinv.xray import (
    LineQuadrature,
    Lines,
    Triangulation,
    XRayTransform,
    disk_triangulation,
)


def radial(x):
    return 1.0 - x[0] ** 2 - x[1] ** 2


def radial_transform(s):
    """I(1 − |x|²) along the chord at distance s: ∫_{−a}^{a} (a² − t²) dt = 4a³/3."""
    return 4.0 / 3.0 * (1.0 - s**2) ** 1.5


CENTRE, WIDTH = np.array([0.2, -0.1]), 0.25


def gaussian(x):
    return np.exp(-((x[0] - CENTRE[0]) ** 2 + (x[1] - CENTRE[1]) ** 2) / (2 * WIDTH**2))


def gaussian_transform(lines):
    """∫_0^τ exp(−|x + tv − c|²/(2w²)) dt in closed form (error functions)."""
    d = lines.start - CENTRE
    t0 = -np.einsum("ij,ij->i", d, lines.direction)
    perp2 = np.einsum("ij,ij->i", d, d) - t0**2
    r = np.sqrt(2.0) * WIDTH
    return (np.exp(-perp2 / (2 * WIDTH**2)) * WIDTH * np.sqrt(np.pi / 2)
            * (scipy.special.erf((lines.length - t0) / r) - scipy.special.erf(-t0 / r)))


def test_fan_and_parallel_beam_describe_the_same_chords():
    lines = Lines.random(40, seed=3)
    again = Lines.parallel_beam(lines.phi, lines.s)
    np.testing.assert_allclose(again.start, lines.start, atol=1e-12)
    np.testing.assert_allclose(again.direction, lines.direction, atol=1e-12)
    np.testing.assert_allclose(lines.length, 2 * np.sqrt(1 - lines.s**2), rtol=1e-12)
    # entry and exit points on the unit circle; the midpoint at signed distance s from 0
    end = lines.start + lines.length[:, None] * lines.direction
    np.testing.assert_allclose(np.linalg.norm(lines.start, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(end, axis=1), 1.0, rtol=1e-12)
    mid = lines.start + 0.5 * lines.length[:, None] * lines.direction
    perp = np.column_stack([-lines.direction[:, 1], lines.direction[:, 0]])
    np.testing.assert_allclose(np.einsum("ij,ij->i", mid, perp), lines.s, atol=1e-12)


def test_grids_of_lines():
    fan = Lines.grid(8, 5)
    assert len(fan) == 40 and np.all(np.abs(fan.alpha) < np.pi / 2)
    par = Lines.grid(6, 4, geometry="parallel")
    np.testing.assert_allclose(np.sort(np.unique(par.s.round(12))), [-0.75, -0.25, 0.25, 0.75])


def test_disk_triangulation_is_a_valid_p1_mesh():
    mesh = disk_triangulation(0.1)
    assert mesh.max_edge < 0.2
    # inscribed polygon: area below π by O(h²); mass matrix integrates constants exactly
    assert np.pi - 0.02 < mesh.lumped_mass.sum() < np.pi
    np.testing.assert_allclose(mesh.lumped_mass.sum(), mesh.areas.sum(), rtol=1e-13)
    # P1 evaluation reproduces linear functions exactly, inside and in the boundary sliver
    pts = np.random.default_rng(0).uniform(-0.7, 0.7, (200, 2))
    pts = np.concatenate([pts, [[1.0, 0.0], [np.cos(0.03), np.sin(0.03)]]])
    lin = mesh.interpolate(lambda x: 2.0 * x[0] - x[1] + 0.5)
    E = mesh.evaluation_matrix(pts[:-2])
    np.testing.assert_allclose(E @ lin, 2 * pts[:-2, 0] - pts[:-2, 1] + 0.5, atol=1e-12)
    np.testing.assert_allclose(mesh.evaluation_matrix(pts).sum(axis=1), 1.0, rtol=1e-12)


def _rate(errors):
    return np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))


def test_xray_transform_of_radial_and_gaussian_fields_matches_closed_forms():
    lines = Lines.random(60, seed=7, distribution="santalo")
    err_r, err_g = [], []
    for h in (0.2, 0.1, 0.05):
        mesh = disk_triangulation(h)
        G = XRayTransform(LineQuadrature(lines, mesh, 400))
        err_r.append(np.abs(G(mesh.interpolate(radial)) - radial_transform(lines.s)).max())
        err_g.append(np.abs(G(mesh.interpolate(gaussian)) - gaussian_transform(lines)).max())
    # P1 interpolation error O(h²) dominates (the 400-step midpoint rule is far finer)
    assert err_r[-1] < 3e-3 and err_g[-1] < 3e-3
    assert np.all(_rate(err_r) > 1.6) and np.all(_rate(err_g) > 1.6)


def test_attenuated_transform_of_a_constant_converges_at_order_two_in_the_steps():
    mesh = disk_triangulation(0.2)
    lines = Lines.random(30, seed=2)
    a = 1.5
    exact = (1.0 - np.exp(-a * lines.length)) / a          # ∫_0^τ exp(−a(τ − t)) dt
    errors = []
    for K in (4, 8, 16, 32, 64):
        G = XRayTransform(LineQuadrature(lines, mesh, K), attenuation=np.full(mesh.num_nodes, a))
        errors.append(np.abs(G(np.ones(mesh.num_nodes)) - exact).max())
    np.testing.assert_allclose(_rate(errors), 2.0, atol=0.05)


def test_zero_attenuation_is_the_xray_transform_and_matrix_agrees():
    mesh = disk_triangulation(0.15)
    q = LineQuadrature(Lines.grid(7, 6), mesh, 30)
    theta = np.random.default_rng(1).standard_normal(mesh.num_nodes)
    plain, zero = XRayTransform(q), XRayTransform(q, attenuation=np.zeros(mesh.num_nodes))
    np.testing.assert_allclose(zero(theta), plain(theta), rtol=1e-14)
    np.testing.assert_allclose(plain.matrix() @ theta, plain(theta), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(plain.as_linear_map()(theta), plain(theta), rtol=1e-12,
                               atol=1e-14)
    for G in (plain, XRayTransform(q, attenuation=mesh.interpolate(lambda x: 1 + x[1]))):
        np.testing.assert_allclose(G.apply_by_kernel(theta), G(theta), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("attenuated", [False, True])
def test_xray_pullback_is_the_transpose(attenuated, rng):
    mesh = disk_triangulation(0.15)
    q = LineQuadrature(Lines.random(25, seed=5), mesh, 20)
    att = mesh.interpolate(lambda x: 1.0 + x[0]) if attenuated else None
    G = XRayTransform(q, attenuation=att)
    theta = rng.standard_normal(mesh.num_nodes)
    report = check_forward_map(G, theta, rng)
    assert report.dot_product_error < 1e-12
    # linear: the first-order remainder is round-off
    assert report.r1.max() < 1e-12 * report.r0.max()
    w = rng.standard_normal(G.output_dim)
    A = G.matrix().toarray()
    _, pullback = G.value_and_pullback(theta)
    np.testing.assert_allclose(pullback(w), A.T @ w, rtol=1e-11, atol=1e-13)
    assert G.counts.adjoint >= 2 and G.counts.forward >= 2


def test_bad_geometry_and_mesh_input_raise_clear_errors():
    with pytest.raises(InvalidArgumentError, match="miss the interior"):
        Lines.fan_beam([0.0, 1.0], [0.2, np.pi / 2])
    with pytest.raises(InvalidArgumentError, match="miss the interior"):
        Lines.parallel_beam([0.0], [1.2])
    with pytest.raises(InvalidArgumentError, match="same length"):
        Lines.fan_beam([0.0, 1.0], [0.2])
    with pytest.raises(InvalidArgumentError, match="num_lines"):
        Lines.random(0)
    with pytest.raises(InvalidArgumentError, match="distribution"):
        Lines.random(3, distribution="gaussian")
    mesh = disk_triangulation(0.3)
    for steps in (0, -2, 2.5):
        with pytest.raises(InvalidArgumentError, match="steps"):
            LineQuadrature(Lines.random(3, seed=0), mesh, steps)
    with pytest.raises(InvalidArgumentError, match="Triangulation"):
        LineQuadrature(Lines.random(3, seed=0), mesh.points, 5)
    with pytest.raises(InvalidArgumentError, match="index the"):
        Triangulation(mesh.points, mesh.triangles + 1000)
    with pytest.raises(InvalidArgumentError, match="shape"):
        Triangulation(mesh.points[:, :1], mesh.triangles)
    # a mesh that does not cover the unit disk (the disk of radius 0.5)
    small = disk_triangulation(0.1, radius=0.5)
    with pytest.raises(InvalidArgumentError, match="cover the unit disk"):
        LineQuadrature(Lines.random(3, seed=0), small, 10)
    q = LineQuadrature(Lines.random(3, seed=0), mesh, 5)
    with pytest.raises(InvalidArgumentError, match="attenuation"):
        XRayTransform(q, attenuation=np.ones(mesh.num_nodes + 1))
    G = XRayTransform(q)
    with pytest.raises(InvalidArgumentError, match="theta"):
        G(np.ones(mesh.num_nodes + 2))


@pytest.mark.fem
def test_triangulation_from_a_fem_space_of_the_unit_disk():
    from bayesinv import fem

    space = fem.unit_disk(0.1).space(1)
    mesh = Triangulation.from_space(space)
    lines = Lines.random(30, seed=4, distribution="santalo")
    G = XRayTransform(LineQuadrature(lines, mesh, 300))
    err = np.abs(G(space.interpolate(radial)) - radial_transform(lines.s)).max()
    assert err < 1e-2
    np.testing.assert_allclose(mesh.mass_matrix.toarray(), space.mass_matrix.toarray(),
                               rtol=1e-10, atol=1e-14)
