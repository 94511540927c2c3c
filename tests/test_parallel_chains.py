"""``sample(..., cores=N)``: chains in worker processes, bit-identical to the serial run.

Bit-identity here is exact equality of the same computation (the same kernels, the same
Generator streams, the same sparse factorisation code) run in a forked copy of this process,
so it does not depend on one CPU's round-off."""

from __future__ import annotations

import multiprocessing
import os
import signal

import numpy as np
import pytest

import bayesinv
from bayesinv.errors import (
    ChainWorkerError,
    ForwardSolveError,
    InvalidArgumentError,
    SamplingInterrupted,
)
from bayesinv.samplers import Persistence, runner
from bayesinv.samplers.parallel import available_cores
from bayesinv.testing import linear_gaussian

GROUPS = ("posterior", "sample_stats", "log_likelihood")


def _assert_identical(a, b):
    for group in GROUPS:
        for var in a[group].data_vars:
            np.testing.assert_array_equal(a[group][var].values, b[group][var].values,
                                          err_msg=f"{group}/{var}")
    for key in ("num_forward_solves", "num_adjoint_solves", "num_tangent_solves",
                "num_divergent", "step_size"):
        np.testing.assert_array_equal(a.attrs[key], b.attrs[key], err_msg=key)


def _in_worker() -> bool:
    return multiprocessing.parent_process() is not None


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("cores", [0, -2, 1.5, "2", True, None])
def test_bad_cores_are_refused_with_the_valid_range(cores):
    problem = linear_gaussian(dim=4, num_observations=3, seed=0)
    if cores is None:  # None is valid (the default); too many cores is not
        cores = available_cores() + 1
        match = f"cores={cores} is more than the {cores - 1} cores"
    else:
        match = "cores must be"
    with pytest.raises(InvalidArgumentError, match=match):
        bayesinv.sample(problem.posterior, "pcn", draws=5, cores=cores)


# -- a real FEM posterior ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def schrodinger():
    pytest.importorskip("bayesinv.fem")
    from bayesinv.testing.schrodinger import schrodinger_posterior

    return schrodinger_posterior(8, 20, 1e-2)


@pytest.mark.fem
@pytest.mark.slow
@pytest.mark.parametrize("method", ["pcn", "mala", "pcnl", "ula", "rwm"])
def test_fem_chains_on_two_cores_equal_the_serial_run(schrodinger, method):
    """3 chains on 2 workers (uneven split), adapted or curvature-tuned parameter, thinning."""
    kw = {"draws": 15, "warmup": 10, "thin": 2, "chains": 3, "seed": 11, "diagnostics": False}
    serial = bayesinv.sample(schrodinger, method, **kw)
    parallel = bayesinv.sample(schrodinger, method, cores=2, **kw)
    _assert_identical(serial, parallel)
    steps = kw["warmup"] + kw["draws"] * kw["thin"]
    assert parallel.attrs["num_forward_solves"] == 3 * (steps + 1)  # summed over workers
    if method in ("mala", "pcnl", "ula"):
        assert parallel.attrs["num_adjoint_solves"] == 3 * (steps + 1)


# -- failures inside workers ------------------------------------------------------------------

class _FailsAbove(bayesinv.LinearForwardMap):
    """A linear map whose solve fails for θ₀ > 0.3 (as a PDE solve fails for bad θ)."""

    def linearize(self, theta):
        if theta[0] > 0.3:
            raise ForwardSolveError("θ₀ > 0.3: no solution")
        return super().linearize(theta)


class _Crashes(bayesinv.LinearForwardMap):
    """A linear map that ends its worker process (``how``) at its ``at``-th solve there."""

    how = "exit"
    at = 5

    def linearize(self, theta):
        if _in_worker() and self.counts.forward == self.at:
            if self.how == "exit":
                os._exit(7)
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("a bug in the user's forward map")
        return super().linearize(theta)


def _posterior_with(map_class):
    problem = linear_gaussian(dim=6, num_observations=4, noise_std=0.3, seed=5)
    forward = map_class(problem.forward.matrix)
    return bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        forward, problem.data, problem.noise_std))


