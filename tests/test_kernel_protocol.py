"""The one kernel protocol (:mod:`bayesinv.samplers.kernels._common`), enforced for every
registered kernel and method: the same arguments for every ``propose``, ``accept`` and
``step``, one generic interpreted step, and gradient-free kernels that compute no gradient in
the compiled loop."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from bayesinv.samplers import compiled as compiled_mod
from bayesinv.samplers.compiled import CompiledTarget, compiled_target, evaluation_for
from bayesinv.samplers.delayed_acceptance import DelayedAcceptance
from bayesinv.samplers.kernels import (
    da,
    dili,
    gpcn,
    gpcnl,
    lrmala,
    lrula,
    mala,
    pcn,
    pcnl,
    pula,
    rwm,
    ula,
)
from bayesinv.samplers.methods import Method
from bayesinv.samplers.registry import LOW_RANK_VARIANTS, METHODS
from bayesinv.testing import linear_gaussian

KERNELS = {m.__name__.rsplit(".", 1)[1]: m
           for m in (ula, pula, mala, pcn, pcnl, rwm, lrula, lrmala, gpcn, gpcnl, dili, da)}
#: the protocol's argument counts (names are the kernel's own: δ or β, R or P)
PROPOSE = 5   # state, parameter, sqrt_precond, inv_sqrt_precond, rng
ACCEPT = 9    # state, proposal, logdensity, loglik, grad, parameter, R, R⁻¹, rng
STEP = 7      # state, parameter, R, R⁻¹, rng, evaluate, args


def _arity(fn) -> list[str]:
    return list(inspect.signature(getattr(fn, "py_func", fn)).parameters)


def _all_methods():
    return {cls.__name__: cls for cls in [*METHODS.values(), *LOW_RANK_VARIANTS.values()]}


def test_every_method_kernel_is_in_the_protocol_list():
    assert {cls.kernel for cls in _all_methods().values()} <= set(KERNELS.values())


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_halves_take_the_protocol_arguments(name):
    kernel = KERNELS[name]
    assert isinstance(kernel.uses_gradient, bool)
    propose = _arity(kernel.propose)
    assert len(propose) == PROPOSE and propose[0] == "state" and propose[-1] == "rng", propose
    assert callable(kernel.init) and callable(kernel.logdensity)
    if kernel is da:  # two stages, two evaluations: its own step (DelayedAcceptance.step)
        assert not hasattr(da, "accept") and not hasattr(da, "step")
        return
    accept = _arity(kernel.accept)
    assert len(accept) == ACCEPT, accept
    assert accept[:5] == ["state", "proposal", "logdensity", "loglik", "grad"], accept
    assert accept[-1] == "rng"
    step = _arity(kernel.step)
    assert len(step) == STEP and step[0] == "state" and step[4] == "rng", step


@pytest.mark.parametrize("name", sorted(_all_methods()))
def test_methods_share_the_one_interpreted_step(name):
    cls = _all_methods()[name]
    assert cls.uses_gradient is cls.kernel.uses_gradient
    if issubclass(cls, DelayedAcceptance):
        assert cls.step is not Method.step
    else:
        assert cls.step is Method.step, f"{name} has its own step"


def test_accept_halves_agree_on_a_shared_evaluation():
    """Through the same arguments, a kernel that ignores an input gives the same result
    whatever it is: pCN uses ℓ only, MALA and pCN-Langevin log π and ∇log π only."""
    x, y = np.array([0.2, -0.4]), np.array([0.5, 0.1])
    lp, g = -1.3, np.array([0.3, -0.2])
    ll = lp + 0.5 * y @ y
    R = mala.IDENTITY
    for kernel, state in ((pcn, pcn.init(x, -0.7)), (mala, mala.init(x, -1.0, -x)),
                          (pcnl, pcnl.init(x, -1.0, -x)), (rwm, rwm.init(x, -1.0))):
        results = []
        for other in (np.nan, 123.0):
            logdensity, loglik = (other, ll) if kernel is pcn else (lp, other)
            grad = g if kernel.uses_gradient else np.full(2, other)
            new, info = kernel.accept(state, y, logdensity, loglik, grad, 0.3, R, R,
                                      np.random.default_rng(0))
            results.append((new.position.tolist(), info.acceptance_rate, info.is_accepted))
        assert results[0] == results[1], kernel.__name__


def test_gradient_free_kernels_evaluate_no_gradient_in_the_compiled_loop():
    problem = linear_gaussian(dim=4, num_observations=3, seed=1)
    target = compiled_target(problem.posterior)
    for kernel in (pcn, gpcn, rwm):
        assert evaluation_for(kernel, target) is target.logdensity
    for kernel in (ula, pula, mala, pcnl, lrula, lrmala, gpcnl, dili):
        assert evaluation_for(kernel, target) is target.logdensity_and_grad
    # the value alone is the value of logdensity_and_grad, bit for bit
    x = np.random.default_rng(0).standard_normal(4)
    assert target.logdensity(x, target.args) == target.logdensity_and_grad(x, target.args)[0]
    # a user's target without a value function: the value is taken from logdensity_and_grad
    user = CompiledTarget(compiled_mod.linear_gaussian_logdensity_and_grad, target.args)
    value = evaluation_for(pcn, user)
    assert value is evaluation_for(rwm, user)  # compiled once per function
    assert value(x, target.args) == target.logdensity_and_grad(x, target.args)[0]
