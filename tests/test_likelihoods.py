"""The likelihoods of bayesinv.likelihoods: values against scipy, Taylor tests of gradients
through a nonlinear forward map, leave-one-out pointwise values, joint data sets, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate, stats

import bayesinv
from bayesinv.errors import InvalidArgumentError
from bayesinv.forward import ForwardMap, LinearForwardMap
from bayesinv.likelihoods import (
    GaussianNoiseLikelihood,
    JointLikelihood,
    Likelihood,
    MarginalNoiseLikelihood,
    StudentTLikelihood,
    UnknownNoiseLikelihood,
)

N, P = 7, 4


class TanhMap(ForwardMap):
    """G(θ) = A tanh(θ) + c: a small nonlinear map with an exact pullback."""

    def __init__(self, A):
        super().__init__()
        self.A = np.asarray(A, float)
        self.output_dim, self.input_dim = self.A.shape

    def value_and_pullback(self, theta):
        theta = self._check_theta(theta)
        self.counts.forward += 1
        t = np.tanh(theta)

        def pullback(w):
            self.counts.adjoint += 1
            return (1 - t**2) * (self.A.T @ self._check_output(w))

        return self.A @ t + 0.3, pullback


@pytest.fixture
def setup(rng):
    A = rng.standard_normal((N, P))
    G = TanhMap(A)
    data = G(rng.standard_normal(P)) + 0.3 * rng.standard_normal(N)
    M = rng.standard_normal((N, N))
    cov = 0.05 * (M @ M.T / N + np.eye(N))
    return G, data, cov


def _taylor_rates(f, grad, x, h, eps0=0.1, n=6):
    eps = eps0 * 0.5 ** np.arange(n)
    f0, g = f(x), grad @ h
    r = np.array([abs(f(x + e * h) - f0 - e * g) for e in eps])
    return np.log2(r[:-1] / r[1:])


def _all(G, data, cov):
    return {
        "dense covariance": GaussianNoiseLikelihood(G, data, covariance=cov),
        "dense precision": GaussianNoiseLikelihood(G, data, precision=np.linalg.inv(cov)),
        "diagonal": GaussianNoiseLikelihood(G, data, covariance=np.diag(cov)),
        "sparse covariance": GaussianNoiseLikelihood(G, data, covariance=sp.csr_matrix(cov)),
        "sparse precision": GaussianNoiseLikelihood(
            G, data, precision=sp.csr_matrix(np.linalg.inv(cov))),
        "student-t": StudentTLikelihood(G, data, dof=3.0, scale=0.2),
        "marginal sigma": MarginalNoiseLikelihood(G, data, a=2.0, b=0.1),
        "unknown sigma": UnknownNoiseLikelihood(G, data, a=2.0, b=0.1, noise_std=0.25),
        "joint": JointLikelihood([StudentTLikelihood(G, data, 4.0, 0.3),
                                  GaussianNoiseLikelihood(G, data, covariance=cov)]),
    }


def test_every_likelihood_satisfies_the_contract_and_its_gradient_passes_taylor(setup, rng):
    """Second-order Taylor remainders (rate 2) of ℓ along random directions, gradients from
    the forward map's pullback."""
    G, data, cov = setup
    for name, like in _all(G, data, cov).items():
        assert isinstance(like, Likelihood), name
        theta = 0.5 * rng.standard_normal(P)
        value, grad = like.value_and_grad(theta)
        assert value == pytest.approx(like.logpdf(theta), rel=1e-12)
        rates = _taylor_rates(like.logpdf, grad, theta, rng.standard_normal(P))
        assert np.all(np.abs(rates - 2) < 0.2), (name, rates)
        y = like.simulate(theta, rng)
        assert y.shape == (N * (2 if name == "joint" else 1),) and np.isfinite(y).all()
        bayesinv.Posterior(bayesinv.GaussianPrior(np.eye(P)), like)  # accepted


def test_gaussian_noise_values_match_scipy_for_every_storage(setup, rng):
    G, data, cov = setup
    theta = rng.standard_normal(P)
    pred = G(theta)
    want = stats.multivariate_normal(pred, cov).logpdf(data)
    likes = _all(G, data, cov)
    for name in ("dense covariance", "dense precision", "sparse covariance", "sparse precision"):
        assert likes[name].logpdf(theta) == pytest.approx(want, rel=1e-10), name
    diag = np.diag(cov)
    assert likes["diagonal"].logpdf(theta) == pytest.approx(
        stats.norm(pred, np.sqrt(diag)).logpdf(data).sum(), rel=1e-12)
    np.testing.assert_allclose(likes["diagonal"].pointwise_logpdf(theta),
                               stats.norm(pred, np.sqrt(diag)).logpdf(data), rtol=1e-12)
    dense = likes["dense covariance"]
    np.testing.assert_allclose(np.sum(dense.whiten(data - pred) ** 2),
                               (data - pred) @ np.linalg.solve(cov, data - pred), rtol=1e-12)


