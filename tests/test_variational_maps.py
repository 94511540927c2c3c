"""VariationalForwardMap: a user's UFL residual as a forward map with exact adjoints.

Taylor (rate 2 over >= 5 halvings) and dot-product tests on triangles, quadrilaterals and
tetrahedra for P1/P2/DG0/series parameters; the UFL Darcy and Schrödinger residuals against the
fast affine maps; manufactured-solution rates; experiments; observations; Newton; bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv import ForwardSolveError, InvalidArgumentError
from bayesinv.testing import check_forward_map

fem = pytest.importorskip("bayesinv.fem")
import dolfinx.mesh  # noqa: E402
import ufl  # noqa: E402
from mpi4py import MPI  # noqa: E402

pytestmark = pytest.mark.fem
COMM = MPI.COMM_SELF


def _mesh(kind, n):
    if kind == "triangle":
        return fem.unit_square(n)
    if kind == "quadrilateral":
        return dolfinx.mesh.create_unit_square(COMM, n, n, dolfinx.mesh.CellType.quadrilateral)
    return dolfinx.mesh.create_unit_cube(COMM, n, n, n, dolfinx.mesh.CellType.tetrahedron)


def _points(gdim, n, seed):
    return 0.05 + 0.9 * np.random.default_rng(seed).random((n, gdim))


def darcy_residual(u, m, v):
    return m * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + 1.0 * v * ufl.dx


def _assert_same_map(G, ref, theta, rng, jvp=True):
    """G and the reference map ``ref`` agree at θ to round-off: values (1e-12 of the largest),
    pullbacks of a random w and, with ``jvp``, tangents of a random h (1e-11)."""
    y, pb = G.value_and_pullback(theta)
    yr, pbr = ref.value_and_pullback(theta)
    w = rng.standard_normal(y.shape)
    np.testing.assert_allclose(y, yr, rtol=0, atol=1e-12 * np.abs(yr).max())
    np.testing.assert_allclose(pb(w), pbr(w), rtol=0, atol=1e-11 * np.abs(pbr(w)).max())
    if jvp:
        h = rng.standard_normal(theta.shape)
        np.testing.assert_allclose(G.jvp(theta, h), ref.jvp(theta, h), rtol=0,
                                   atol=1e-11 * np.abs(ref.jvp(theta, h)).max())


def _assert_taylor(G, theta, rng, dot_tol=1e-10, eps0=None, affine=False):
    report = check_forward_map(G, theta, rng, halvings=6, eps0=eps0)
    if affine:  # G affine in θ: the first-order remainder is round-off
        assert report.r1.max() <= 1e-10 * report.r0.max(), str(report)
        assert report.dot_product_error < dot_tol, str(report)
        return
    assert np.all(np.abs(report.rates1 - 2.0) <= 0.15), str(report)
    assert report.dot_product_error < dot_tol, str(report)


# --- the built-in PDEs as cross-checks ----------------------------------------------------

@pytest.mark.parametrize("probe", [True, False])
@pytest.mark.parametrize("degree", [1, 2])
def test_ufl_darcy_reproduces_darcy_map(degree, probe, rng):
    dom = fem.unit_square(8)
    X = fem.uniform_design(dom, 25, seed=2)
    D = fem.DarcyMap(dom, X, source=1.0, boundary_value=lambda x: x[0], link="exp",
                     degree=degree)
    G = fem.VariationalForwardMap(darcy_residual, dom, X, state=degree, link="exp",
                                  bcs=[fem.DirichletBC(lambda x: x[0])], probe=probe)
    assert G.path == ("affine" if probe else "assembly")
    theta = 0.6 * rng.standard_normal(G.input_dim)
    _assert_same_map(G, D, theta, rng)


def test_ufl_schrodinger_reproduces_schrodinger_map_with_two_experiments(rng):
    dom = fem.unit_square(8)
    X = fem.uniform_design(dom, 20, seed=4)
    gs = [lambda x: 1 + 0.5 * x[0], lambda x: 2 - x[1]]
    S = fem.SchrodingerMap(dom, X, experiments=[fem.Experiment(boundary_value=g) for g in gs])

    def residual(u, m, v, g):
        return (0.5 * ufl.inner(ufl.grad(u), ufl.grad(v)) + m * u * v) * ufl.dx

    G = fem.VariationalForwardMap(residual, dom, X, link="exp", coefficients={"g": gs[0]},
                                  bcs=[fem.DirichletBC("g")],
                                  experiments=[{"g": g} for g in gs])
    assert G.shared_factorization and G.output_dim == S.output_dim
    theta = 0.5 * rng.standard_normal(G.input_dim)
    _assert_same_map(G, S, theta, rng, jvp=False)
    _assert_taylor(G, theta, rng)


# --- the probed affine path against assembly -------------------------------------------------

@pytest.mark.parametrize(("cell", "parameter", "state"), [
    ("triangle", "P1", 1), ("quadrilateral", "P1", 1), ("tetrahedron", "P1", 1),
    ("triangle", "DG0", 1), ("quadrilateral", "P2", 1), ("triangle", "P1", 2)])
def test_probed_affine_path_equals_assembly(cell, parameter, state, rng):
    mesh = _mesh(cell, 2 if cell == "tetrahedron" else 5)
    gdim = 3 if cell == "tetrahedron" else 2

    def residual(u, m, v, s):  # diffusion, reaction, source and Robin terms all carry m
        return ((1 + m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + m * u * v - (s + m) * v) * ufl.dx \
            + m * u * v * ufl.ds

    kw = {"parameter": parameter, "state": state, "coefficients": {"s": 1.0},
          "experiments": [{"s": 1.0}, {"s": lambda x: x[0]}],
          "bcs": [fem.DirichletBC(lambda x: x[1], where=lambda x: np.isclose(x[0], 0))]}
    X = _points(gdim, 8, 3)
    fast = fem.VariationalForwardMap(residual, mesh, X, **kw)
    slow = fem.VariationalForwardMap(residual, mesh, X, probe=False, **kw)
    assert fast.path == "affine" and slow.path == "assembly"
    theta = 0.3 * rng.random(fast.input_dim)
    _assert_same_map(fast, slow, theta, rng)


def test_forms_not_affine_in_m_use_assembly():
    G = fem.VariationalForwardMap(
        lambda u, m, v: (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) - v) * ufl.dx,
        fem.unit_square(4), [[0.5, 0.5]], bcs=[fem.DirichletBC(0.0)])
    assert G.linear and not G.forms.affine and G.path == "assembly"


# --- Taylor and dot-product tests on every cell type and parameter space -------------------

@pytest.mark.parametrize("cell", ["triangle", "quadrilateral", "tetrahedron"])
@pytest.mark.parametrize("parameter", ["P1", "P2", "DG0"])
def test_taylor_and_dot_product_on_cell_types_and_parameter_spaces(cell, parameter, rng):
    mesh = _mesh(cell, 3 if cell == "tetrahedron" else 6)
    gdim = 3 if cell == "tetrahedron" else 2

    def residual(u, m, v):  # nonlinear in m through the form, plus a Robin term
        return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + m * m * u * v
                - v) * ufl.dx + 2.0 * u * v * ufl.ds

    G = fem.VariationalForwardMap(residual, mesh, _points(gdim, 12, 1), parameter=parameter)
    assert G.linear and G.observation_kind == "points"
    _assert_taylor(G, 0.5 * rng.standard_normal(G.input_dim), rng)


def test_series_parameter_basis(rng):
    dom = fem.unit_square(8)
    x = dom.parameter_space.coordinates
    modes = np.column_stack([np.sin(np.pi * (i + 1) * x[:, 0]) * np.sin(np.pi * (j + 1) * x[:, 1])
                             for i in range(3) for j in range(3)])
    G = fem.VariationalForwardMap(darcy_residual, dom, _points(2, 15, 3), link="exp",
                                  parameter=fem.ParameterBasis(modes, "P1"),
                                  bcs=[fem.DirichletBC(0.0)])
    assert G.input_dim == 9
    theta = rng.standard_normal(9)
    P1 = fem.VariationalForwardMap(darcy_residual, dom, _points(2, 15, 3), link="exp",
                                   bcs=[fem.DirichletBC(0.0)])
    np.testing.assert_allclose(G(theta), P1(modes @ theta), rtol=1e-12, atol=1e-15)
    _assert_taylor(G, theta, rng, eps0=0.01)  # E h changes the field by up to ~ 9 ‖h‖_∞


@pytest.mark.parametrize("space", ["DG0", "P1"])
def test_coarse_parameter_mesh_through_a_transfer_basis(space, rng):
    from bayesinv.fem import _compat

    coarse = _mesh("quadrilateral", 3)
    fine = _mesh("quadrilateral", 6)
    family, degree = ("DG", 0) if space == "DG0" else ("Lagrange", 1)
    Qc = _compat.function_space(coarse, family, degree)
    Qf = _compat.function_space(fine, family, degree)
    E = fem.transfer_matrix(Qc, Qf)
    X = _points(2, 8, 6)
    G = fem.VariationalForwardMap(darcy_residual, fine, X, link="exp",
                                  parameter=fem.ParameterBasis(E, Qf),
                                  bcs=[fem.DirichletBC(0.0)])
    F = fem.VariationalForwardMap(darcy_residual, fine, X, link="exp", parameter=Qf,
                                  bcs=[fem.DirichletBC(0.0)])
    theta = 0.5 * rng.standard_normal(G.input_dim)
    assert G.input_dim == (9 if space == "DG0" else 16)
    np.testing.assert_allclose(G(theta), F(E @ theta), rtol=1e-12)
    # the transfer reproduces coarse functions exactly (nested meshes)
    np.testing.assert_allclose(np.asarray(E.sum(axis=1)).ravel(), 1.0, atol=1e-13)
    _assert_taylor(G, theta, rng, eps0=0.02)


def test_nonsymmetric_residual_uses_lu_with_transposed_adjoint(rng):
    dom = fem.unit_square(8)
    b = ufl.as_vector((1.0, 0.5))

    def residual(u, m, v):  # convection–diffusion: J is not symmetric
        return (m * ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.dot(b, ufl.grad(u)) * v
                - v) * ufl.dx

    G = fem.VariationalForwardMap(residual, dom, _points(2, 10, 5), link="exp",
                                  bcs=[fem.DirichletBC(0.0)])
    assert G.path == "affine" and not G._affine.symmetric
    theta = 0.5 * rng.standard_normal(G.input_dim)
    J = G.jacobian_matrix(theta)
    assert abs(J - J.T).max() > 1e-3 * abs(J).max()
    _assert_taylor(G, theta, rng)


# --- source identification, known variable coefficients, observations -------------------------

def _source_map(dom, observation, **kw):
    def residual(u, f, v, c):
        return (c * ufl.inner(ufl.grad(u), ufl.grad(v)) - f * v) * ufl.dx

    return fem.VariationalForwardMap(residual, dom, observation,
                                     coefficients={"c": lambda x: 1.0 + x[0] * x[1]},
                                     bcs=[fem.DirichletBC(0.0)], **kw)


def test_source_identification_is_linear_in_theta_and_matches_a_direct_solve(rng):
    dom = fem.unit_square(8)
    X = _points(2, 15, 7)
    G = _source_map(dom, X)
    a, b = rng.standard_normal((2, G.input_dim))
    np.testing.assert_allclose(G(2 * a - b), 2 * G(a) - G(b), atol=1e-13)
    # against an independent assembly: (c∇u,∇v) = (f, v) with the package's P1 matrices
    S = dom.space(1)
    c = S.interpolate(lambda x: 1.0 + x[0] * x[1])
    u = G.solve_state(a)
    free = S.interior_dofs
    import dolfinx.fem as dfem

    V = G.function_space
    cf, fa = dfem.Function(V), dfem.Function(V)
    cf.x.array[:], fa.x.array[:] = c, a
    uu, vv = ufl.TrialFunction(V), ufl.TestFunction(V)
    from bayesinv.fem import _compat

    K = _compat.assemble_matrix_csr(_compat.form(cf * ufl.inner(ufl.grad(uu), ufl.grad(vv))
                                                 * ufl.dx))
    rhs = _compat.assemble_vector_array(_compat.form(fa * vv * ufl.dx))
    import scipy.sparse.linalg as spla

    ref = np.zeros(S.num_dofs)
    ref[free] = spla.spsolve(K[free][:, free].tocsc(), rhs[free])
    np.testing.assert_allclose(u, ref, atol=1e-12 * np.abs(ref).max())
    _assert_taylor(G, a, rng, affine=True)


def test_field_and_functional_observations(rng):
    dom = fem.unit_square(8)
    field = _source_map(dom, "field")
    theta = rng.standard_normal(field.input_dim)
    u = field.solve_state(theta)
    M = dom.space(1).mass_matrix
    y = field(theta)
    assert y @ y == pytest.approx(u @ (M @ u), rel=1e-12)   # ‖Ru‖² = ‖u‖²_L²

    def mean(u):
        return u * ufl.dx

    def flux(u):
        n = ufl.FacetNormal(u.function_space.mesh)
        return ufl.inner(ufl.grad(u), n) * ufl.ds

    G = _source_map(dom, [mean, flux])
    y = G(theta)
    assert y.shape == (2,)
    assert y[0] == pytest.approx(float(np.ones(u.size) @ (M @ u)), rel=1e-12)
    _assert_taylor(G, theta, rng, affine=True)


def test_field_observation_on_quadrilaterals_has_mass_matrix_gram(rng):
    mesh = _mesh("quadrilateral", 5)
    G = fem.VariationalForwardMap(darcy_residual, mesh, "field", link="exp",
                                  bcs=[fem.DirichletBC(0.0)])
    R = G.observation_matrix
    V = G.function_space
    from bayesinv.fem import _compat

    uu, vv = ufl.TrialFunction(V), ufl.TestFunction(V)
    M = _compat.assemble_matrix_csr(_compat.form(uu * vv * ufl.dx))
    assert abs(R.T @ R - M).max() <= 1e-13 * abs(M).max()


def test_tagged_dirichlet_parts_and_marker():
    mesh = _mesh("quadrilateral", 6)
    tdim = mesh.topology.dim
    left = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.isclose(x[0], 0))
    right = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.isclose(x[0], 1))
    facets = np.concatenate([left, right]).astype(np.int32)
    values = np.concatenate([np.full(left.size, 1), np.full(right.size, 2)]).astype(np.int32)
    order = np.argsort(facets)
    tags = dolfinx.mesh.meshtags(mesh, tdim - 1, facets[order], values[order])

    def residual(u, m, v):
        return m * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx

    bcs = [fem.DirichletBC(0.0, where=1), fem.DirichletBC(lambda x: 1.0 + 0 * x[1], where=2)]
    G = fem.VariationalForwardMap(residual, mesh, [[0.25, 0.5], [0.5, 0.3], [0.75, 0.9]],
                                  bcs=bcs, facet_tags=tags)
    np.testing.assert_allclose(G(np.ones(G.input_dim)), [0.25, 0.5, 0.75], atol=1e-12)
    marker = fem.VariationalForwardMap(
        residual, mesh, [[0.25, 0.5]],
        bcs=[fem.DirichletBC(0.0, where=lambda x: np.isclose(x[0], 0)),
             fem.DirichletBC(1.0, where=lambda x: np.isclose(x[0], 1))])
    np.testing.assert_allclose(marker(np.ones(marker.input_dim)), [0.25], atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="facet tag 7 does not occur"):
        fem.VariationalForwardMap(residual, mesh, [[0.5, 0.5]], facet_tags=tags,
                                  bcs=[fem.DirichletBC(0.0, where=7)])


# --- manufactured solutions ---------------------------------------------------------------------

def _mms_rates(cell, degree, sizes):
    """L² errors of −∇·(k∇u) + m u = s, u = 0 on ∂O, with u = (1 + x₀) Π sin(π x_i) exact and
    k = 1 + x₀x₁, m = 1; observed rates between successive sizes."""
    import dolfinx.fem as dfem

    from bayesinv.fem import _compat

    errors = []
    for n in sizes:
        mesh = _mesh(cell, n)
        msh = mesh.mesh if hasattr(mesh, "mesh") else mesh
        x = ufl.SpatialCoordinate(msh)
        ue = 1 + x[0]
        for i in range(msh.geometry.dim):
            ue = ue * ufl.sin(ufl.pi * x[i])
        k = 1 + x[0] * x[1]
        source = -ufl.div(k * ufl.grad(ue)) + ue

        def residual(u, m, v, k=k, source=source):  # a fixed rule: the source is not polynomial
            return (k * ufl.inner(ufl.grad(u), ufl.grad(v)) + m * u * v
                    - source * v) * ufl.dx(degree=2 * degree + 2)

        G = fem.VariationalForwardMap(residual, mesh, [[0.5] * msh.geometry.dim], state=degree,
                                      bcs=[fem.DirichletBC(0.0)], probe=False)  # one solve
        uh = dfem.Function(G.function_space)
        uh.x.array[:] = G.solve_state(np.ones(G.input_dim))
        err = dfem.assemble_scalar(_compat.form((uh - ue) ** 2 * ufl.dx(degree=2 * degree + 4)))
        errors.append(np.sqrt(err))
    errors = np.array(errors)
    return np.log2(errors[:-1] / errors[1:])


@pytest.mark.parametrize(("cell", "degree", "rate"), [("triangle", 1, 2.0),
                                                      ("quadrilateral", 1, 2.0),
                                                      ("triangle", 2, 3.0),
                                                      ("quadrilateral", 2, 3.0),
                                                      ("tetrahedron", 1, 2.0),
                                                      ("tetrahedron", 2, 3.0)])
def test_manufactured_solution_l2_rates(cell, degree, rate):
    sizes = (4, 8, 16) if cell != "tetrahedron" else (3, 6, 12) if degree == 1 else (2, 4, 8)
    rates = _mms_rates(cell, degree, sizes)
    assert abs(rates[-1] - rate) < 0.2, rates


# --- nonlinear residuals ----------------------------------------------------------------------

def nonlinear_residual(u, m, v):
    return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + u ** 3 * v - v) * ufl.dx


@pytest.mark.parametrize("cell", ["triangle", "quadrilateral", "tetrahedron"])
def test_nonlinear_newton_taylor_and_dot_product(cell, rng):
    mesh = _mesh(cell, 3 if cell == "tetrahedron" else 6)
    gdim = 3 if cell == "tetrahedron" else 2
    G = fem.VariationalForwardMap(nonlinear_residual, mesh, _points(gdim, 10, 2),
                                  bcs=[fem.DirichletBC(0.0)])
    assert not G.linear
    theta = 0.5 * rng.standard_normal(G.input_dim)
    u = G.solve_state(theta)
    # the converged state solves the discrete residual
    G._m.x.array[:] = theta
    assert np.abs(G._residual_free(u)).max() < 1e-12
    _assert_taylor(G, theta, rng, dot_tol=1e-9)


def test_newton_failure_is_a_forward_solve_error():
    dom = fem.unit_square(6)

    def residual(u, m, v):  # u = e^{...}: blows up for large data
        return (ufl.inner(ufl.grad(u), ufl.grad(v)) - m * ufl.exp(u) * v) * ufl.dx

    G = fem.VariationalForwardMap(residual, dom, [[0.5, 0.5]], bcs=[fem.DirichletBC(0.0)],
                                  newton=fem.NewtonOptions(max_iterations=6))
    G(np.full(G.input_dim, 0.5))     # a small load: solvable (Bratu below the fold)
    with pytest.raises(ForwardSolveError, match="Newton"):
        G(np.full(G.input_dim, 50.0))   # beyond the Bratu fold: no solution


# --- fingerprints -------------------------------------------------------------------------------

def test_fingerprint_is_stable_and_tells_residuals_apart():
    dom = fem.unit_square(6)
    X = _points(2, 5, 1)

    def other(u, m, v):
        return (m * ufl.inner(ufl.grad(u), ufl.grad(v)) + 2.0 * v) * ufl.dx

    a = fem.VariationalForwardMap(darcy_residual, dom, X, bcs=[fem.DirichletBC(0.0)])
    b = fem.VariationalForwardMap(darcy_residual, dom, X, bcs=[fem.DirichletBC(0.0)])
    c = fem.VariationalForwardMap(other, dom, X, bcs=[fem.DirichletBC(0.0)])
    d = fem.VariationalForwardMap(darcy_residual, dom, X, bcs=[fem.DirichletBC(1.0)])
    assert a.fingerprint() == b.fingerprint()
    assert len({a.fingerprint(), c.fingerprint(), d.fingerprint()}) == 3


def test_built_in_maps_have_fingerprints():
    dom = fem.unit_square(5)
    X = _points(2, 4, 2)
    a, b = fem.DarcyMap(dom, X), fem.DarcyMap(dom, X)
    assert a.fingerprint() == b.fingerprint()
    assert fem.DarcyMap(dom, X, source=2.0).fingerprint() != a.fingerprint()
    assert fem.SchrodingerMap(dom, X).fingerprint() != a.fingerprint()
    h1 = fem.HeatForwardMap(dom, X, final_time=0.1, num_steps=3)
    h2 = fem.HeatForwardMap(dom, X, final_time=0.1, num_steps=4)
    assert h1.fingerprint() != h2.fingerprint()
    assert h1.fingerprint() == fem.HeatForwardMap(dom, X, final_time=0.1,
                                                  num_steps=3).fingerprint()


# --- bad input ----------------------------------------------------------------------------------

def test_bad_input_gets_clear_errors():
    dom = fem.unit_square(4)
    X = [[0.5, 0.5]]

    def bilinear(u, m, v):
        w = ufl.TrialFunction(u.function_space)
        return m * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx

    with pytest.raises(InvalidArgumentError, match="bilinear form"):
        fem.VariationalForwardMap(bilinear, dom, X)
    with pytest.raises(InvalidArgumentError, match="does not depend on the parameter"):
        fem.VariationalForwardMap(lambda u, m, v: ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
                                  dom, X)
    with pytest.raises(InvalidArgumentError, match="functional"):
        fem.VariationalForwardMap(lambda u, m, v: m * u * u * ufl.dx, dom, X)
    with pytest.raises(InvalidArgumentError, match="outside the mesh"):
        fem.VariationalForwardMap(darcy_residual, dom, [[0.5, 0.5], [1.5, 0.2]])
    with pytest.raises(InvalidArgumentError, match="has none"):
        fem.VariationalForwardMap(darcy_residual, dom, X, bcs=[fem.DirichletBC(0.0, where=3)])
    other = fem.unit_square(5)
    with pytest.raises(InvalidArgumentError, match="different mesh"):
        fem.VariationalForwardMap(darcy_residual, dom, X,
                                  parameter=other.space(1).function_space)
    import dolfinx.fem as dfem

    foreign = dfem.Function(other.space(1).function_space)
    with pytest.raises(InvalidArgumentError, match="different mesh"):
        fem.VariationalForwardMap(darcy_residual, dom, X, coefficients={"c": foreign})
    with pytest.raises(InvalidArgumentError, match="parameter must be one of"):
        fem.VariationalForwardMap(darcy_residual, dom, X, parameter="P7")
    with pytest.raises(InvalidArgumentError, match="not in coefficients"):
        fem.VariationalForwardMap(darcy_residual, dom, X, experiments=[{"s": 1.0}])

    class Distributed:  # what a mesh on MPI.COMM_WORLD with 2 ranks looks like here
        geometry, topology = dom.mesh.geometry, dom.mesh.topology

        class comm:
            size = 2

    with pytest.raises(InvalidArgumentError, match="distributed over 2 ranks"):
        fem.VariationalForwardMap(darcy_residual, Distributed(), X)


# --- Newton failure inside chains ----------------------------------------------------------

@pytest.fixture(scope="module")
def bratu_posterior():
    """−Δu = m e^u on the unit square, u = 0 on ∂O, m a constant: no solution beyond the fold
    m* ≈ 6.81, where Newton fails. Prior m ~ N(4, 2²), data from m = 3."""
    import bayesinv

    dom = fem.unit_square(4)

    def residual(u, m, v):
        return (ufl.inner(ufl.grad(u), ufl.grad(v)) - m * ufl.exp(u) * v) * ufl.dx

    G = fem.VariationalForwardMap(residual, dom, [[0.5, 0.5], [0.3, 0.6]],
                                  parameter=fem.ParameterBasis(np.ones((dom.space(1).num_dofs, 1))),
                                  bcs=[fem.DirichletBC(0.0)],
                                  newton=fem.NewtonOptions(max_iterations=12))
    data = G(np.array([3.0])) + 0.01 * np.array([0.3, -0.5])
    prior = bayesinv.GaussianPrior(np.array([[2.0]]), mean=4.0)
    like = bayesinv.GaussianLikelihood(G, data, 0.5)  # weak data: the posterior reaches the fold
    return bayesinv.Posterior(prior, like)


@pytest.mark.parametrize("method", ["pcn", "mala"])
def test_newton_failure_is_a_rejection_in_pcn_and_mala(bratu_posterior, method):
    import bayesinv

    kw = {"beta": 0.9} if method == "pcn" else {"step_size": 1.5}
    idata = bayesinv.sample(bratu_posterior, method, draws=150, chains=1, seed=3,
                            init=np.zeros(1), diagnostics=False,
                            tuning=bayesinv.samplers.Tuning(adapt=False), **kw)
    assert idata.sample_stats["diverging"].values.sum() > 0       # failed solves happened
    assert np.all(idata.posterior["theta"].values < 6.9)          # and were never accepted


def test_newton_failure_is_a_flagged_divergence_in_ula(bratu_posterior):
    import bayesinv

    idata = bayesinv.sample(bratu_posterior, "ula", step_size=2.0, draws=100, chains=1, seed=1,
                            init=np.zeros(1), diagnostics=False,
                            tuning=bayesinv.samplers.Tuning(max_divergences=1000))
    diverging = idata.sample_stats["diverging"].values
    assert diverging.sum() > 0 and diverging.mean() < 1
    assert np.all(np.isfinite(idata.posterior["theta"].values))


# --- meshes from files ---------------------------------------------------------------------

def write_gmsh_box(path, dim: int, h: float = 0.25):
    """A unit square (dim 2) or cube (dim 3) meshed by gmsh, written to ``path``; physical
    groups: cells 1, facets x = 0 → 1, x = 1 → 2, the rest → 3."""
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("box")
        tag = (gmsh.model.occ.addRectangle(0, 0, 0, 1, 1) if dim == 2
               else gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1))
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(dim, [tag], 1)
        groups = {1: [], 2: [], 3: []}
        for _, facet in gmsh.model.getEntities(dim - 1):
            x = gmsh.model.occ.getCenterOfMass(dim - 1, facet)[0]
            groups[1 if np.isclose(x, 0) else 2 if np.isclose(x, 1) else 3].append(facet)
        for group, facets in groups.items():
            gmsh.model.addPhysicalGroup(dim - 1, facets, group)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.mesh.generate(dim)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()


@pytest.mark.parametrize("dim", [2, 3])
def test_read_gmsh_mesh_with_tags_and_gdim_from_geometry(tmp_path, dim, rng):
    path = tmp_path / f"box{dim}.msh"
    write_gmsh_box(path, dim, h=0.25 if dim == 2 else 0.4)
    data = fem.read_mesh(path)
    assert data.mesh.geometry.dim == dim and data.mesh.topology.dim == dim
    assert sorted(np.unique(data.facet_tags.values)) == [1, 2, 3]

    def residual(u, m, v):
        return m * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx

    X = _points(dim, 6, 4)
    G = fem.VariationalForwardMap(residual, data, X, link="exp",
                                  bcs=[fem.DirichletBC(0.0, where=1),
                                       fem.DirichletBC(1.0, where=2)])
    # constant coefficient: u = x (exact in P1)
    np.testing.assert_allclose(G(np.zeros(G.input_dim)), X[:, 0], atol=1e-12)
    _assert_taylor(G, 0.5 * rng.standard_normal(G.input_dim), rng)


def test_read_xdmf_mesh(tmp_path):
    from bayesinv.fem import _compat

    mesh = dolfinx.mesh.create_unit_square(COMM, 4, 4, dolfinx.mesh.CellType.quadrilateral)
    with _compat.xdmf_file(COMM, tmp_path / "m.xdmf", "w") as f:
        f.write_mesh(mesh)
    data = fem.read_mesh(tmp_path / "m.xdmf")
    assert data.mesh.geometry.dim == 2 and data.mesh.topology.cell_type.name == "quadrilateral"
    assert data.facet_tags is None
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        fem.read_mesh(tmp_path / "missing.msh")


# --- the README's "Your own PDE" block --------------------------------------------------

@pytest.mark.slow
def test_readme_your_own_pde_block_runs(rng):
    """The README block runs verbatim; its map passes the Taylor test and the posterior mean
    is closer to the truth than the prior mean (the short chains' convergence warning is
    ignored here: the block is an example, not a calibrated run)."""
    import re
    import warnings
    from pathlib import Path

    from bayesinv import BayesinvWarning

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
              if "VariationalForwardMap" in b]
    assert len(blocks) == 1
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BayesinvWarning)
        exec(compile(blocks[0], "README.md", "exec"), namespace)
    G, theta0, idata = namespace["G"], namespace["theta0"], namespace["idata"]
    assert not G.linear
    _assert_taylor(G, theta0, rng, dot_tol=1e-9)
    mean = idata.posterior["theta"].values.reshape(-1, G.input_dim).mean(0)
    M = G.parameter_space.mass_matrix
    assert (mean - theta0) @ (M @ (mean - theta0)) < theta0 @ (M @ theta0)
    assert int(idata.sample_stats["diverging"].values.sum()) == 0


# --- priors and designs on other cell types ------------------------------------------------

@pytest.mark.parametrize("cell", ["quadrilateral", "hexahedron"])
def test_priors_and_designs_on_mesh_domains(cell, rng):
    import bayesinv

    mesh = (_mesh("quadrilateral", 8) if cell == "quadrilateral" else
            dolfinx.mesh.create_unit_cube(COMM, 4, 4, 4, dolfinx.mesh.CellType.hexahedron))
    dom = fem.MeshDomain(mesh, name=cell)
    assert dom.measure == pytest.approx(1.0, rel=1e-12)
    X = fem.uniform_design(dom, 30, seed=2)
    assert X.shape == (30, dom.dim) and dom.contains(X).all()
    series = bayesinv.SeriesPrior.dirichlet_laplacian(dom, alpha=2.0, num_modes=6)
    # the first Dirichlet eigenvalue of the unit square/cube, d π², up to the FE error
    assert series.eigenvalues[0] == pytest.approx(dom.dim * np.pi ** 2, rel=0.1)
    P = dom.parameter_space
    spde = bayesinv.WhittleMaternPrior(P.mass_matrix, P.stiffness_matrix, kappa=4.0, beta=2,
                                       spatial_dim=dom.dim)
    G = fem.VariationalForwardMap(darcy_residual, dom, X, link="exp",
                                  bcs=[fem.DirichletBC(0.0)])
    assert G.parameter_space.num_dofs == spde.dim == series.dim
    for prior in (series, spde):
        _assert_taylor(G, prior.sample(rng), rng)


# --- time-dependent user forms ---------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["backward_euler", "crank_nicolson"])
@pytest.mark.parametrize("probe", [True, False])
def test_evolution_map_reproduces_heat_map(scheme, probe, rng):
    dom = fem.unit_square(6)
    X = _points(2, 10, 8)
    kw = {"final_time": 0.2, "num_steps": 8, "observation_times": [0.1, 0.2], "scheme": scheme}
    H = fem.HeatForwardMap(dom, X, source=1.0, boundary_value=0.5, initial_value=0.5, **kw)

    def residual(u, m, v):
        return (m * ufl.inner(ufl.grad(u), ufl.grad(v)) - v) * ufl.dx

    G = fem.VariationalEvolutionMap(residual, dom, X, link="exp", initial_value=0.5,
                                    bcs=[fem.DirichletBC(0.5)], probe=probe, **kw)
    assert G.stationary.path == ("affine" if probe else "assembly")
    theta = 0.5 * rng.standard_normal(G.input_dim)
    _assert_same_map(G, H, theta, rng)


@pytest.mark.parametrize("cell", ["quadrilateral", "tetrahedron"])
def test_evolution_map_taylor_on_other_cells_with_a_non_affine_coefficient(cell, rng):
    mesh = _mesh(cell, 3 if cell == "tetrahedron" else 5)
    gdim = 3 if cell == "tetrahedron" else 2

    def residual(u, m, v):  # e^m: the assembly path; a convection term: non-symmetric
        b = ufl.as_vector((1.0,) + (0.0,) * (gdim - 1))
        return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.dot(b, ufl.grad(u)) * v
                - v) * ufl.dx

    G = fem.VariationalEvolutionMap(residual, mesh, _points(gdim, 6, 1), final_time=0.1,
                                    num_steps=5, observation_times=[0.04, 0.1],
                                    scheme="crank_nicolson", bcs=[fem.DirichletBC(0.0)],
                                    mass=lambda u, v: 2.0 * u * v * ufl.dx)
    assert G.stationary.path == "assembly"
    _assert_taylor(G, 0.5 * rng.standard_normal(G.input_dim), rng)
    with pytest.raises(InvalidArgumentError, match="on the time grid"):
        fem.VariationalEvolutionMap(residual, mesh, _points(gdim, 2, 1), final_time=0.1,
                                    num_steps=5, observation_times=[0.05])
    with pytest.raises(InvalidArgumentError, match="linear in u"):
        fem.VariationalEvolutionMap(nonlinear_residual, mesh, _points(gdim, 2, 1),
                                    final_time=0.1, num_steps=5)


@pytest.mark.parametrize("probe", [True, False])
def test_experiments_share_one_factorisation(probe, monkeypatch):
    from bayesinv.fem.jacobian import JacobianBlock

    calls = []
    original = JacobianBlock.factorize_values

    def counting(self, data, symmetric=None):
        calls.append(1)
        return original(self, data, symmetric)

    def residual(u, m, v, s):
        return (m * ufl.inner(ufl.grad(u), ufl.grad(v)) - s * v) * ufl.dx

    sources = [1.0, lambda x: x[0], lambda x: x[1] ** 2]
    G = fem.VariationalForwardMap(residual, fem.unit_square(5), _points(2, 4, 1),
                                  coefficients={"s": 1.0}, bcs=[fem.DirichletBC(0.0)],
                                  experiments=[{"s": s} for s in sources], probe=probe)
    monkeypatch.setattr(JacobianBlock, "factorize_values", counting)
    theta = np.ones(G.input_dim)
    y, pullback = G.value_and_pullback(theta)
    pullback(np.ones(y.shape))
    assert G.shared_factorization and len(calls) == 1 and y.shape == (12,)
    assert G.counts.forward == 3 and G.counts.adjoint == 3
    # each experiment is its own solve: the stack equals three one-experiment maps
    for k, s in enumerate(sources):
        one = fem.VariationalForwardMap(residual, fem.unit_square(5), _points(2, 4, 1),
                                        coefficients={"s": s}, bcs=[fem.DirichletBC(0.0)])
        np.testing.assert_allclose(y[4 * k:4 * k + 4], one(theta), rtol=1e-12, atol=1e-15)
