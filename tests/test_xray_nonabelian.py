"""The non-Abelian X-ray transform: closed forms, orthogonality, order, gradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bayesinv.errors import ForwardSolveError, InvalidArgumentError
from bayesinv.testing import check_forward_map
from bayesinv.xray import (
    LineQuadrature,
    Lines,
    NonAbelianXRayTransform,
    XRayTransform,
    disk_triangulation,
    kernels,
    matrix_likelihood,
    simulate_matrix_data,
)


@pytest.fixture(scope="module")
def mesh():
    return disk_triangulation(0.15)


@pytest.fixture(scope="module")
def quadrature(mesh):
    return LineQuadrature(Lines.random(40, seed=11), mesh, 24)


def smooth_field(x):
    """A smooth so(3)-valued test field (three components), x of shape (..., 2)."""
    r2 = (x**2).sum(-1)
    return np.stack([3 * np.exp(-4 * ((x[..., 0] - 0.3) ** 2 + x[..., 1] ** 2)),
                     2 * np.sin(2 * x[..., 1]) * (1 - r2),
                     2.5 * x[..., 0] * x[..., 1] + 1], -1)


def hat(w):
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def test_n2_gives_the_rotation_by_the_xray_transform(mesh, quadrature, rng):
    """so(2) is Abelian: C_Φ = R(I f), with I f by the same midpoint rule."""
    f = 3.0 * rng.standard_normal(mesh.num_nodes)
    C = NonAbelianXRayTransform(quadrature, 2).scattering_data(f)
    np.testing.assert_allclose(C, rotation(XRayTransform(quadrature)(f)), atol=1e-12)


def test_scalar_case_gives_exp_of_minus_the_xray_transform(mesh, quadrature, rng):
    f = rng.standard_normal(mesh.num_nodes)
    values = quadrature.sample(f)
    u = kernels.scalar_scattering(values, quadrature.step)
    np.testing.assert_allclose(u, np.exp(-XRayTransform(quadrature)(f)), rtol=1e-12)


def test_single_axis_so3_field_is_the_so2_case(mesh, quadrature, rng):
    f = rng.standard_normal(mesh.num_nodes)
    zero = np.zeros(mesh.num_nodes)
    C3 = NonAbelianXRayTransform(quadrature, 3).scattering_data(np.concatenate([zero, zero, f]))
    C2 = NonAbelianXRayTransform(quadrature, 2).scattering_data(f)
    np.testing.assert_allclose(C3[:, :2, :2], C2, atol=1e-13)
    np.testing.assert_allclose(C3[:, 2, 2], 1.0, atol=1e-13)


def test_scattering_data_are_rotations_to_round_off(quadrature, rng):
    """Even for a large field and few steps (|h Φ| up to ~10 rad per step)."""
    coarse = LineQuadrature(quadrature.lines, quadrature.mesh, 3)
    for q in (quadrature, coarse):
        for n in (2, 3):
            G = NonAbelianXRayTransform(q, n)
            C = G.scattering_data(20.0 * rng.standard_normal(G.input_dim))
            np.testing.assert_allclose(np.einsum("nij,nkj->nik", C, C),
                                       np.broadcast_to(np.eye(n), C.shape), atol=1e-13)
            np.testing.assert_allclose(np.linalg.det(C), 1.0, atol=1e-13)


def test_transform_is_genuinely_non_abelian_and_reverses_consistently(mesh, quadrature, rng):
    G = NonAbelianXRayTransform(quadrature, 3)
    theta = rng.standard_normal(G.input_dim)
    C = G.scattering_data(theta)
    # not the exponential of the integrated field (which it would be if so(3) commuted)
    w = np.stack([XRayTransform(quadrature)(t) for t in G.fields(theta)], -1)
    abelian = np.array([_expm_hat(v) for v in w])
    assert np.abs(C - abelian).max() > 1e-2
    # the reversed line: C_Φ(γ̄) = C_{−Φ}(γ)ᵀ for the discrete scheme
    lines = quadrature.lines
    back = LineQuadrature(Lines.parallel_beam(lines.phi + np.pi, -lines.s), mesh,
                          quadrature.steps)
    C_back = NonAbelianXRayTransform(back, 3).scattering_data(theta)
    np.testing.assert_allclose(C_back, np.transpose(G.scattering_data(-theta), (0, 2, 1)),
                               atol=1e-11)


def _expm_hat(w):
    import scipy.linalg

    return scipy.linalg.expm(hat(w))


def test_compiled_kernel_matches_the_python_reference(quadrature, rng):
    omega = rng.standard_normal((7, 15, 3))
    omega[0, :4] *= 1e-6                        # the small-angle branch
    np.testing.assert_allclose(kernels.scattering(omega), kernels.scattering_reference(omega),
                               atol=1e-13)


def test_parallel_and_serial_kernels_give_identical_results(quadrature, rng, monkeypatch):
    """Each line is computed by itself, so the thread count cannot change a bit."""
    G = NonAbelianXRayTransform(quadrature, 3)
    theta, w = rng.standard_normal(G.input_dim), rng.standard_normal(G.output_dim)
    y1, jvp1, pb1 = G.linearize(theta)
    serial = (y1, jvp1(theta), pb1(w))
    monkeypatch.setattr(kernels, "PARALLEL_MIN_STEPS", 0)
    y2, jvp2, pb2 = G.linearize(theta)
    for a, b in zip(serial, (y2, jvp2(theta), pb2(w)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_exponential_midpoint_converges_at_order_two_to_the_ode_solution():
    """Against scipy's DOP853 (rtol 1e-13) for a smooth so(3) field: measured order 2."""
    lines = Lines.random(4, seed=0)
    ref = []
    for x, v, tau in zip(lines.start, lines.direction, lines.length, strict=True):
        def rhs(t, u, x=x, v=v):  # dU/dt = −Φ U with −Φ = [f]_×
            return (hat(smooth_field(x + t * v)) @ u.reshape(3, 3)).ravel()
        sol = solve_ivp(rhs, (0.0, tau), np.eye(3).ravel(), method="DOP853", rtol=1e-13,
                        atol=1e-13)
        ref.append(sol.y[:, -1].reshape(3, 3))
    errors = []
    for K in (8, 16, 32, 64, 128, 256):
        h = lines.length / K
        omega = smooth_field(lines.points((np.arange(K) + 0.5)[None] * h[:, None]))
        errors.append(np.abs(kernels.scattering(omega * h[:, None, None]) - np.array(ref)).max())
    rates = np.log2(np.array(errors[:-1]) / errors[1:])
    np.testing.assert_allclose(rates, 2.0, atol=0.03)


