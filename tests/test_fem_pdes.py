"""Darcy, heat and multi-experiment forward maps: Taylor and adjoint tests for every PDE × link
× degree, manufactured-solution rates in space (P1 ≈ 2, P2 ≈ 3) and time (backward Euler ≈ 1,
Crank–Nicolson ≈ 2), and the fast path against plain UFL assembly."""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv.testing import check_forward_map

fem = pytest.importorskip("bayesinv.fem")
from bayesinv.fem.heat import _at_time  # noqa: E402
from bayesinv.testing import ufl_reference  # noqa: E402

pytestmark = pytest.mark.fem

PDES = ["schrodinger", "darcy", "heat_be", "heat_cn", "darcy_3_experiments", "darcy_field",
        "heat_cn_field"]
LINKS = ["exp", "regular", "identity"]


@pytest.fixture(scope="module")
def domain():
    return fem.unit_square(6)


@pytest.fixture(scope="module")
def design(domain):
    return fem.uniform_design(domain, 20, seed=5)


def make_map(pde, domain, design, link, degree):
    g = lambda x: 1 + 0.5 * x[0]  # noqa: E731
    common = {"link": link, "degree": degree}
    if pde == "schrodinger":
        return fem.SchrodingerMap(domain, design, boundary_value=g, **common)
    if pde == "darcy":
        return fem.DarcyMap(domain, design, boundary_value=g, source=lambda x: 1 + x[1], **common)
    if pde == "darcy_field":
        return fem.DarcyMap(domain, "field", boundary_value=g, **common)
    if pde == "darcy_3_experiments":
        exps = [fem.Experiment(boundary_value=b, source=s) for b, s in
                [(1.0, 1.0), (lambda x: x[0], 0.0), (lambda x: x[0] * x[1], lambda x: x[1])]]
        return fem.DarcyMap(domain, design, experiments=exps, **common)
    scheme = {"heat_be": "backward_euler", "heat_cn": "crank_nicolson",
              "heat_cn_field": "crank_nicolson"}[pde]
    return fem.HeatForwardMap(
        domain, "field" if pde.endswith("field") else design, final_time=0.2, num_steps=5,
        observation_times=[0.05, 0.13, 0.2],
        scheme=scheme, initial_value=lambda x: np.sin(np.pi * x[0]) * x[1],
        source=lambda x, t: 1 + t * x[0], boundary_value=lambda x, t: t * x[1], **common)


def parameter(link, n, rng):
    if link == "identity":  # positive, as the identity link requires
        return 1.0 + 0.3 * rng.random(n)
    return 0.5 * rng.standard_normal(n)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("pde", PDES)
def test_taylor_rate_two_and_adjoint_dot_product(domain, design, pde, link, degree, rng):
    G = make_map(pde, domain, design, link, degree)
    theta = parameter(link, G.input_dim, rng)
    h = rng.standard_normal(G.input_dim)
    report = check_forward_map(G, theta, rng, direction=h, eps0=0.005 / np.abs(h).max(),
                               halvings=6)
    assert np.all(np.abs(report.rates1 - 2.0) <= 0.1), str(report)
    assert np.all(np.abs(report.rates0 - 1.0) <= 0.1), str(report)
    assert report.dot_product_error < 1e-10, str(report)


# --- manufactured solutions ---------------------------------------------------------------

def _phi(x):
    return np.exp(x[0] + 0.5 * x[1]) * (1 + x[0] * x[1])


def _grad_phi(x):
    e, p = np.exp(x[0] + 0.5 * x[1]), 1 + x[0] * x[1]
    return e * (p + x[1]), e * (0.5 * p + x[0])


def _lap_phi(x):
    e, p = np.exp(x[0] + 0.5 * x[1]), 1 + x[0] * x[1]
    return e * (1.25 * p + 2 * x[1] + x[0])


def _f(x):  # a conductivity exactly representable in P1 (θ = log f with the exp link)
    return 1.0 + x[0] + 2.0 * x[1]


