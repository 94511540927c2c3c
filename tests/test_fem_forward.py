"""The Schrödinger forward map: adjoint gradient, convergence, fast path vs plain dolfinx."""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv import ForwardSolveError, InvalidArgumentError
from bayesinv.testing import check_forward_map

fem = pytest.importorskip("bayesinv.fem")
from bayesinv.testing import ufl_reference  # noqa: E402

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def domain():
    return fem.unit_square(10)


@pytest.fixture(scope="module")
def design(domain):
    return fem.uniform_design(domain, 40, seed=3)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("link", ["exp", "regular"])
def test_gradient_taylor_rate_two_and_adjoint_dot_product(domain, design, degree, link, rng):
    G = fem.SchrodingerMap(domain, design, boundary_value=lambda x: 1 + 0.5 * x[0], link=link,
                           degree=degree)
    theta = 0.7 * rng.standard_normal(G.input_dim)
    report = check_forward_map(G, theta, rng, halvings=7)
    assert np.all(np.abs(report.rates1 - 2.0) <= 0.2), str(report)
    assert np.all(np.abs(report.rates0 - 1.0) <= 0.2), str(report)
    assert report.dot_product_error < 1e-10, str(report)


def test_taylor_test_detects_a_wrong_gradient(domain, design, rng):
    G = fem.SchrodingerMap(domain, design)
    theta = 0.5 * rng.standard_normal(G.input_dim)

    class WrongSign(fem.SchrodingerMap):
        def linearize(self, theta):
            y, jvp, pullback = super().linearize(theta)
            return y, jvp, lambda w: -pullback(w)

    bad = WrongSign(domain, design)
    assert check_forward_map(G, theta, rng).passed()
    assert not check_forward_map(bad, theta, rng).passed()


def _manufactured(degree):
    """½Δu − f u = s with u = exp(x + y/2)·(1 + xy), f = 1 + x + 2y (exact in P1)."""
    def u_exact(x):
        return np.exp(x[0] + 0.5 * x[1]) * (1 + x[0] * x[1])

    def f(x):
        return 1.0 + x[0] + 2.0 * x[1]

    def source(x):
        e = np.exp(x[0] + 0.5 * x[1])
        p = 1 + x[0] * x[1]
        lap = e * (1.25 * p + 2 * x[1] + x[0])  # Δ(e·p) = Δe·p + 2∇e·∇p + e·Δp, Δp = 0
        return 0.5 * lap - f(x) * u_exact(x)

    errors = []
    for n in (4, 8, 16, 32):
        dom = fem.unit_square(n)
        G = fem.SchrodingerMap(dom, [[0.5, 0.5]], boundary_value=u_exact, source=source,
                               degree=degree)
        u = G.solve_state(dom.parameter_space.interpolate(lambda x: np.log(f(x))))
        errors.append(G.state_space.l2_error(u, u_exact))
    return np.log2(np.array(errors[:-1]) / np.array(errors[1:]))


@pytest.mark.parametrize(("degree", "rate"), [(1, 2.0), (2, 3.0)])
def test_manufactured_solution_l2_rate(degree, rate):
    rates = _manufactured(degree)
    assert abs(rates[-1] - rate) < 0.15, rates
    assert np.all(rates > rate - 0.3), rates


@pytest.mark.parametrize("degree", [1, 2])
def test_fast_path_matches_plain_dolfinx(domain, design, degree, rng):
    """Matrix entries and the solution agree with UFL assembly + PETSc LU to round-off."""
    G = fem.SchrodingerMap(domain, design, boundary_value=lambda x: 1 + x[0] * x[1],
                           source=lambda x: np.cos(3 * x[0]), degree=degree)
    theta = 0.5 * rng.standard_normal(G.input_dim)
    f = np.exp(theta)
    S = G.state_space
    q = ufl_reference.function_from_values(domain.parameter_space.function_space, f)
    reference = 0.5 * ufl_reference.assemble_bilinear(S.function_space, "stiffness") \
        + ufl_reference.assemble_bilinear(S.function_space, "mass", q)
    from bayesinv.fem.assembly import assemble_coefficient_tensor

    T = assemble_coefficient_tensor(domain, S, domain.parameter_space, "mass")
    ours = 0.5 * S.stiffness_matrix + S.mass_matrix.__class__(
        (T @ f, S.pattern[1], S.pattern[0]), shape=reference.shape)
    assert abs(ours - reference).max() < 1e-13 * abs(reference).max()

    u_ref = ufl_reference.ufl_reference_solve(
        S, kind="mass", coefficient=f, base_stiffness=0.5, source_scale=-1.0,
        source=S.interpolate(lambda x: np.cos(3 * x[0])),
        boundary=S.interpolate(lambda x: 1 + x[0] * x[1]))
    np.testing.assert_allclose(G.solve_state(theta), u_ref, rtol=0, atol=1e-11)