def test_step_convergence_for_p1_fields_on_a_mesh():
    """For P1 fields the integrand has kinks at element edges, so the error constant wobbles
    with K; the least-squares order over K = 8…256 is still 2."""
    mesh = disk_triangulation(0.1)
    lines = Lines.random(100, seed=1)
    theta = np.concatenate([mesh.interpolate(lambda x, a=a: smooth_field(x.T)[:, a])
                            for a in range(3)])
    ref = NonAbelianXRayTransform(LineQuadrature(lines, mesh, 4096), 3)(theta)
    Ks = np.array([8, 16, 32, 64, 128, 256])
    errors = [np.abs(NonAbelianXRayTransform(LineQuadrature(lines, mesh, K), 3)(theta)
                     - ref).max() for K in Ks]
    slope = -np.polyfit(np.log2(Ks), np.log2(errors), 1)[0]
    assert 1.8 < slope < 2.2


@pytest.mark.parametrize("n", [2, 3])
def test_taylor_and_dot_product(n, quadrature, rng):
    G = NonAbelianXRayTransform(quadrature, n)
    theta = 2.0 * rng.standard_normal(G.input_dim)
    report = check_forward_map(G, theta, rng, halvings=7)
    assert report.passed(rate_tol=0.05, dot_tol=1e-11), str(report)
    np.testing.assert_allclose(report.rates0, 1.0, atol=0.05)
    assert G.counts.adjoint == 1 and G.counts.tangent == 1


