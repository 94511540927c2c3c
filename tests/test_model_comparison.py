"""log_likelihood and posterior_predictive groups: az.loo, az.compare and az.plot_ppc on two
noise models; an interrupted Gibbs run resumes bit-identically."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import bayesinv
from bayesinv.arviz_io import az
from bayesinv.diagnostics.predictive import add_posterior_predictive
from bayesinv.errors import SamplingInterrupted
from bayesinv.hierarchical import ScaledPrior
from bayesinv.likelihoods import StudentTLikelihood, UnknownNoiseLikelihood
from bayesinv.samplers import Persistence, runner
from bayesinv.testing import linear_gaussian

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=4, num_observations=25, noise_std=0.3, seed=7)


def _gibbs(problem):
    return bayesinv.Posterior(ScaledPrior(problem.prior, 2.0, 1.0),
                              UnknownNoiseLikelihood(problem.forward, problem.data, 3.0, 0.2))


def _run(posterior, seed, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bayesinv.sample(posterior, "pcn", draws=400, warmup=200, chains=2, seed=seed,
                               diagnostics=False, **kw)


@pytest.mark.slow
def test_loo_compare_and_ppc_on_two_noise_models(problem):
    gibbs = _gibbs(problem)
    student = bayesinv.Posterior(problem.prior,
                                 StudentTLikelihood(problem.forward, problem.data, 4.0, 0.3))
    a, b = _run(gibbs, 1), _run(student, 2)
    assert {"sigma", "tau", "xi", "theta"} <= set(a.posterior.data_vars)
    for idata, posterior in ((a, gibbs), (b, student)):
        add_posterior_predictive(idata, posterior, seed=3, thin=4)
        assert idata.posterior_predictive["y"].shape == (2, 100, 25)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.isfinite(az.loo(idata).elpd_loo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare({"unknown sigma, tau": a, "student-t": b})
    assert len(table) == 2 and np.isfinite(table["elpd_loo"]).all()
    assert az.plot_ppc(a, num_pp_samples=20) is not None
    # replicates carry the drawn noise: their spread about the data is of the order of σ
    resid = a.posterior_predictive["y"].values - problem.data
    assert 0.2 < resid.std() < 1.0


def test_an_interrupted_gibbs_run_resumes_bit_identically(problem, tmp_path, monkeypatch,
                                                         sigterm_after_first_checkpoint):
    """SIGTERM right after the first checkpoint (as in test_checkpoint_stream): the resumed
    run's ξ, σ, τ, θ and log-likelihood equal an uninterrupted run's."""
    post = _gibbs(problem)
    full = _run(post, 5)
    path = tmp_path / "c.ckpt"
    with monkeypatch.context() as m:
        m.setattr(runner.ChainRunner, "block_steps", 137)
        sigterm_after_first_checkpoint(m)
        with pytest.raises(SamplingInterrupted):
            _run(post, 5, persistence=Persistence(checkpoint=path, checkpoint_interval=1e-9))
    resumed = _run(post, 5, persistence=Persistence(checkpoint=path))
    for name in ("xi", "sigma", "tau", "theta"):
        np.testing.assert_array_equal(resumed.posterior[name].values, full.posterior[name].values)
    np.testing.assert_array_equal(resumed.log_likelihood["y"].values,
                                  full.log_likelihood["y"].values)