def _div_f_grad_phi(x):  # ∇·(f∇φ) = ∇f·∇φ + f Δφ, ∇f = (1, 2)
    gx, gy = _grad_phi(x)
    return gx + 2 * gy + _f(x) * _lap_phi(x)


def _rates(errors):
    errors = np.asarray(errors)
    return np.log2(errors[:-1] / errors[1:])


def _assert_rate(rates, rate, tol=0.15):
    assert abs(rates[-1] - rate) < tol, rates
    assert np.all(rates > rate - 0.3), rates


@pytest.mark.parametrize(("degree", "rate"), [(1, 2.0), (2, 3.0)])
def test_darcy_manufactured_solution_l2_rate(degree, rate):
    """∇·(f∇u) = s, u = φ on ∂O, with φ = e^{x+y/2}(1 + xy) and f = 1 + x + 2y."""
    errors = []
    for n in (4, 8, 16, 32):
        dom = fem.unit_square(n)
        G = fem.DarcyMap(dom, [[0.5, 0.5]], boundary_value=_phi, source=_div_f_grad_phi,
                         degree=degree)
        u = G.solve_state(dom.parameter_space.interpolate(lambda x: np.log(_f(x))))
        errors.append(G.state_space.l2_error(u, _phi))
    _assert_rate(_rates(errors), rate)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["backward_euler", "crank_nicolson"])
@pytest.mark.parametrize(("degree", "rate"), [(1, 2.0), (2, 3.0)])
def test_heat_manufactured_solution_l2_rate_in_space(degree, rate, scheme):
    """u = (1 + t) φ(x) is linear in t, so both schemes are exact in time and the error at T
    is the spatial one: rate 2 (P1) / 3 (P2)."""
    def u_exact(x, t=0.5):
        return (1 + t) * _phi(x)

    def source(x, t):  # ∂_t u − ∇·(f∇u)
        return _phi(x) - (1 + t) * _div_f_grad_phi(x)

    errors = []
    for n in (4, 8, 16, 32):
        dom = fem.unit_square(n)
        G = fem.HeatForwardMap(dom, [[0.5, 0.5]], final_time=0.5, num_steps=2, scheme=scheme,
                               initial_value=_phi, source=source, boundary_value=u_exact,
                               degree=degree)
        U = G.solve_state(dom.parameter_space.interpolate(lambda x: np.log(_f(x))))
        errors.append(G.state_space.l2_error(U[-1], u_exact))
    _assert_rate(_rates(errors), rate)


@pytest.mark.parametrize(("scheme", "rate"), [("backward_euler", 1.0), ("crank_nicolson", 2.0)])
def test_heat_manufactured_solution_rate_in_time(scheme, rate):
    """u = e^{−t}(1 + x + 2y) and s lie in P1 for every t: the semi-discrete solution is
    exact, so the error at T is the time-stepping error, rate 1 (BE) / 2 (CN)."""
    def p(x):
        return 1 + x[0] + 2 * x[1]

    def u_exact(x, t=1.0):
        return np.exp(-t) * p(x)

    def source(x, t):  # ∂_t u − ∇·(f∇u) = −e^{−t} (p + ∇f·∇p), f = p, ∇f·∇p = 5
        return -np.exp(-t) * (p(x) + 5.0)

    dom = fem.unit_square(4)
    theta = dom.parameter_space.interpolate(lambda x: np.log(_f(x)))
    errors = []
    # From 8 steps on: with Δt·λ_max(M⁻¹K) ≫ 1 Crank–Nicolson (A- but not L-stable) is
    # pre-asymptotic at 4 steps on this mesh.
    for steps in (8, 16, 32, 64):
        G = fem.HeatForwardMap(dom, [[0.5, 0.5]], final_time=1.0, num_steps=steps,
                               scheme=scheme, initial_value=p, source=source,
                               boundary_value=u_exact)
        errors.append(G.state_space.l2_error(G.solve_state(theta)[-1], u_exact))
    _assert_rate(_rates(errors), rate, tol=0.1)


# --- fast path against plain UFL assembly ---------------------------------------------------

def _free_block(matrix, free):
    return matrix.tocsr()[free][:, free]