@pytest.mark.parametrize("method", ["pcn", "mala"])
def test_a_failing_solve_in_a_worker_is_a_rejection_not_a_lost_chain(method):
    post = _posterior_with(_FailsAbove)
    kw = {"draws": 200, "warmup": 50, "chains": 4, "seed": 2, "loop": "interpreted",
          "diagnostics": False, "init": np.zeros(6)}
    serial = bayesinv.sample(post, method, **kw)
    parallel = bayesinv.sample(post, method, cores=2, **kw)
    _assert_identical(serial, parallel)
    assert parallel.posterior.sizes["draw"] == 200
    assert parallel.sample_stats["diverging"].values.sum(axis=1).min() > 0  # every chain
    theta0 = parallel.posterior["theta"].values[..., 0]
    assert theta0.max() <= 0.3  # never accepted beyond the failure


@pytest.mark.parametrize(("how", "match"), [
    ("exit", r"worker process \d/2 \(pid \d+\) running chains \[\d, \d\] exited with code 7"),
    ("kill", r"running chains \[\d, \d\] was killed by signal SIGKILL"),
])
def test_a_worker_that_dies_is_a_clear_error(monkeypatch, how, match):
    monkeypatch.setattr(_Crashes, "how", how)
    post = _posterior_with(_Crashes)
    with pytest.raises(ChainWorkerError, match=match):
        bayesinv.sample(post, "pcn", beta=0.3, draws=50, chains=4, seed=1,
                        loop="interpreted", cores=2, diagnostics=False)
    assert not multiprocessing.active_children()  # the other worker was stopped too


def test_an_exception_in_a_worker_is_raised_with_its_traceback(monkeypatch):
    monkeypatch.setattr(_Crashes, "how", "raise")
    post = _posterior_with(_Crashes)
    with pytest.raises(RuntimeError, match="a bug in the user's forward map") as info:
        bayesinv.sample(post, "pcn", beta=0.3, draws=50, chains=2, seed=1,
                        loop="interpreted", cores=2, diagnostics=False)
    cause = info.value.__cause__
    assert isinstance(cause, ChainWorkerError) and "in linearize" in str(cause)
    assert not multiprocessing.active_children()


# -- checkpoints, streams, SIGTERM ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("resume_cores", [1, 2])
def test_checkpointed_run_on_two_cores_resumes_bit_identically(tmp_path, monkeypatch,
                                                                resume_cores,
                                                                sigterm_after_first_checkpoint):
    post = _posterior_with(_FailsAbove)
    kw = {"draws": 300, "warmup": 100, "thin": 2, "chains": 3, "seed": 9,
          "loop": "interpreted", "diagnostics": False, "init": np.zeros(6)}
    path, parts = tmp_path / "run.ckpt", tmp_path / "parts"
    with monkeypatch.context() as m:
        m.setattr(runner.ChainRunner, "block_steps", 70)
        sigterm_after_first_checkpoint(m, workers=True)
        with pytest.raises(SamplingInterrupted) as info:
            bayesinv.sample(post, "mala", cores=2, persistence=Persistence(
                checkpoint=path, checkpoint_interval=1e-9, stream=parts, stream_every=40),
                **kw)
    assert info.value.iteration == 70  # the block that wrote the first checkpoint
    resumed = bayesinv.sample(post, "mala", cores=resume_cores, persistence=Persistence(
        checkpoint=path, stream=parts, stream_every=40), **kw)
    reference = bayesinv.sample(post, "mala", **kw)
    _assert_identical(resumed, reference)


def test_compiled_loop_cores_are_threads_with_the_same_draws():
    problem = linear_gaussian(dim=8, num_observations=5, seed=1)
    kw = {"draws": 500, "warmup": 100, "chains": 3, "seed": 4, "diagnostics": False}
    one = bayesinv.sample(problem.posterior, "mala", cores=1, **kw)
    two = bayesinv.sample(problem.posterior, "mala", cores=2, **kw)
    assert one.attrs["loop"] == "compiled"
    _assert_identical(one, two)