def test_solvers_agree(domain, design, rng):
    theta = rng.standard_normal(domain.parameter_space.num_dofs)
    y_chol = fem.SchrodingerMap(domain, design, solver="cholmod")(theta)
    y_lu = fem.SchrodingerMap(domain, design, solver="superlu")(theta)
    np.testing.assert_allclose(y_chol, y_lu, rtol=1e-12)


@pytest.mark.parametrize("degree", [1, 2])
def test_point_evaluation_is_exact_for_fe_functions(domain, degree, rng):
    space = domain.space(degree)
    fn = (lambda x: 1 + 2 * x[0] - x[1]) if degree == 1 else (
        lambda x: x[0] ** 2 - 3 * x[0] * x[1] + x[1] + 0.5)
    pts = rng.random((50, 2))
    pts[:4] = [[0, 0], [1, 1], [0.5, 0], [1, 0.3]]  # corners and boundary points count
    values = space.evaluation_matrix(pts) @ space.interpolate(fn)
    np.testing.assert_allclose(values, fn(pts.T), atol=1e-13)


def test_counts_one_forward_and_one_adjoint_per_gradient(domain, design, rng):
    G = fem.SchrodingerMap(domain, design)
    theta = rng.standard_normal(G.input_dim)
    y, pullback = G.value_and_pullback(theta)
    pullback(y)
    assert G.counts.as_dict() == {"forward": 1, "adjoint": 1, "tangent": 0}


def test_design_points_outside_the_domain_are_rejected(domain):
    with pytest.raises(InvalidArgumentError, match="outside the domain") as info:
        fem.SchrodingerMap(domain, [[0.5, 0.5], [1.2, 0.3], [0.1, -0.5]])
    assert "indices [1, 2]" in str(info.value)
    with pytest.raises(InvalidArgumentError, match=r"shape \(n, 2\)"):
        fem.SchrodingerMap(domain, [[0.5, 0.5, 0.5]])


def test_bad_theta_and_failed_solves(domain, design):
    G = fem.SchrodingerMap(domain, design)
    with pytest.raises(InvalidArgumentError, match=r"theta must have shape \(121,\)"):
        G(np.zeros(7))
    theta = np.zeros(G.input_dim)
    theta[5] = np.nan
    with pytest.raises(ForwardSolveError, match="non-finite"):
        G(theta)
    with pytest.raises(ForwardSolveError, match="overflow"):
        G(np.full(G.input_dim, 800.0))


def test_other_bad_arguments(domain, design):
    with pytest.raises(InvalidArgumentError, match="degree must be 1 or 2"):
        fem.SchrodingerMap(domain, design, degree=3)
    with pytest.raises(InvalidArgumentError, match="link must be one of"):
        fem.SchrodingerMap(domain, design, link="cubic")
    with pytest.raises(InvalidArgumentError, match="solver must be one of"):
        fem.SchrodingerMap(domain, design, solver="magic")
    with pytest.raises(InvalidArgumentError, match=r"domain must be a bayesinv\.fem\.Domain"):
        fem.SchrodingerMap("square", design)


def test_uniform_design_is_reproducible_and_inside(domain):
    a = fem.uniform_design(domain, 200, seed=7)
    b = fem.uniform_design(domain, 200, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200, 2) and domain.contains(a).all()
    assert not np.array_equal(a, fem.uniform_design(domain, 200, seed=8))
