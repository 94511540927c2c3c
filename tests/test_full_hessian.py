"""Full (second-order) Hessian actions: the forward maps' ``linearize_second_order`` contract,
:class:`bayesinv.lowrank.FullHessian`, and ``hessian="full"`` in ``low_rank_hessian`` and
``laplace``.

Taylor tests (the remainder of the gradient's first-order expansion with the Hessian action
decreases at rate 2 over 5 halvings), symmetry, full = Gauss–Newton at zero residual and ≠
otherwise, on the built-in affine maps (exp and regular links, two experiments), the heat map
(backward Euler, Crank–Nicolson) and on UFL
residuals (nonlinear, assembled, probed; parameter basis); the Laplace approximation with the
full Hessian at the MAP against a dense finite-difference Hessian; bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv.errors import BayesinvWarning, InvalidArgumentError
from bayesinv.forward.base import ForwardMap
from bayesinv.forward.linear import LinearForwardMap
from bayesinv.links import Link
from bayesinv.lowrank import FullHessian, GaussNewtonHessian, low_rank_hessian, randomized_eigh
from bayesinv.testing import linear_gaussian

fem = pytest.importorskip("bayesinv.fem")
import ufl  # noqa: E402

pytestmark = pytest.mark.fem

HALVINGS = 5


def nonlinear_residual(u, m, v):
    return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + u ** 3 * v - v) * ufl.dx


def exp_diffusion(u, m, v, g):
    """Linear in u, not affine in m (the "assembly" path); source from a coefficient."""
    return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v)) + m * m * u * v - g * v) * ufl.dx


def darcy_residual(u, m, v):
    return (m * ufl.inner(ufl.grad(u), ufl.grad(v)) + v) * ufl.dx


def _domain():
    return fem.unit_square(5)


def _design(dom):
    return fem.uniform_design(dom, 12, seed=1)


def _heat(dom, scheme, link):
    """Observation times off the time grid (interpolated levels), time-dependent data."""
    return fem.HeatForwardMap(
        dom, _design(dom), final_time=0.2, num_steps=5, observation_times=[0.05, 0.13, 0.2],
        scheme=scheme, initial_value=lambda x: np.sin(np.pi * x[0]) * x[1],
        source=lambda x, t: 1 + t * x[0], boundary_value=lambda x, t: t * x[1], link=link)


def _maps():
    """name -> factory of (forward map, expected path or None)."""
    zero = [fem.DirichletBC(0.0)]
    return {
        "schrodinger-exp": lambda d: fem.SchrodingerMap(d, _design(d), link="exp"),
        "darcy-regular-2exp": lambda d: fem.DarcyMap(
            d, _design(d), link="regular",
            experiments=[fem.Experiment(boundary_value=lambda x: x[0], source=1.0),
                         fem.Experiment(boundary_value=0.0, source=lambda x: 1 + x[1])]),
        "heat-cn-regular": lambda d: _heat(d, "crank_nicolson", "regular"),
        "heat-be-exp": lambda d: _heat(d, "backward_euler", "exp"),
        "ufl-nonlinear": lambda d: fem.VariationalForwardMap(
            nonlinear_residual, d, _design(d), bcs=zero, link="regular"),
        "ufl-assembled-2exp": lambda d: fem.VariationalForwardMap(
            exp_diffusion, d, _design(d), bcs=zero, coefficients={"g": 1.0},
            experiments=[{"g": 1.0}, {"g": lambda x: 1 + x[0]}]),
        "ufl-probed": lambda d: fem.VariationalForwardMap(
            darcy_residual, d, _design(d), bcs=zero, link="exp"),
    }


PATHS = {"ufl-nonlinear": "newton", "ufl-assembled-2exp": "assembly", "ufl-probed": "affine"}


def _remainders(G, theta, w, v, Hv):
    """|Jᵀ(θ + εv) w − Jᵀ(θ) w − ε H v| for ε = 0.1·2^{-i}."""
    g0 = G.value_and_pullback(theta)[1](w)
    eps = 0.1 * 0.5 ** np.arange(HALVINGS + 1)
    r = np.array([np.linalg.norm(G.value_and_pullback(theta + e * v)[1](w) - g0 - e * Hv)
                  for e in eps])
    return r, np.log2(r[:-1] / r[1:])


@pytest.mark.parametrize("name", sorted(_maps()))
def test_curvature_is_the_derivative_of_the_pullback(name, rng):
    """Taylor test of v ↦ Σ w_i ∇²G_i v (the link's Φ'' included), its symmetry and the fused
    Gauss–Newton term c JᵀJ v, on every kind of map."""
    G = _maps()[name](_domain())
    if name in PATHS:
        assert G.path == PATHS[name]
    assert G.has_second_order
    theta = 0.3 * rng.standard_normal(G.input_dim)
    w, v, u = (rng.standard_normal(G.output_dim), rng.standard_normal(G.input_dim),
               rng.standard_normal(G.input_dim))
    y, jvp, pullback, curvature = G.linearize_second_order(theta)
    np.testing.assert_array_equal(y, G(theta))
    H = curvature(w)
    Hv = H(v)
    r, rates = _remainders(G, theta, w, v, Hv)
    assert np.all(np.abs(rates - 2.0) <= 0.1), (r, rates)
    assert abs(u @ Hv - v @ H(u)) <= 1e-10 * abs(u @ Hv)
    c = 2.5
    fused = curvature(w, gn_scale=c)(v) - Hv
    expected = c * pullback(jvp(v))
    np.testing.assert_allclose(fused, expected, rtol=0, atol=1e-11 * np.abs(expected).max())


@pytest.mark.parametrize("link", ["exp", "regular", "identity", bayesinv.links.ExpLink(1.0),
                                  bayesinv.links.RegularLink(0.2)])
def test_links_second_derivatives_against_finite_differences(link):
    link = bayesinv.links.get_link(link)
    theta = np.linspace(0.1, 3.0, 12) * np.array([1, -1] * 6)
    h = 1e-5
    fd = (link.derivative(theta + h) - link.derivative(theta - h)) / (2 * h)
    np.testing.assert_allclose(link.second_derivative(theta), fd, rtol=1e-8, atol=1e-10)
    if isinstance(link, bayesinv.links.RegularLink):  # no overflow far out
        assert np.all(np.isfinite(link.second_derivative(np.array([-1e4, 1e4]))))


def test_curvature_with_a_parameter_basis(rng):
    dom = _domain()
    nodes = dom.space(1).coordinates
    E = np.column_stack([np.sin((j + 1) * np.pi * nodes[:, 0]) * np.cos(j * nodes[:, 1])
                         for j in range(4)])
    G = fem.VariationalForwardMap(nonlinear_residual, dom, _design(dom),
                                  parameter=fem.ParameterBasis(E), bcs=[fem.DirichletBC(0.0)],
                                  link="exp")
    theta = 0.3 * rng.standard_normal(4)
    w, v = rng.standard_normal(G.output_dim), rng.standard_normal(4)
    Hv = G.linearize_second_order(theta)[3](w)(v)
    r, rates = _remainders(G, theta, w, v, Hv)
    assert np.all(np.abs(rates - 2.0) <= 0.1), (r, rates)


def _posterior(G, dom, rng, *, sigma=0.01, exact=False):
    prior = bayesinv.WhittleMaternPrior.from_matern(dom, length_scale=0.4)
    xi_true = rng.standard_normal(prior.latent_dim)
    clean = G(prior.to_physical(xi_true))
    data = clean if exact else clean + sigma * rng.standard_normal(clean.shape)
    return bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, data, sigma)), xi_true


def _misfit_gradient(posterior, xi):
    ev = posterior.whitened.evaluate(xi, grad=True)
    return -(ev.grad + xi)


@pytest.mark.parametrize("name", ["schrodinger-exp", "heat-cn-regular", "ufl-nonlinear"])
def test_full_hessian_taylor_symmetry_and_gauss_newton(name, rng):
    """In whitened coordinates: Taylor test against the misfit gradient, ⟨u, Hv⟩ = ⟨Hu, v⟩,
    full ≠ GN with noisy data and full = GN where the data are G(θ) (zero residual)."""
    dom = _domain()
    G = _maps()[name](dom)
    post, xi_true = _posterior(G, dom, rng)
    xi = xi_true + 0.3 * rng.standard_normal(xi_true.shape)
    H = FullHessian(post, xi)
    v, u = rng.standard_normal((2, xi.shape[0]))
    Hv = H.matvec(v)
    g0 = _misfit_gradient(post, xi)
    eps = 0.05 * 0.5 ** np.arange(HALVINGS + 1)
    r = np.array([np.linalg.norm(_misfit_gradient(post, xi + e * v) - g0 - e * Hv)
                  for e in eps])
    rates = np.log2(r[:-1] / r[1:])
    assert np.all(np.abs(rates - 2.0) <= 0.1), (r, rates)
    assert abs(u @ Hv - v @ H.matvec(u)) <= 1e-10 * abs(u @ Hv)
    V = rng.standard_normal((xi.shape[0], 3))
    gn = GaussNewtonHessian(post, xi).matmat(V)
    full = H.matmat(V)
    assert np.abs(full - gn).max() > 1e-3 * np.abs(gn).max()
    exact_post, truth = _posterior(G, dom, np.random.default_rng(3), exact=True)
    np.testing.assert_allclose(FullHessian(exact_post, truth).matmat(V),
                               GaussNewtonHessian(exact_post, truth).matmat(V),
                               rtol=0, atol=1e-10 * np.abs(gn).max())


def test_full_hessian_shares_one_factorisation(rng):
    dom = _domain()
    G = fem.SchrodingerMap(dom, _design(dom))
    post, xi = _posterior(G, dom, rng)
    G.counts.reset()
    H = FullHessian(post, xi)
    H.matmat(rng.standard_normal((xi.shape[0], 4)))
    assert G.counts.as_dict() == {"forward": 1, "adjoint": 1 + 4, "tangent": 4}
    assert H.num_actions == 4


def test_linear_maps_have_zero_second_derivative(rng):
    problem = linear_gaussian(dim=8, num_observations=5, noise_std=0.1, seed=2)
    xi = rng.standard_normal(8)
    V = np.eye(8)
    dense = problem.precision_latent - np.eye(8)
    full = FullHessian(problem.posterior, xi).matmat(V)
    np.testing.assert_allclose(full, dense, rtol=0, atol=1e-10 * np.abs(dense).max())
    from bayesinv.xray import LineQuadrature, Lines, XRayTransform, disk_triangulation

    mesh = disk_triangulation(0.3)
    for G in (LinearForwardMap(rng.standard_normal((3, 4))),
              XRayTransform(LineQuadrature(Lines.grid(3, 2), mesh, 10))):
        p, n = G.input_dim, G.output_dim
        _, jvp, pullback, curvature = G.linearize_second_order(np.ones(p))
        v, w = rng.standard_normal(p), rng.standard_normal(n)
        assert np.all(curvature(w)(v) == 0.0)
        np.testing.assert_allclose(curvature(w, gn_scale=3.0)(v), 3.0 * pullback(jvp(v)),
                                   rtol=1e-14)


def test_laplace_full_at_the_map_matches_the_dense_finite_difference_hessian(rng):
    """At the MAP of a 36-dof Schrödinger posterior, the full-rank ``hessian="full"`` Laplace
    precision I + V Λ Vᵀ equals I + H₊, H the central-difference Hessian of the misfit (its
    negative eigenvalues, present at this MAP, dropped with a warning); the Gauss–Newton
    Laplace approximation differs from it."""
    dom = _domain()
    G = fem.SchrodingerMap(dom, _design(dom))
    post, _ = _posterior(G, dom, rng)
    xi = bayesinv.find_map(post, method="newton-cg").position
    k = xi.shape[0]
    eps = 1e-5
    dense = np.column_stack([(_misfit_gradient(post, xi + eps * e)
                              - _misfit_gradient(post, xi - eps * e)) / (2 * eps)
                             for e in np.eye(k)])
    dense = 0.5 * (dense + dense.T)
    lam, S = np.linalg.eigh(dense)
    assert lam.min() < -1e-3 * lam.max()  # the full Hessian is indefinite here
    positive = (S * np.maximum(lam, 0.0)) @ S.T
    with pytest.warns(BayesinvWarning, match="negative eigenvalue"):
        approx = bayesinv.laplace(post, map=xi, rank=k, hessian="full")
    assert (approx.values >= 0).all()
    precision = approx.precision_apply(np.eye(k))
    np.testing.assert_allclose(precision, np.eye(k) + positive, rtol=0,
                               atol=1e-6 * lam.max())
    gn = bayesinv.laplace(post, map=xi, rank=k)
    assert np.abs(gn.precision_apply(np.eye(k)) - precision).max() > 1e-3 * lam.max()


def test_low_rank_full_hessian_keeps_signs_ranked_by_magnitude():
    k = 60
    lam = np.concatenate([[50.0, -20.0, 8.0, -3.0], 1e-4 * np.ones(k - 4)])
    Q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((k, k)))
    A = (Q * lam) @ Q.T
    eig = randomized_eigh(lambda V: A @ V, k, threshold=1.0, initial_rank=6, indefinite=True)
    assert eig.converged
    np.testing.assert_allclose(eig.values, [50.0, 8.0, -3.0, -20.0], rtol=1e-8)
    psd = randomized_eigh(lambda V: A @ V, k, rank=2, oversampling=20)
    assert (psd.values >= 0).all()


class _FirstOrderOnly(ForwardMap):
    def __init__(self):
        super().__init__()
        self._inner = LinearForwardMap(np.eye(3))
        self.input_dim = self.output_dim = 3

    def linearize(self, theta):
        return self._inner.linearize(theta)


class _NoSecondDerivative(Link):
    name = "mine"

    def __call__(self, theta):
        return np.exp(theta)

    def derivative(self, theta):
        return np.exp(theta)


class _NonlinearLooking(bayesinv.GaussianPrior):
    is_linear = False


def test_bad_input_is_named():
    problem = linear_gaussian(dim=3, num_observations=3, noise_std=0.1, seed=1)
    with pytest.raises(InvalidArgumentError, match=r"hessian must be one of.*'newton'"):
        low_rank_hessian(problem.posterior, np.zeros(3), hessian="newton")
    with pytest.raises(InvalidArgumentError, match=r"hessian must be one of.*'exact'"):
        bayesinv.laplace(problem.posterior, map=np.zeros(3), hessian="exact")
    first = bayesinv.Posterior(bayesinv.GaussianPrior(np.eye(3)),
                               bayesinv.GaussianLikelihood(_FirstOrderOnly(), np.zeros(3), 0.1))
    with pytest.raises(InvalidArgumentError,
                       match='_FirstOrderOnly has none: use hessian="gauss-newton"'):
        bayesinv.laplace(first, map=np.zeros(3), hessian="full")
    with pytest.raises(TypeError, match="_FirstOrderOnly provides no second derivatives"):
        _FirstOrderOnly().linearize_second_order(np.zeros(3))
    assert bayesinv.laplace(first, map=np.zeros(3), rank=2).rank == 2  # GN still works
    nonlinear = bayesinv.Posterior(_NonlinearLooking(np.eye(3)), problem.likelihood)
    with pytest.raises(InvalidArgumentError, match="_NonlinearLooking is nonlinear"):
        FullHessian(nonlinear, np.zeros(3))
    from bayesinv.likelihoods import GaussianNoiseLikelihood
    other = bayesinv.Posterior(problem.prior, GaussianNoiseLikelihood(
        problem.forward, problem.likelihood.data, covariance=np.full(3, 0.01)))
    with pytest.raises(InvalidArgumentError, match="GaussianNoiseLikelihood"):
        FullHessian(other, np.zeros(3))
    with pytest.raises(InvalidArgumentError, match=r"v must have shape \(3,\)"):
        FullHessian(problem.posterior, np.zeros(3)).matvec(np.zeros(4))
    dom = fem.unit_square(3)
    G = fem.SchrodingerMap(dom, _design(dom), link=_NoSecondDerivative())
    curvature = G.linearize_second_order(np.zeros(G.input_dim))[3]
    with pytest.raises(InvalidArgumentError, match=r"link 'mine'.*no second_derivative"):
        curvature(np.ones(G.output_dim))
    with pytest.raises(InvalidArgumentError, match="w must have shape"):
        curvature(np.ones(G.output_dim + 1))


def test_full_hessian_benchmark_quick(tmp_path, load_script):
    """The benchmark script runs and writes its table (no timing asserted)."""
    import json

    report = load_script("benchmarks/full_hessian.py").main(
        ["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "full_hessian.json").read_text())
    assert len(saved["results"]) == len(report["results"]) == 3
    for row in report["results"]:
        assert row["solves_per_action_after_setup"]["gn"] == {"adjoint": 1.0, "tangent": 1.0}
        assert row["solves_per_action_after_setup"]["full"]["tangent"] == 1.0
    assert "| 8² | SchrodingerMap (fast affine) |" in (tmp_path / "full_hessian.md").read_text()
