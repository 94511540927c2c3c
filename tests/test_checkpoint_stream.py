"""Checkpoint/resume (including a real SIGTERM to a real subprocess) and streaming to disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import bayesinv
from bayesinv.arviz_io import read_netcdf
from bayesinv.errors import InvalidArgumentError, SamplingInterrupted
from bayesinv.samplers import Persistence, runner
from bayesinv.samplers.driver import sample
from bayesinv.samplers.storage import DrawStream, read_stream
from bayesinv.testing import linear_gaussian

ROOT = Path(__file__).resolve().parents[1]


def _problem():
    return linear_gaussian(dim=12, num_observations=6, noise_std=0.3, seed=3)


def _assert_same_draws(a, b):
    for group, var in (("posterior", "xi"), ("posterior", "theta"), ("sample_stats", "lp"),
                       ("sample_stats", "acceptance_rate"), ("sample_stats", "diverging"),
                       ("sample_stats", "step_size"), ("log_likelihood", "y")):
        np.testing.assert_array_equal(a[group][var].values, b[group][var].values,
                                      err_msg=f"{group}/{var}")
    np.testing.assert_array_equal(a.posterior["draw"].values, b.posterior["draw"].values)


# Interpreted loop, adapted β, thinning: every piece of state a checkpoint must carry.
SUBPROCESS_KW = {"draws": 5_000, "warmup": 400, "thin": 2, "chains": 2, "seed": 7,
                 "loop": "interpreted", "diagnostics": False}

# The run is frozen at a fixed solve, deterministically: blocks of 100 steps per chain, so by
# solve 9000 (chain 2 at step ≈ 4500) the stream parts of draws 0–999 and 1000–1999 (written
# after the blocks ending at steps 2400 and 4400) exist. The map then writes a marker file and
# waits until the SIGTERM sent by the test has reached the sampler's handler.
SCRIPT = textwrap.dedent("""
    import signal
    import sys
    import time
    from pathlib import Path

    from bayesinv.errors import SamplingInterrupted
    from bayesinv.samplers.driver import sample
    from bayesinv.samplers.options import Persistence
    from bayesinv.samplers.runner import ChainRunner
    from bayesinv.testing import linear_gaussian

    FREEZE_AT = 9000


    problem = linear_gaussian(dim=12, num_observations=6, noise_std=0.3, seed=3)
    forward, linearize = problem.forward, problem.forward.linearize


    def linearize_or_wait(theta):
        if forward.counts.forward == FREEZE_AT:
            Path(sys.argv[3]).write_text("frozen")
            handler = signal.getsignal(signal.SIGTERM)
            deadline = time.monotonic() + 120
            while getattr(handler, "signal", None) is None and time.monotonic() < deadline:
                time.sleep(0.005)
        return linearize(theta)


    forward.linearize = linearize_or_wait  # the same map (its digest), frozen at one solve
    ChainRunner.block_steps = 100
    try:
        sample(problem.posterior, "pcn", persistence=Persistence(
            checkpoint=sys.argv[1], stream=sys.argv[2], checkpoint_interval=3600,
            stream_every=1000), **{kw})
    except SamplingInterrupted as exc:
        print("interrupted at", exc.iteration, flush=True)
        sys.exit(3)
    print("completed", flush=True)