def test_pullback_near_zero_field_uses_the_small_angle_branch(quadrature, rng):
    G = NonAbelianXRayTransform(quadrature, 3)
    theta = 1e-7 * rng.standard_normal(G.input_dim)
    report = check_forward_map(G, theta, rng, eps0=1e-2)
    assert report.dot_product_error < 1e-11
    assert np.all(np.abs(report.rates1 - 2.0) < 0.1), str(report)


def test_matrix_likelihood_flattens_matrix_data(quadrature, rng):
    G = NonAbelianXRayTransform(quadrature, 3)
    theta = rng.standard_normal(G.input_dim)
    Y = simulate_matrix_data(G, theta, 0.1, seed=3)
    assert Y.shape == (quadrature.num_lines, 3, 3)
    like = matrix_likelihood(G, Y, 0.1)
    C = G.scattering_data(theta)
    N = quadrature.num_lines
    expected = (-0.5 * np.sum((Y - C) ** 2) / 0.01 - 9 * N * np.log(0.1)
                - 4.5 * N * np.log(2 * np.pi))
    assert like.logpdf(theta) == pytest.approx(expected, rel=1e-12)
    # gradient by the pullback: Taylor test of the log-likelihood
    h = rng.standard_normal(G.input_dim)
    l0, g = like.value_and_grad(theta)
    rem = [abs(like.logpdf(theta + e * h) - l0 - e * g @ h) for e in 1e-3 * 0.5 ** np.arange(5)]
    np.testing.assert_allclose(np.log2(np.array(rem[:-1]) / rem[1:]), 2.0, atol=0.1)


def test_bad_input_raises_clear_errors(quadrature):
    for n in (1, 4, 0, "3", 2.0, True):
        with pytest.raises(InvalidArgumentError, match="n must be 2 or 3"):
            NonAbelianXRayTransform(quadrature, n)
    with pytest.raises(InvalidArgumentError, match="LineQuadrature"):
        NonAbelianXRayTransform("lines", 3)
    G = NonAbelianXRayTransform(quadrature, 3)
    nodes = quadrature.num_nodes
    with pytest.raises(InvalidArgumentError, match=rf"theta must have shape \({3 * nodes},\)"):
        G(np.zeros(nodes))                     # one field where three are needed
    with pytest.raises(InvalidArgumentError, match="theta must have shape"):
        G(np.zeros((3, nodes)))
    with pytest.raises(ForwardSolveError):
        G(np.full(3 * nodes, np.nan))
    N = quadrature.num_lines
    for shape in ((N, 2, 2), (N * 9,), (N + 1, 3, 3), (N, 3)):
        with pytest.raises(InvalidArgumentError, match=r"data must have shape \(N, n, n\)"):
            matrix_likelihood(G, np.zeros(shape), 0.1)
    with pytest.raises(InvalidArgumentError, match="finite"):
        matrix_likelihood(G, np.full((N, 3, 3), np.inf), 0.1)
    with pytest.raises(InvalidArgumentError, match="noise_std"):
        matrix_likelihood(G, np.zeros((N, 3, 3)), -1.0)
    with pytest.raises(InvalidArgumentError, match="NonAbelianXRayTransform"):
        matrix_likelihood(XRayTransform(quadrature), np.zeros((N, 3, 3)), 0.1)
    _, pullback = G.value_and_pullback(np.zeros(3 * nodes))
    with pytest.raises(InvalidArgumentError, match="w must have shape"):
        pullback(np.zeros((N, 3, 3)))
