"""One storage interface (:mod:`bayesinv.samplers.storage`), every implementation through the
same suite: in memory, streamed, checkpointed, checkpointed and streamed. Whatever the storage,
``sample()`` returns the same draws bit for bit (the same computation; only where the draws
are kept differs), and a resumable storage resumes an interrupted run bit for bit. Also the
grouped options ``Tuning`` and ``Persistence`` of ``sample()``: the only spelling of their
options (the former single keyword arguments are refused, naming it)."""

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

def test_grouped_options_reach_the_sampler_and_the_storage(problem, tmp_path):
    """``tuning=Tuning(...)`` sets the adaptation (its target recorded, the draws those of
    that target), ``persistence=Persistence(...)`` the storage (parts of ``stream_every``
    draws), which leaves the draws as in memory."""
    kw = {"draws": 20, "warmup": 10, "chains": 2, "seed": 3, "diagnostics": False}
    in_memory = sample(problem.posterior, "mala", step_size=0.05,
                       tuning=Tuning(adapt=True, target_accept=0.6), **kw)
    grouped = sample(problem.posterior, "mala", step_size=0.05,
                     tuning=Tuning(adapt=True, target_accept=0.6),
                     persistence=Persistence(stream=tmp_path / "b", stream_every=6), **kw)
    _assert_same_draws(in_memory, grouped)
    assert in_memory.attrs["target_accept"] == grouped.attrs["target_accept"] == 0.6
    assert [first for first, _ in DrawStream(tmp_path / "b").parts()] == [0, 6, 12, 18]
    default_target = sample(problem.posterior, "mala", step_size=0.05,
                            tuning=Tuning(adapt=True), **kw)
    assert default_target.attrs["target_accept"] == 0.574
    assert not np.array_equal(default_target.posterior["xi"].values,
                              grouped.posterior["xi"].values)


MOVED = {"adapt": ("tuning", "Tuning", True), "target_accept": ("tuning", "Tuning", 0.6),
         "safety_factor": ("tuning", "Tuning", 0.2),
         "curvature_iterations": ("tuning", "Tuning", 5),
         "max_divergences": ("tuning", "Tuning", 3),
         "checkpoint": ("persistence", "Persistence", "run.ckpt"),
         "checkpoint_interval": ("persistence", "Persistence", 10.0),
         "stream": ("persistence", "Persistence", "parts"),
         "stream_every": ("persistence", "Persistence", 10)}


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_former_keyword_names_its_group(problem, name, tmp_path, monkeypatch):
    """Each option has one spelling: the former single keyword arguments are refused before
    anything runs (nothing written), naming the new spelling; the option given there works."""
    group, cls, value = MOVED[name]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError,
                       match=rf"^{name}= is given as {group}={cls}\({name}=\.\.\.\)"):
        sample(problem.posterior, "pcn", beta=0.5, draws=5, warmup=5, **{name: value})
    assert list(tmp_path.iterdir()) == []
    options = {"tuning": Tuning, "persistence": Persistence}[group](**{name: value})
    sample(problem.posterior, "pcn", beta=0.5, draws=5, warmup=5, diagnostics=False,
           **{group: options})


def test_several_former_keywords_are_named_together(problem):
    with pytest.raises(InvalidArgumentError, match=r"target_accept= is given as tuning=Tuning"
                       r"\(target_accept=\.\.\.\); stream= is given as persistence="):
        sample(problem.posterior, "pcn", target_accept=0.3, stream="x")


