"""Replaceable linear solvers, factorisation reuse, failure handling, counters, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import bayesinv
from bayesinv import ForwardSolveError, InvalidArgumentError
from bayesinv.linalg import CholmodSolver, SuperLUSolver, bind_solver
from bayesinv.links import ExpLink, RegularLink

fem = pytest.importorskip("bayesinv.fem")

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def domain():
    return fem.unit_square(10)


@pytest.fixture(scope="module")
def design(domain):
    return fem.uniform_design(domain, 30, seed=2)


class PlainSolver:
    """A user solver with only the simple protocol: factorize(A) -> solve(b)."""

    def __init__(self):
        self.calls = 0

    def factorize(self, A):
        self.calls += 1
        lu = sp.linalg.splu(sp.csc_matrix(A))
        return lu.solve


SOLVERS = {
    "petsc-cholesky": lambda: fem.PETScSolver(),
    "petsc-lu": lambda: fem.PETScSolver(pc_type="lu"),
    "petsc-cg-gamg": lambda: fem.PETScSolver("cg", "gamg", rtol=1e-13),
    "cholmod-simplicial": lambda: CholmodSolver(),
    "cholmod-supernodal": lambda: CholmodSolver(mode="supernodal"),
    "superlu": lambda: SuperLUSolver(),
    "user": PlainSolver,
}


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("pde", ["schrodinger", "darcy"])
def test_every_solver_gives_the_same_values_and_gradients(domain, design, pde, name, rng):
    cls = {"schrodinger": fem.SchrodingerMap, "darcy": fem.DarcyMap}[pde]
    kwargs = {"boundary_value": lambda x: 1 + x[0]}
    reference = cls(domain, design, solver="superlu", **kwargs)
    G = cls(domain, design, solver=SOLVERS[name](), **kwargs)
    theta, w = 0.5 * rng.standard_normal(G.input_dim), rng.standard_normal(G.output_dim)
    y_ref, pb_ref = reference.value_and_pullback(theta)
    y, pb = G.value_and_pullback(theta)
    tol = 1e-9 if "cg" in name else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol)
    np.testing.assert_allclose(pb(w), pb_ref(w), rtol=0, atol=tol * np.abs(pb_ref(w)).max())
    if name == "user":
        assert G.solver.calls == 1  # one factorisation for the forward and the adjoint


def test_string_solver_names(domain, design, rng):
    theta = rng.standard_normal(domain.parameter_space.num_dofs)
    ys = [fem.SchrodingerMap(domain, design, solver=s)(theta)
          for s in (None, "petsc", "cholmod", "superlu")]
    for y in ys[1:]:
        np.testing.assert_allclose(y, ys[0], rtol=1e-12)
    assert isinstance(fem.SchrodingerMap(domain, design).solver, fem.PETScSolver)


@pytest.mark.parametrize("name", ["petsc-cholesky", "cholmod-simplicial"])
def test_an_old_linearisation_stays_valid_after_new_solves(domain, design, name, rng):
    """In-place refactorisation must not corrupt a pullback/jvp kept from an earlier θ."""
    G = fem.DarcyMap(domain, design, solver=SOLVERS[name]())
    theta0, theta1 = rng.standard_normal((2, G.input_dim))
    v, w = rng.standard_normal(G.input_dim), rng.standard_normal(G.output_dim)
    _, jvp0, pullback0 = G.linearize(theta0)
    G.value_and_pullback(theta1)[1](w)                 # overwrites the factor workspace
    fresh = fem.DarcyMap(domain, design, solver="superlu")
    _, jvp_ref, pullback_ref = fresh.linearize(theta0)
    np.testing.assert_allclose(pullback0(w), pullback_ref(w), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(jvp0(v), jvp_ref(v), rtol=1e-11, atol=1e-14)


def _laplacian(n):
    main, off = 2.0 * np.ones(n), -np.ones(n - 1)
    return sp.diags([off, main, off], [-1, 0, 1], format="csr")


@pytest.mark.parametrize("solver", [fem.PETScSolver(), CholmodSolver(), SuperLUSolver()],
                         ids=["petsc", "cholmod", "superlu"])
def test_a_singular_operator_is_a_forward_solve_error(solver):
    A = _laplacian(6)
    A.sort_indices()
    bound = bind_solver(solver, A.indptr.astype(np.int64), A.indices.astype(np.int64), 6)
    factor = bound.factorize(A.data.copy())
    np.testing.assert_allclose(A @ factor(np.ones(6)), np.ones(6), atol=1e-12)
    singular = A.data.copy()
    singular[:] = 0.0  # the zero matrix
    with pytest.raises(ForwardSolveError):
        bound.factorize(singular)(np.ones(6))


def test_an_iterative_solve_that_does_not_converge_is_a_forward_solve_error(domain, design):
    G = fem.DarcyMap(domain, design, solver=fem.PETScSolver("cg", "jacobi", rtol=1e-14,
                                                            max_it=2))
    with pytest.raises(ForwardSolveError, match=r"PETSc cg/jacobi solve failed: DIVERGED_MAX_IT"):
        G(np.zeros(G.input_dim))


def test_petsc_options_reach_the_ksp(domain, design, rng):
    theta = rng.standard_normal(domain.parameter_space.num_dofs)
    G = fem.DarcyMap(domain, design, solver=fem.PETScSolver(
        "gmres", "ilu", options={"ksp_gmres_restart": 5, "ksp_rtol": 1e-13}))
    np.testing.assert_allclose(G(theta), fem.DarcyMap(domain, design)(theta), rtol=1e-9)


def test_identity_link_rejects_non_positive_coefficients_and_chains_survive(domain, design):
    G = fem.DarcyMap(domain, design, link="identity")
    theta = np.ones(G.input_dim)
    theta[7] = -0.1
    with pytest.raises(ForwardSolveError, match=r"identity link needs f = θ > 0.*node 7"):
        G(theta)
    # inside a posterior: a failed evaluation, not an exception
    prior = bayesinv.GaussianPrior(0.5 * np.eye(G.input_dim), mean=1.0)
    like = bayesinv.GaussianLikelihood(G, G(np.ones(G.input_dim)), noise_std=0.1)
    post = bayesinv.Posterior(prior, like)
    xi = np.zeros(G.input_dim)
    xi[7] = -3.0  # θ_7 = 1 − 1.5 < 0
    ev = post.whitened.evaluate(xi, grad=True)
    assert ev.logdensity == -np.inf and "identity link" in ev.failure
    # pCN with a large step: most proposals have some θ_k < 0, and are rejected, not fatal
    idata = bayesinv.sample(post, "pcn", beta=0.9, draws=5, chains=1, seed=1,
                            init=np.zeros(G.input_dim), progress=False, diagnostics=False)
    assert idata.posterior["xi"].shape == (1, 5, G.input_dim)
    assert (idata.sample_stats["acceptance_rate"].values == 0).sum() >= 3
    # counters: a proposal rejected by the link never reaches a solve
    assert 1 <= idata.attrs["num_forward_solves"] <= 6
    assert idata.attrs["num_tangent_solves"] == idata.attrs["num_adjoint_solves"] == 0


def test_heat_counts_one_trajectory_per_solve(domain, design, rng):
    G = fem.HeatForwardMap(domain, design, final_time=1.0, num_steps=4)
    theta = rng.standard_normal(G.input_dim)
    y, jvp, pullback = G.linearize(theta)
    pullback(y)
    jvp(theta)
    assert G.counts.as_dict() == {"forward": 1, "adjoint": 1, "tangent": 1}


# --- bad input --------------------------------------------------------------------------------

def heat(domain, design, **kwargs):
    kw = {"final_time": 1.0, "num_steps": 4}
    kw.update(kwargs)
    return fem.HeatForwardMap(domain, design, **kw)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"final_time": 0.0}, "final_time must be > 0"),
    ({"final_time": -1.0}, "final_time must be > 0"),
    ({"num_steps": None, "time_step": 0.0}, "time_step must be > 0"),
    ({"num_steps": None, "time_step": -0.1}, "time_step must be > 0"),
    ({"num_steps": 0}, "num_steps must be >= 1"),
    ({"time_step": 0.1}, "give exactly one of time_step"),
    ({"num_steps": None}, "give exactly one of time_step"),
    ({"observation_times": [0.0, 0.5]}, r"observation_times must lie in \(0, T\]"),
    ({"observation_times": [0.5, 1.2]}, r"\(0, 1\]; got \[1.2\]"),
    ({"observation_times": [-0.3]}, "observation_times must lie in"),
    ({"observation_times": []}, "non-empty 1-d array"),
    ({"scheme": "leapfrog"}, r"scheme must be one of \['backward_euler', 'crank_nicolson'\]"),
    ({"link": "cubic"}, "link must be one of"),
    ({"degree": 3}, "degree must be 1 or 2"),
])
def test_heat_bad_arguments(domain, design, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        heat(domain, design, **kwargs)


def test_heat_time_grid_and_observation_interpolation(domain, design, rng):
    G = heat(domain, design, num_steps=None, time_step=0.3, observation_times=[0.25, 1.0])
    assert G.num_steps == 4 and G.time_step == pytest.approx(0.25)
    # an observation time between two levels is the linear interpolant of the levels
    G2 = heat(domain, design, observation_times=[0.25, 0.375, 0.5])
    theta = rng.standard_normal(G2.input_dim)
    y = G2(theta).reshape(3, -1)
    np.testing.assert_allclose(y[1], 0.5 * (y[0] + y[2]), atol=1e-14)


def test_elliptic_bad_arguments(domain, design):
    with pytest.raises(InvalidArgumentError, match=r"coefficient_term must be one of"):
        fem.EllipticForwardMap(domain, design, coefficient_term="cubic", base_stiffness=1.0,
                               source_scale=1.0)
    with pytest.raises(InvalidArgumentError, match="design must be points of shape"):
        fem.DarcyMap(domain, "volume")
    with pytest.raises(InvalidArgumentError, match="solver must be one of"):
        fem.DarcyMap(domain, design, solver="magic")
    with pytest.raises(InvalidArgumentError, match="pc_type must be 'cholesky' or 'lu'"):
        fem.PETScSolver("preonly", "gamg")
    with pytest.raises(InvalidArgumentError, match="mode must be one of"):
        CholmodSolver(mode="fast")


def test_link_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="f_min must be > 0"):
        RegularLink(f_min=0.0)
    with pytest.raises(InvalidArgumentError, match="f_min must be > 0"):
        RegularLink(f_min=-0.5)
    with pytest.raises(InvalidArgumentError, match="f_min must be a finite number >= 0"):
        ExpLink(f_min=-1.0)
    assert ExpLink(f_min=1.0)(np.zeros(3)) == pytest.approx(2.0)


def test_parameter_of_another_mesh_is_rejected(domain, design):
    G = fem.DarcyMap(domain, design)
    other = fem.unit_square(12).parameter_space.num_dofs
    with pytest.raises(InvalidArgumentError, match=r"theta must have shape \(121,\).*\(169,\)"):
        G(np.zeros(other))
    with pytest.raises(InvalidArgumentError, match=r"theta must have shape \(121,\)"):
        heat(domain, design)(np.zeros(other))


@pytest.mark.parametrize("name", ["cholmod", "petsc", "superlu"])
def test_plain_factorize_protocol_solves(name):
    """Each named solver's ``factorize(A)`` (the simple protocol) solves A x = b, also for a
    matrix with unsorted indices and for a second pattern of the same size."""
    from bayesinv.fem.solvers import make_solver

    solver = make_solver(name)
    rng = np.random.default_rng(0)
    for shift in (4.0, 5.0):
        A = sp.diags([-1.0, shift, -1.0], [-1, 0, 1], shape=(30, 30)).tocsr()
        A = A + sp.csr_matrix(([0.5, 0.5], ([0, 29], [29, 0])), shape=(30, 30))
        for i in range(30):  # reverse each row's entries: indices not sorted
            row = slice(A.indptr[i], A.indptr[i + 1])
            A.indices[row], A.data[row] = A.indices[row][::-1].copy(), A.data[row][::-1].copy()
        A.has_sorted_indices = False
        assert not A.has_sorted_indices
        b = rng.standard_normal(30)
        x = solver.factorize(A)(b)
        np.testing.assert_allclose(A @ x, b, atol=1e-12)


def test_gradient_with_shifted_exp_link_keeps_tiny_derivatives(domain, design):
    """With f = 1 + e^θ, Φ'(θ) = e^θ must not be recovered as f − 1 (which is 0 for θ ≲ −37).
    At θ = −40, f = 1 to double precision, as for f = e^θ at θ = 0, so the gradient is exactly
    e^−40 times that one."""
    w = np.ones(design.shape[0])
    shifted = fem.DarcyMap(domain, design, link=ExpLink(f_min=1.0))
    grad = shifted.value_and_pullback(np.full(shifted.input_dim, -40.0))[1](w)
    plain = fem.DarcyMap(domain, design, link=ExpLink())
    reference = plain.value_and_pullback(np.zeros(plain.input_dim))[1](w)
    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(grad, np.exp(-40.0) * reference, rtol=1e-10,
                               atol=1e-12 * np.exp(-40.0) * np.abs(reference).max())


def test_one_solver_factory_names_its_choices_and_passes_objects_through():
    import bayesinv.linalg
    from bayesinv.fem.solvers import SOLVERS, PETScSolver, make_solver

    assert not hasattr(bayesinv.linalg, "make_solver")  # one factory, in fem.solvers
    assert isinstance(make_solver(None), PETScSolver)
    assert sorted(SOLVERS) == ["cholmod", "petsc", "superlu"]
    custom = PETScSolver(ksp_type="cg", pc_type="icc")
    assert make_solver(custom) is custom
    with pytest.raises(InvalidArgumentError,
                       match=r"solver must be one of \['cholmod', 'petsc', 'superlu'\] or an "
                             r"object with factorize\(A\), got 'mumps'"):
        make_solver("mumps")
    with pytest.raises(InvalidArgumentError, match="solver must have a factorize"):
        make_solver(42)
