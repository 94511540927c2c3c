"""The default of ``sample(posterior)``: a method that works for the posterior at hand.

Without ``method=``, :func:`bayesinv.sample` asks :func:`choose_method`, which looks only at
the structure of the problem (no solves):

0. **Hyperparameters** (unknown σ or prior scale τ, sampled by Gibbs blocks): pCN for ξ from
   prior draws, β adapted in warm-up (the kernel the Gibbs blocks are tested with).
1. **Linear–Gaussian** (a :class:`~bayesinv.LinearForwardMap`, a Gaussian prior and iid
   Gaussian noise of known σ): the
   posterior is Gaussian and is drawn exactly, independent draws (:mod:`.exact`) — unless an
   option that only a Markov chain takes was given (``warmup``, ``init``, ``step_size``, a
   checkpoint, ...), in which case rule 2 applies.
2. **A tangent-linear map** (``forward.has_jvp``, so a Gauss–Newton Hessian and a low-rank
   Laplace approximation exist): generalised pCN-Langevin (``"gpcnl"``; Pinski et al. 2015)
   with the low-rank Laplace approximation at the MAP as reference Gaussian, chains started
   at the MAP (found by Gauss–Newton–CG, which converges in a few Newton steps where L-BFGS
   can stall on the ill-conditioned posteriors of informative data), δ adapted in warm-up
   to acceptance 0.574. On the Schrödinger benchmark (README "Which sampler for which
   posterior", ``benchmarks/results/function_space.md``) it is the only sampler that
   converged in a few thousand steps at SNR 60, with the same adapted δ ≈ 0.45 on 32², 64²
   and 128² meshes.
3. **Gradients but no tangent map** (only ``value_and_pullback``): pCN-Langevin (``"pcnl"``)
   from the MAP, δ adapted in warm-up (dimension-robust, needs no Hessian).
4. **No gradient**: pCN (``"pcn"``) from prior draws, β adapted in warm-up (Cotter et al.
   2013).

Rules 0 and 2–4 run ``DEFAULT_WARMUP`` warm-up steps unless ``warmup`` is given. A given ``beta``
without a method keeps the historical default, pCN. What was picked and why is recorded in
the result's attributes ``method_choice`` ("auto") and ``method_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..forward.base import ForwardMap
from ..protocols import ForwardMapProtocol
from .exact import is_linear_gaussian
from .gibbs import blocks_of

if TYPE_CHECKING:
    from ..posterior import Posterior

#: warm-up steps of an automatically chosen Markov chain when ``warmup`` is not given
DEFAULT_WARMUP = 500

#: options of ``sample`` that only a Markov chain uses (with one of them given, rule 1 is
#: skipped); their "not given" values
CHAIN_ONLY_OPTIONS = {"warmup": None, "init": None, "step_size": None, "beta": None,
                      "thin": 1, "preconditioner": None, "adapt": None,
                      "target_accept": None, "compiled": None, "checkpoint": None,
                      "stream": None}


@dataclass(frozen=True)
class MethodChoice:
    """What :func:`choose_method` picked: ``method`` and the ``sample`` keyword values it
    sets (``settings``, used only where the caller gave none), and a sentence why."""

    method: str
    reason: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def attrs(self) -> dict[str, str]:
        """The result attributes that record the choice."""
        return {"method_choice": "auto", "method_reason": self.reason}


def _has_pullback(forward: ForwardMapProtocol) -> bool:
    return forward.has_jvp or (
        type(forward).value_and_pullback is not ForwardMap.value_and_pullback)


def choose_method(posterior: Posterior, given: dict[str, Any] | None = None) -> MethodChoice:
    """The method for ``sample(posterior)`` without ``method=`` (see the module docstring).

    Parameters
    ----------
    posterior : Posterior
    given : dict, optional
        The options of :data:`CHAIN_ONLY_OPTIONS` as the caller passed them.
    """
    given = given or {}
    chain_options = sorted(k for k, default in CHAIN_ONLY_OPTIONS.items()
                           if k in given and given[k] is not default
                           and not (isinstance(default, int) and given[k] == default))
    forward = posterior.likelihood.forward
    if given.get("beta") is not None:
        return MethodChoice("pcn", "beta was given without a method: pCN (whose scale "
                            "parameter beta is)", {"warmup": 0, "init": "prior"})
    if blocks_of(posterior):
        return MethodChoice(
            "pcn", "the posterior has hyperparameter blocks (unknown σ or prior scale), "
            "sampled by Metropolis-within-Gibbs: pCN for ξ, beta adapted in warm-up",
            {"warmup": DEFAULT_WARMUP, "init": "prior"})
    if is_linear_gaussian(posterior) and not chain_options:
        return MethodChoice("exact", "linear forward map and Gaussian prior: the posterior is "
                            "Gaussian, drawn exactly (independent draws)")
    warm = {"warmup": DEFAULT_WARMUP}
    if forward.has_jvp:
        return MethodChoice(
            "gpcnl", "the forward map has a tangent-linear map: gpCN-Langevin with the "
            "low-rank Laplace approximation at the MAP as reference, chains from the MAP, "
            "step adapted in warm-up", {**warm, "init": "map", "map_method": "newton-cg"})
    if _has_pullback(forward):
        return MethodChoice(
            "pcnl", "the forward map has gradients (pullback) but no tangent-linear map, so "
            "no Laplace approximation: pCN-Langevin from the MAP, step adapted in warm-up",
            {**warm, "init": "map"})
    return MethodChoice("pcn", "no gradients: pCN from prior draws, beta adapted in warm-up",
                        {**warm, "init": "prior"})
