"""The typed contracts of bayesinv.protocols: every built-in forward map, prior, likelihood and
sampling method satisfies its Protocol, statically (mypy, signatures included) and at run time
(isinstance on instances); and what lacks a member does not."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import bayesinv
from bayesinv.forward import ForwardMap, LinearForwardMap
from bayesinv.likelihood import GaussianLikelihood, ThroughForwardMap
from bayesinv.likelihoods import (
    GaussianNoiseLikelihood,
    JointLikelihood,
    Likelihood,
    MarginalNoiseLikelihood,
    StackedForwardMap,
    StudentTLikelihood,
    UnknownNoiseLikelihood,
)
from bayesinv.posterior import Posterior
from bayesinv.priors import GaussianPrior, KernelPrior, MaternKernel, NeuralFieldPrior
from bayesinv.priors.base import WhitenedPrior
from bayesinv.protocols import (
    ForwardMapProtocol,
    KernelProtocol,
    LikelihoodProtocol,
    PriorProtocol,
)

ROOT = Path(__file__).resolve().parents[1]


def _import_package() -> None:
    """Import every module of bayesinv (the FEM layer only where dolfinx is installed)."""
    try:
        import dolfinx  # noqa: F401
        have_dolfinx = True
    except ImportError:
        have_dolfinx = False
    for info in pkgutil.walk_packages(bayesinv.__path__, "bayesinv."):
        name = info.name
        if name == "bayesinv.__main__" or (not have_dolfinx and name.startswith(
                ("bayesinv.fem", "bayesinv.experiments"))):
            continue
        importlib.import_module(name)


def _subclasses(base: type) -> list[type]:
    out, todo = [], [base]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("bayesinv") and "<locals>" not in cls.__qualname__:
            out.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(out), key=lambda c: (c.__module__, c.__qualname__))


def _builtin_classes() -> dict[str, list[type]]:
    """Each Protocol's built-in implementations, found in the imported package."""
    _import_package()
    from bayesinv.samplers.registry import METHODS

    likelihoods = [*_subclasses(ThroughForwardMap), JointLikelihood]
    # every class of the samplers package with both halves of a kernel (the sampling
    # methods, their low-rank variants, the Gibbs wrapper), the registry's included
    kernels = sorted({obj for name, module in sys.modules.items()
                      if name.startswith("bayesinv.samplers")
                      for obj in vars(module).values()
                      if isinstance(obj, type) and obj.__module__ == name
                      and callable(getattr(obj, "init", None))
                      and callable(getattr(obj, "step", None))},
                     key=lambda c: (c.__module__, c.__qualname__))
    assert set(METHODS.values()) <= set(kernels)
    return {"ForwardMapProtocol": _subclasses(ForwardMap),
            "PriorProtocol": _subclasses(WhitenedPrior),
            "LikelihoodProtocol": [c for c in likelihoods if c is not ThroughForwardMap],
            "KernelProtocol": kernels}


@pytest.mark.slow
def test_every_builtin_class_satisfies_its_protocol_statically(tmp_path, monkeypatch):
    """mypy checks each class against its Protocol (members and signatures): one function
    ``def f(x: Class) -> Protocol: return x`` per class; a class lacking the members (the
    control) must be the only error."""
    api = pytest.importorskip("mypy.api")
    monkeypatch.chdir(ROOT)  # mypy finds this checkout's bayesinv from the working directory
    classes = _builtin_classes()
    assert len(classes["ForwardMapProtocol"]) >= 4 and len(classes["PriorProtocol"]) >= 7
    assert len(classes["LikelihoodProtocol"]) >= 7 and len(classes["KernelProtocol"]) >= 10
    lines = ["from bayesinv.protocols import (ForwardMapProtocol, KernelProtocol,",
             "                                LikelihoodProtocol, PriorProtocol)"]
    for i, (protocol, members) in enumerate(classes.items()):
        for j, cls in enumerate(members):
            alias = f"C{i}_{j}"
            lines.append(f"from {cls.__module__} import {cls.__qualname__} as {alias}")
            lines.append(f"def check_{alias}(x: {alias}) -> {protocol}: return x")
    lines += ["class Control:", "    input_dim = 1",
              "def check_control(x: Control) -> ForwardMapProtocol: return x"]
    control_line = 1 + next(i for i, line in enumerate(lines) if "check_control" in line)
    source = tmp_path / "protocol_check.py"
    source.write_text("\n".join(lines) + "\n")
    stdout, stderr, _ = api.run([
        "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
        "--no-error-summary", "--hide-error-context", str(source)])
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, textwrap.indent(stdout + stderr, "  ")
    assert errors[0].startswith(f"{source}:{control_line}:"), errors[0]
    assert "ForwardMapProtocol" in errors[0]