def test_non_factorised_pointwise_values_are_the_leave_one_out_conditionals(setup, rng):
    """log p(Y_i | Y_{-i}, θ) = log p(Y | θ) − log p(Y_{-i} | θ), computed by dropping
    observation i from the model (Bürkner, Gabry & Vehtari 2021)."""
    G, data, cov = setup
    theta = rng.standard_normal(P)
    pred = G(theta)
    for name in ("dense covariance", "sparse precision"):
        pw = _all(G, data, cov)[name].pointwise_from_prediction(pred)
        full = stats.multivariate_normal(pred, cov).logpdf(data)
        for i in range(N):
            keep = np.arange(N) != i
            rest = stats.multivariate_normal(pred[keep], cov[np.ix_(keep, keep)]).logpdf(
                data[keep])
            assert pw[i] == pytest.approx(full - rest, rel=1e-9), (name, i)
    a, b = 2.0, 0.1
    marg = MarginalNoiseLikelihood(G, data, a, b)
    pw = marg.pointwise_from_prediction(pred)
    for i in range(N):
        keep = np.arange(N) != i
        rest = MarginalNoiseLikelihood(LinearForwardMap(np.zeros((N - 1, P))), data[keep], a, b)
        assert pw[i] == pytest.approx(
            marg.loglik_from_prediction(pred) - rest.loglik_from_prediction(pred[keep]),
            rel=1e-10)


def test_student_t_and_marginal_values(setup, rng):
    G, data, _ = setup
    theta = rng.standard_normal(P)
    pred = G(theta)
    st = StudentTLikelihood(G, data, dof=3.0, scale=0.2)
    assert st.logpdf(theta) == pytest.approx(
        stats.t(3.0, pred, 0.2).logpdf(data).sum(), rel=1e-12)
    a, b = 2.5, 0.2
    marg = MarginalNoiseLikelihood(G, data, a, b)
    want = stats.multivariate_t(pred, b / a * np.eye(N), df=2 * a).logpdf(data)
    assert marg.logpdf(theta) == pytest.approx(want, rel=1e-10)
    r2 = float((data - pred) @ (data - pred))

    def integrand(s2):  # ∫ N(Y; G, s2 I) InvGamma(s2; a, b) ds2
        return np.exp(-0.5 * r2 / s2 - 0.5 * N * np.log(2 * np.pi * s2)) * stats.invgamma.pdf(
            s2, a, scale=b)

    quad = integrate.quad(integrand, 0, np.inf, limit=200)[0]
    assert marg.logpdf(theta) == pytest.approx(np.log(quad), rel=1e-7)


def test_joint_likelihood_sums_values_gradients_and_solve_counts(setup, rng):
    G, data, cov = setup
    G2 = TanhMap(rng.standard_normal((3, P)))
    data2 = G2(np.zeros(P)) + 0.1 * rng.standard_normal(3)
    one = GaussianNoiseLikelihood(G, data, covariance=cov)
    two = StudentTLikelihood(G2, data2, 5.0, 0.1)
    joint = JointLikelihood([one, two])
    theta = rng.standard_normal(P)
    v, g = joint.value_and_grad(theta)
    assert v == pytest.approx(one.logpdf(theta) + two.logpdf(theta), rel=1e-12)
    np.testing.assert_allclose(g, one.value_and_grad(theta)[1] + two.value_and_grad(theta)[1],
                               rtol=1e-12)
    assert joint.num_observations == N + 3
    np.testing.assert_allclose(joint.pointwise_logpdf(theta),
                               np.r_[one.pointwise_logpdf(theta), two.pointwise_logpdf(theta)])
    before = (G.counts.forward + G2.counts.forward, G.counts.adjoint + G2.counts.adjoint)
    joint.value_and_grad(theta)
    assert joint.forward.counts.forward == before[0] + 2
    assert joint.forward.counts.adjoint == before[1] + 2
    assert joint.forward.counts.forward == G.counts.forward + G2.counts.forward


def test_gaussian_likelihood_unchanged_contract():
    p = bayesinv.testing.linear_gaussian(dim=3, num_observations=5, seed=2)
    like = p.likelihood
    assert isinstance(like, Likelihood)
    pred = p.forward(p.truth)
    y = like.simulate_from_prediction(pred, np.random.default_rng(0))
    z = np.random.default_rng(0).standard_normal(5)
    np.testing.assert_array_equal(y, pred + like.noise_std * z)