def test_an_unknown_keyword_is_the_type_error_python_gives(problem):
    with pytest.raises(TypeError, match=r"^sample\(\) got an unexpected keyword argument "
                                        r"'step'$"):
        sample(problem.posterior, "pcn", beta=0.5, step=0.1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'stream_dir'"):
        sample(problem.posterior, "pcn", beta=0.5, stream_dir="x", target_accept=0.3)


def test_the_scale_parameter_has_one_spelling():
    """``step_size`` and ``beta`` are keywords of ``sample()`` only, not fields of Tuning."""
    for name in ("step_size", "beta"):
        with pytest.raises(TypeError, match=name):
            Tuning(**{name: 0.1})


def test_sample_stays_small():
    """At most 20 parameters (posterior, method and 18 keywords; the ``**moved`` catch-all
    only refuses): the tuning and persistence options stay in their groups."""
    import inspect

    params = inspect.signature(sample).parameters
    named = [p for p in params.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    assert len(named) <= 20, [p.name for p in named]
    assert not set(params) & set(MOVED)
    assert {"step_size", "beta", "tuning", "persistence"} <= set(params)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in named[2:])


def test_the_annotated_choices_are_the_samplers():
    """The ``Literal`` annotations of ``loop``, ``init`` and ``preconditioner`` list exactly
    the named values the sampler accepts (LOOPS, INITS, PRECONDITIONERS)."""
    import typing

    from numpy.typing import ArrayLike

    from bayesinv.arviz_io import az
    from bayesinv.optimize import MAPResult
    from bayesinv.samplers import INITS, LOOPS, PRECONDITIONERS

    hints = typing.get_type_hints(sample, localns={"ArrayLike": ArrayLike,
                                                   "MAPResult": MAPResult, "arviz": az})

    def named(hint):
        members = [hint] if typing.get_origin(hint) is typing.Literal else typing.get_args(hint)
        return tuple(v for m in members if typing.get_origin(m) is typing.Literal
                     for v in typing.get_args(m))

    assert named(hints["loop"]) == LOOPS
    assert named(hints["init"]) == INITS
    assert named(hints["preconditioner"]) == PRECONDITIONERS


@pytest.mark.parametrize(("settings", "expected"), [
    ({"draws": 5, "target_accept": 0.6, "checkpoint_interval": 2.0},
     {"draws": 5, "tuning": Tuning(target_accept=0.6),
      "persistence": Persistence(checkpoint_interval=2.0)}),
    ({"step_size": 0.1, "max_divergences": 3, "safety_factor": 0.2},
     {"step_size": 0.1, "tuning": Tuning(max_divergences=3, safety_factor=0.2)}),
    ({"draws": 5, "tuning": Tuning(adapt=False)}, {"draws": 5, "tuning": Tuning(adapt=False)}),
])
def test_flat_settings_are_gathered_into_the_groups(settings, expected):
    from bayesinv.samplers.options import grouped_settings

    assert grouped_settings(settings) == expected


def test_flat_settings_and_their_group_together_are_refused():
    from bayesinv.samplers.options import grouped_settings

    with pytest.raises(InvalidArgumentError, match="target_accept given both as flat settings "
                                                   "and in tuning=Tuning"):
        grouped_settings({"target_accept": 0.5, "tuning": Tuning(adapt=True)})


def test_an_inference_spec_passes_flat_settings_grouped(problem, tmp_path):
    """A config's flat keys (``[inference.settings] target_accept``, the run's checkpoint)
    reach ``sample()`` through its groups: the same draws as the grouped call."""
    from bayesinv.synthetic import InferenceSpec

    kw = {"draws": 20, "warmup": 10, "chains": 2}
    spec = InferenceSpec("mala", {**kw, "step_size": 0.05, "adapt": True,
                                  "target_accept": 0.6})
    flat = spec.run(problem.posterior, 3, checkpoint=tmp_path / "c.ckpt",
                    checkpoint_interval=1e-9)
    grouped = sample(problem.posterior, "mala", seed=3, step_size=0.05, diagnostics=False,
                     tuning=Tuning(adapt=True, target_accept=0.6), **kw)
    _assert_same_draws(flat, grouped)
    assert flat.attrs["target_accept"] == 0.6 and (tmp_path / "c.ckpt").exists()


def test_bad_grouped_options_name_the_argument(problem):
    with pytest.raises(InvalidArgumentError, match="tuning must be"):
        sample(problem.posterior, "pcn", draws=5, tuning={"beta": 0.3})
    with pytest.raises(InvalidArgumentError, match="persistence must be"):
        sample(problem.posterior, "pcn", draws=5, persistence={"stream": "x"})
    with pytest.raises(InvalidArgumentError, match="stream_every"):
        sample(problem.posterior, "pcn", draws=5, persistence=Persistence(stream_every=0))
    with pytest.raises(InvalidArgumentError, match="beta"):
        sample(problem.posterior, "pcn", draws=5, beta=1.5)
    with pytest.raises(InvalidArgumentError, match="target_accept"):
        sample(problem.posterior, "pcn", draws=5, warmup=5, tuning=Tuning(target_accept=1.5))
