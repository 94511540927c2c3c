"""One storage interface (:mod:`bayesinv.samplers.storage`), every implementation through the
same suite: in memory, streamed, checkpointed, checkpointed and streamed. Whatever the storage,
``sample()`` returns the same draws bit for bit (the same computation; only where the draws
are kept differs), and a resumable storage resumes an interrupted run bit for bit. Also the
grouped options ``Tuning`` and ``Persistence`` of ``sample()``."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from bayesinv.errors import InvalidArgumentError, SamplingInterrupted
from bayesinv.samplers import runner
from bayesinv.samplers.driver import sample
from bayesinv.samplers.options import Persistence, Tuning
from bayesinv.samplers.storage import Checkpointed, DrawStream, InMemory, Streaming
from bayesinv.testing import linear_gaussian

KINDS = ["memory", "stream", "checkpoint", "checkpoint+stream"]
KW = {"draws": 40, "warmup": 15, "thin": 2, "chains": 2, "seed": 13, "diagnostics": False}


@pytest.fixture(scope="module")
def problem():
    return linear_gaussian(dim=5, num_observations=4, noise_std=0.3, seed=2)


def _persistence(kind, tmp_path, **kw) -> Persistence:
    opts = {}
    if "stream" in kind:
        opts.update(stream=tmp_path / "parts", stream_every=7)
    if "checkpoint" in kind:
        opts.update(checkpoint=tmp_path / "run.ckpt", **kw)
    return Persistence(**opts)


def _assert_same_draws(a, b):
    for group in ("posterior", "sample_stats", "log_likelihood"):
        for var in a[group].data_vars:
            np.testing.assert_array_equal(a[group][var].values, b[group][var].values,
                                          err_msg=f"{group}/{var}")
    np.testing.assert_array_equal(a.posterior["draw"].values, b.posterior["draw"].values)


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def test_the_storage_of_the_options(kind, tmp_path):
    storage = _persistence(kind, tmp_path).storage()
    assert storage.resumable == ("checkpoint" in kind)
    inner = storage.draws if isinstance(storage, Checkpointed) else storage
    assert type(inner) is (Streaming if "stream" in kind else InMemory)
    assert (storage.streamed is None) == ("stream" not in kind)


@pytest.mark.parametrize("loop", ["compiled", "interpreted"])
def test_every_storage_returns_the_in_memory_draws(kind, loop, problem, tmp_path,
                                                   monkeypatch):
    """Blocks of 9 steps: several flushes, stream parts and checkpoints during the run."""
    reference = sample(problem.posterior, "mala", loop=loop, **KW)
    monkeypatch.setattr(runner.ChainRunner, "block_steps", 9)
    got = sample(problem.posterior, "mala", loop=loop,
                 persistence=_persistence(kind, tmp_path, checkpoint_interval=1e-9), **KW)
    _assert_same_draws(got, reference)
    if "stream" in kind:
        firsts = [first for first, _ in DrawStream(tmp_path / "parts").parts()]
        assert firsts[0] == 0 and all(np.diff(firsts) > 0) and all(np.diff(firsts) <= 7)
        if "checkpoint" not in kind:  # (a checkpoint also writes the draws buffered so far)
            assert firsts == list(range(0, KW["draws"], 7))
    assert (tmp_path / "run.ckpt").exists() == ("checkpoint" in kind)


def test_every_storage_interrupted_then_called_again(kind, problem, tmp_path, monkeypatch,
                                                     sigterm_after_first_checkpoint):
    """SIGTERM during the run: a resumable storage stops with a checkpoint and the next call
    resumes it to the uninterrupted draws; the others do not install the handler (the signal
    is then the caller's business, here ignored) and run to the end."""
    reference = sample(problem.posterior, "pcn", **KW)
    persistence = _persistence(kind, tmp_path, checkpoint_interval=1e-9)
    old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with monkeypatch.context() as m:
            m.setattr(runner.ChainRunner, "block_steps", 11)
            sigterm_after_first_checkpoint(m)
            if persistence.checkpoint is not None:
                with pytest.raises(SamplingInterrupted) as info:
                    sample(problem.posterior, "pcn", persistence=persistence, **KW)
                assert info.value.iteration == 11
            else:
                first = sample(problem.posterior, "pcn", persistence=persistence, **KW)
                _assert_same_draws(first, reference)
        again = sample(problem.posterior, "pcn", persistence=persistence, **KW)
    finally:
        signal.signal(signal.SIGTERM, old)
    _assert_same_draws(again, reference)


# -- grouped options ---------------------------------------------------------------------------

def test_grouped_options_are_the_keyword_arguments(problem, tmp_path):
    kw = {"draws": 20, "warmup": 10, "chains": 2, "seed": 3, "diagnostics": False}
    loose = sample(problem.posterior, "mala", step_size=0.05, adapt=True, target_accept=0.6,
                   stream=tmp_path / "a", stream_every=6, **kw)
    grouped = sample(problem.posterior, "mala",
                     tuning=Tuning(step_size=0.05, adapt=True, target_accept=0.6),
                     persistence=Persistence(stream=tmp_path / "b", stream_every=6), **kw)
    _assert_same_draws(loose, grouped)
    assert loose.attrs["target_accept"] == grouped.attrs["target_accept"] == 0.6


@pytest.mark.parametrize("loose, group", [
    ({"step_size": 0.1}, {"tuning": Tuning(step_size=0.2)}),
    ({"beta": 0.3}, {"tuning": Tuning(adapt=False)}),
    ({"stream": "x"}, {"persistence": Persistence(checkpoint="y")}),
])
def test_an_option_given_both_ways_is_refused(problem, loose, group):
    name = next(iter(loose))
    with pytest.raises(InvalidArgumentError, match=f"{name} given both"):
        sample(problem.posterior, "pcn", draws=5, **loose, **group)


def test_bad_grouped_options_name_the_argument(problem):
    with pytest.raises(InvalidArgumentError, match="tuning must be"):
        sample(problem.posterior, "pcn", draws=5, tuning={"beta": 0.3})
    with pytest.raises(InvalidArgumentError, match="stream_every"):
        sample(problem.posterior, "pcn", draws=5, persistence=Persistence(stream_every=0))
    with pytest.raises(InvalidArgumentError, match="beta"):
        sample(problem.posterior, "pcn", draws=5, tuning=Tuning(beta=1.5))