# -- bad input -------------------------------------------------------------------------------

def test_bad_covariances_are_refused(setup):
    G, data, cov = setup
    bad = cov.copy()
    bad[0, 0] = -1.0
    with pytest.raises(InvalidArgumentError, match="covariance must be positive definite"):
        GaussianNoiseLikelihood(G, data, covariance=bad)
    with pytest.raises(InvalidArgumentError, match="precision must be positive definite"):
        GaussianNoiseLikelihood(G, data, precision=sp.csr_matrix(bad))
    with pytest.raises(InvalidArgumentError, match=r"covariance must have shape \(7, 7\)"):
        GaussianNoiseLikelihood(G, data, covariance=np.eye(6))
    with pytest.raises(InvalidArgumentError, match=r"covariance must have shape \(7, 7\)"):
        GaussianNoiseLikelihood(G, data, covariance=sp.eye(8))
    with pytest.raises(InvalidArgumentError, match="covariance must have length 7"):
        GaussianNoiseLikelihood(G, data, covariance=np.ones(3))
    with pytest.raises(InvalidArgumentError, match="positive entries"):
        GaussianNoiseLikelihood(G, data, covariance=np.r_[np.ones(6), 0.0])
    asym = cov.copy()
    asym[0, 1] += 1.0
    with pytest.raises(InvalidArgumentError, match="symmetric"):
        GaussianNoiseLikelihood(G, data, covariance=sp.csr_matrix(asym))
    with pytest.raises(InvalidArgumentError, match="exactly one of covariance and precision"):
        GaussianNoiseLikelihood(G, data, covariance=cov, precision=cov)
    with pytest.raises(InvalidArgumentError, match="scalar"):
        GaussianNoiseLikelihood(G, data, covariance=0.1)


@pytest.mark.parametrize("dof", [0.0, -1.0, np.nan, np.inf])
def test_nonpositive_degrees_of_freedom_are_refused(setup, dof):
    G, data, _ = setup
    with pytest.raises(InvalidArgumentError, match="dof"):
        StudentTLikelihood(G, data, dof=dof, scale=1.0)


@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (1.0, -1.0), (np.nan, 1.0)])
def test_hyperprior_parameters_out_of_range_are_refused(setup, a, b):
    G, data, _ = setup
    for cls in (MarginalNoiseLikelihood, UnknownNoiseLikelihood):
        with pytest.raises(InvalidArgumentError, match="inverse-gamma"):
            cls(G, data, a, b)
    from bayesinv.hierarchical import ScaledPrior
    with pytest.raises(InvalidArgumentError, match="inverse-gamma"):
        ScaledPrior(bayesinv.GaussianPrior(np.eye(P)), a, b)


def test_data_that_do_not_match_their_maps_are_refused(setup, rng):
    G, data, cov = setup
    with pytest.raises(InvalidArgumentError, match="data must have length 7"):
        StudentTLikelihood(G, data[:-1], 3.0, 1.0)
    with pytest.raises(InvalidArgumentError, match="data must have length 7"):
        GaussianNoiseLikelihood(G, np.r_[data, 0.0], covariance=cov)
    other = TanhMap(rng.standard_normal((3, P + 1)))
    with pytest.raises(InvalidArgumentError, match="input dimensions are"):
        JointLikelihood([StudentTLikelihood(G, data, 3.0, 1.0),
                         StudentTLikelihood(other, np.zeros(3), 3.0, 1.0)])
    with pytest.raises(InvalidArgumentError, match=r"likelihoods\[1\] must be"):
        JointLikelihood([StudentTLikelihood(G, data, 3.0, 1.0), "not a likelihood"])
    with pytest.raises(InvalidArgumentError, match="likelihood must be a bayesinv likelihood"):
        bayesinv.Posterior(bayesinv.GaussianPrior(np.eye(P)), object())


def test_duplicate_hyperparameter_names_are_refused(setup):
    from bayesinv.samplers.gibbs import blocks_of
    G, data, _ = setup
    joint = JointLikelihood([UnknownNoiseLikelihood(G, data, 2.0, 0.1),
                             UnknownNoiseLikelihood(G, data, 2.0, 0.1)])
    post = bayesinv.Posterior(bayesinv.GaussianPrior(np.eye(P)), joint)
    with pytest.raises(InvalidArgumentError, match="distinct names"):
        blocks_of(post)