@pytest.mark.parametrize("degree", [1, 2])
def test_darcy_fast_path_matches_plain_dolfinx(domain, design, degree, rng):
    g, s = (lambda x: 1 + x[0] * x[1]), (lambda x: np.cos(3 * x[0]))
    G = fem.DarcyMap(domain, design, boundary_value=g, source=s, degree=degree)
    theta = 0.5 * rng.standard_normal(G.input_dim)
    f = np.exp(theta)
    S = G.state_space
    q = ufl_reference.function_from_values(domain.parameter_space.function_space, f)
    reference = _free_block(ufl_reference.assemble_bilinear(S.function_space, "stiffness", q),
                            S.interior_dofs)
    ours = G.operator_matrix(theta)
    assert abs(ours - reference).max() < 1e-13 * abs(reference).max()
    u_ref = ufl_reference.ufl_reference_solve(
        S, kind="stiffness", coefficient=f, base_stiffness=0.0, source_scale=-1.0,
        source=S.interpolate(s), boundary=S.interpolate(g))
    np.testing.assert_allclose(G.solve_state(theta), u_ref, rtol=0, atol=1e-11)


@pytest.mark.parametrize("scheme", ["backward_euler", "crank_nicolson"])
@pytest.mark.parametrize("degree", [1, 2])
def test_heat_fast_path_matches_plain_dolfinx(domain, design, degree, scheme, rng):
    u0 = lambda x: np.sin(np.pi * x[0]) * x[1]  # noqa: E731
    s, g = (lambda x, t: 1 + t * x[0]), (lambda x, t: t * x[1] + 0.2)
    G = fem.HeatForwardMap(domain, design, final_time=0.5, num_steps=6, scheme=scheme,
                           initial_value=u0, source=s, boundary_value=g, degree=degree)
    theta = 0.5 * rng.standard_normal(G.input_dim)
    f = np.exp(theta)
    S = G.state_space
    q = ufl_reference.function_from_values(domain.parameter_space.function_space, f)
    reference = _free_block(
        ufl_reference.assemble_bilinear(S.function_space, "mass") / G.time_step
        + G.theta_scheme * ufl_reference.assemble_bilinear(S.function_space, "stiffness", q),
        S.interior_dofs)
    ours = G.operator_matrix(theta)
    assert abs(ours - reference).max() < 1e-13 * abs(reference).max()
    U_ref = ufl_reference.ufl_reference_heat(
        S, coefficient=f, time_step=G.time_step, theta_scheme=G.theta_scheme, num_steps=6,
        initial=S.interpolate(u0), sources=np.stack([_at_time(S, s, t) for t in G.times]),
        boundary=np.stack([_at_time(S, g, t) for t in G.times]))
    np.testing.assert_allclose(G.solve_state(theta), U_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("pde", ["schrodinger", "darcy"])
def test_gradient_matches_a_plain_ufl_adjoint(domain, design, pde, degree, rng):
    """G(θ) and Jᵀw agree with UFL assembly, PETSc LU and the UFL derivative form."""
    g, s = (lambda x: 1 + 0.5 * x[0]), (lambda x: np.cos(3 * x[0]))
    cls, kind, c_k = {"schrodinger": (fem.SchrodingerMap, "mass", 0.5),
                      "darcy": (fem.DarcyMap, "stiffness", 0.0)}[pde]
    G = cls(domain, design, boundary_value=g, source=s, degree=degree, link="regular")
    S = G.state_space
    naive = ufl_reference.NaiveUFLGradient(
        S, kind=kind, base_stiffness=c_k, source_scale=-1.0, source=S.interpolate(s),
        boundary=S.interpolate(g), observation=S.evaluation_matrix(design), link=G.link)
    theta, w = rng.standard_normal(G.input_dim), rng.standard_normal(G.output_dim)
    y, pullback = G.value_and_pullback(theta)
    y_ref, grad_ref = naive(theta, w)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pullback(w), grad_ref, rtol=0,
                               atol=1e-11 * np.abs(grad_ref).max())