class _PullbackOnly(ForwardMap):
    """G(θ) = tanh(θ) with a pullback and no tangent-linear map."""

    def __init__(self, n):
        super().__init__()
        self.input_dim = self.output_dim = n

    def value_and_pullback(self, theta):
        t = np.tanh(self._check_theta(theta))
        return t, lambda w: (1 - t**2) * self._check_output(w)


def test_instances_satisfy_their_protocols_at_runtime(rng):
    n = 5
    A = rng.standard_normal((n, n))
    maps = [LinearForwardMap(A), LinearForwardMap(sp.csr_matrix(A), offset=np.ones(n)),
            _PullbackOnly(n), StackedForwardMap([LinearForwardMap(A), _PullbackOnly(n)])]
    for G in maps:
        assert isinstance(G, ForwardMapProtocol), G
        y, pullback = G.value_and_pullback(np.zeros(n))
        assert y.shape == (G.output_dim,) and pullback(np.ones(G.output_dim)).shape == (n,)
    assert [G.has_jvp for G in maps] == [True, True, False, False]

    points = rng.uniform(size=(n, 2))
    priors = [GaussianPrior(np.eye(n)), KernelPrior(points, MaternKernel(1.5, 0.3)),
              NeuralFieldPrior(points, width=4, depth=1)]
    for prior in priors:
        assert isinstance(prior, PriorProtocol), prior
        assert prior.sample(rng).shape == (prior.dim,)

    G, data, cov = maps[0], rng.standard_normal(n), np.eye(n)
    likelihoods = [GaussianLikelihood(G, data, 0.1),
                   GaussianNoiseLikelihood(G, data, covariance=cov),
                   StudentTLikelihood(G, data, dof=3.0, scale=0.2),
                   MarginalNoiseLikelihood(G, data, a=2.0, b=0.1),
                   UnknownNoiseLikelihood(G, data, a=2.0, b=0.1),
                   JointLikelihood([GaussianLikelihood(G, data, 0.1),
                                    StudentTLikelihood(G, data, 4.0, 0.3)])]
    for like in likelihoods:
        assert isinstance(like, LikelihoodProtocol), like
        assert like.simulate_from_prediction(np.zeros(like.num_observations), rng).shape == (
            like.num_observations,)
    assert Likelihood is LikelihoodProtocol  # the name bayesinv.likelihoods has exported

    from bayesinv.samplers.registry import make_method

    target = Posterior(priors[0], likelihoods[0]).whitened
    for name in ("ula", "pula", "mala", "pcn", "pcnl", "rwm"):
        assert isinstance(make_method(name, target), KernelProtocol), name


def test_what_lacks_a_member_is_not_an_instance():
    class NoPullback:
        input_dim = output_dim = 1
        counts = None
        has_jvp = False

        def __call__(self, theta):
            return theta

    class NoStep:
        def init(self, position):
            return position

    assert not isinstance(NoPullback(), ForwardMapProtocol)
    assert not isinstance(NoStep(), KernelProtocol)
    for protocol in (ForwardMapProtocol, PriorProtocol, LikelihoodProtocol, KernelProtocol):
        assert not isinstance(object(), protocol)


@pytest.mark.parametrize("check", ["positive_float", "nonnegative_float", "float_in_interval"])
def test_scalar_checks_refuse_an_int_beyond_the_float_range(check):
    """10**400 is a real number with no finite float value: a clear InvalidArgumentError
    naming the argument (not an OverflowError from the finiteness test)."""
    from bayesinv import _validation
    from bayesinv.errors import InvalidArgumentError

    fn = getattr(_validation, check)
    args = (0.0, 1.0) if check == "float_in_interval" else ()
    with pytest.raises(InvalidArgumentError, match=r"^step_size must"):
        fn("step_size", 10**400, *args)
    assert fn("step_size", 1, *args) == 1.0