""")


@pytest.mark.slow
def test_sigterm_to_a_real_process_then_resume_is_bit_identical(tmp_path):
    ckpt, stream, frozen = tmp_path / "run.ckpt", tmp_path / "stream", tmp_path / "frozen"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(kw=repr(SUBPROCESS_KW)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(stream), str(frozen)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a synchronisation
        while not frozen.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        # The stream is readable by ArviZ while the run is in progress.
        assert len(DrawStream(stream).parts()) >= 2
        live = read_stream(stream)
        first = read_netcdf(DrawStream(stream).parts()[0][1])
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, (out, err)
    assert "interrupted at" in out
    stopped_at = int(out.split()[-1])
    assert stopped_at == 4500  # the end of the block in which the signal arrived
    assert live.posterior["xi"].shape[1] >= 2000 and first.posterior["xi"].shape[0] == 2

    problem = _problem()
    resumed = sample(problem.posterior, "pcn", persistence=Persistence(checkpoint=ckpt,
                                                                      stream=stream),
                     **SUBPROCESS_KW)
    reference = sample(problem.posterior, "pcn", **SUBPROCESS_KW)
    _assert_same_draws(resumed, reference)
    np.testing.assert_array_equal(live.posterior["xi"].values,
                                  reference.posterior["xi"].values[:, :live.posterior.sizes[
                                      "draw"]])
    assert resumed.attrs["step_size"].tolist() == reference.attrs["step_size"].tolist()
    assert resumed.attrs["num_forward_solves"] == reference.attrs["num_forward_solves"]


@pytest.mark.slow
@pytest.mark.parametrize("reference_first", [True, False])
@pytest.mark.parametrize("stream", [False, True])
def test_compiled_run_interrupted_in_process_resumes_bit_identically(
        tmp_path, monkeypatch, stream, reference_first, sigterm_after_first_checkpoint):
    """Odd block and part sizes, θ from a dense prior factor, and the reference run before or
    after the interrupted one (the first run in a process pays the JIT time): θ, predictions
    and log-likelihoods must not depend on how the steps were grouped."""
    problem = _problem()
    assert isinstance(problem.prior.factor, np.ndarray)  # a dense factor: θ = m + Lξ by BLAS
    kw = {"draws": 30_000, "warmup": 1000, "thin": 2, "chains": 2, "seed": 8,
          "diagnostics": False}
    extra = {"stream": tmp_path / "parts", "stream_every": 999} if stream else {}
    path = tmp_path / "c.ckpt"

    def interrupted_then_resumed():
        with monkeypatch.context() as m:
            m.setattr(runner.ChainRunner, "block_steps", 777)
            sigterm_after_first_checkpoint(m)
            with pytest.raises(SamplingInterrupted, match="call sample\\(\\) again") as info:
                sample(problem.posterior, "mala", persistence=Persistence(
                    checkpoint=path, checkpoint_interval=1e-9, **extra), **kw)
        assert info.value.iteration == 777  # the signal came with the first checkpoint
        if stream:
            with pytest.raises(InvalidArgumentError, match="pass stream=<the same directory>"):
                sample(problem.posterior, "mala", persistence=Persistence(checkpoint=path),
                       **kw)
        return sample(problem.posterior, "mala",
                      persistence=Persistence(checkpoint=path, **extra), **kw)

    if reference_first:
        reference = sample(problem.posterior, "mala", **kw)
        resumed = interrupted_then_resumed()
    else:
        resumed = interrupted_then_resumed()
        reference = sample(problem.posterior, "mala", **kw)
    _assert_same_draws(resumed, reference)
    if stream:
        assert len(DrawStream(tmp_path / "parts").parts()) > 1


@pytest.mark.slow
def test_resuming_a_completed_run_returns_it_without_sampling(tmp_path):
    problem = _problem()
    kw = {"beta": 0.4, "draws": 300, "chains": 2, "seed": 1, "diagnostics": False,
          "persistence": Persistence(checkpoint=tmp_path / "done.ckpt")}
    first = sample(problem.posterior, "pcn", **kw)
    before = problem.forward.counts.forward
    again = sample(problem.posterior, "pcn", **kw)
    assert problem.forward.counts.forward == before
    _assert_same_draws(first, again)


def test_a_checkpoint_from_another_problem_or_sampler_is_refused(tmp_path):
    problem = _problem()
    path = tmp_path / "run.ckpt"
    kw = {"draws": 50, "chains": 2, "seed": 1, "diagnostics": False,
          "persistence": Persistence(checkpoint=path)}
    sample(problem.posterior, "pcn", beta=0.4, **kw)
    other = linear_gaussian(dim=12, num_observations=6, noise_std=0.3, seed=4)
    with pytest.raises(InvalidArgumentError, match="different problem"):
        sample(other.posterior, "pcn", beta=0.4, **kw)
    noisier = bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        problem.forward, problem.data, 0.31))
    with pytest.raises(InvalidArgumentError, match="different problem"):
        sample(noisier, "pcn", beta=0.4, **kw)
    for change in ({"beta": 0.5}, {"beta": 0.4, "seed": 2}):
        with pytest.raises(InvalidArgumentError, match="different sampler or settings"):
            sample(problem.posterior, "pcn", **{**kw, **change})
    with pytest.raises(InvalidArgumentError, match="different sampler or settings"):
        sample(problem.posterior, "rwm", step_size=0.4, **kw)


@pytest.mark.slow
def test_streamed_and_thinned_draws_equal_the_in_memory_run(tmp_path):
    problem = _problem()
    kw = {"draws": 230, "warmup": 20, "thin": 3, "chains": 3, "seed": 5, "diagnostics": False,
          "loop": "interpreted"}
    memory = sample(problem.posterior, "pcnl", **kw)
    streamed = sample(problem.posterior, "pcnl",
                      persistence=Persistence(stream=tmp_path / "s", stream_every=50), **kw)
    _assert_same_draws(memory, streamed)
    parts = DrawStream(tmp_path / "s").parts()
    assert [first for first, _ in parts] == [0, 50, 100, 150, 200]
    part = read_netcdf(parts[1][1])
    np.testing.assert_array_equal(part.posterior["xi"].values,
                                  memory.posterior["xi"].values[:, 50:100])
    np.testing.assert_array_equal(part.posterior["draw"].values, np.arange(50, 100))
    # thinning keeps every third step of an unthinned run
    full = sample(problem.posterior, "pcnl", **{**kw, "draws": 690, "thin": 1})
    np.testing.assert_array_equal(full.posterior["xi"].values[:, ::3],
                                  memory.posterior["xi"].values)


def test_read_stream_of_an_empty_directory(tmp_path):
    with pytest.raises(InvalidArgumentError, match="no streamed draws"):
        read_stream(tmp_path)


class _SignalsItself(bayesinv.LinearForwardMap):
    """A linear map that sends SIGTERM to its own process at its ``kill_at``-th solve."""

    kill_at = None

    def linearize(self, theta):
        if self.kill_at is not None and self.counts.forward == self.kill_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().linearize(theta)


@pytest.mark.slow
def test_interrupted_during_warmup_resumes_with_the_adaptation_state(tmp_path):
    """SIGTERM in the middle of warm-up: the dual-averaging state must be carried over."""
    problem = _problem()
    forward = _SignalsItself(problem.forward.matrix)
    post = bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
        forward, problem.data, problem.noise_std))
    kw = {"draws": 200, "warmup": 3000, "chains": 2, "seed": 4, "diagnostics": False}
    reference = sample(post, "pcnl", **kw)
    forward.counts.reset()
    forward.kill_at = 60
    with pytest.raises(SamplingInterrupted) as info:
        sample(post, "pcnl", persistence=Persistence(checkpoint=tmp_path / "w.ckpt"), **kw)
    assert 0 < info.value.iteration < 3000  # stopped inside warm-up
    forward.kill_at = None
    resumed = sample(post, "pcnl", persistence=Persistence(checkpoint=tmp_path / "w.ckpt"),
                     **kw)
    _assert_same_draws(resumed, reference)


class _Fingerprinted(bayesinv.LinearForwardMap):
    """The same matrix, told apart only by its ``fingerprint()`` (as two UFL residuals are)."""

    def __init__(self, matrix, tag):
        super().__init__(matrix)
        self.tag = tag

    def fingerprint(self):
        return f"residual {self.tag}"


def test_maps_with_different_fingerprints_never_resume_each_others_runs(tmp_path):
    problem = _problem()

    def posterior(tag):
        return bayesinv.Posterior(problem.prior, bayesinv.GaussianLikelihood(
            _Fingerprinted(problem.forward.matrix, tag), problem.data, problem.noise_std))

    kw = {"beta": 0.4, "draws": 50, "chains": 2, "seed": 1, "diagnostics": False,
          "persistence": Persistence(checkpoint=tmp_path / "run.ckpt")}
    sample(posterior("a"), "pcn", **kw)
    sample(posterior("a"), "pcn", **kw)  # the same map resumes (here: returns the run)
    with pytest.raises(InvalidArgumentError, match="different problem"):
        sample(posterior("b"), "pcn", **kw)
