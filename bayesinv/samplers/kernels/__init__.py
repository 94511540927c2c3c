"""Sampler kernels: module-level ``numba.njit`` functions over NamedTuple states.

Kernels import nothing from the modelling layer. Each module documents its update equation
and reference; shared pieces (the Langevin and Crank–Nicolson proposals, transition
densities, the Metropolis test, shared states) live in ``_common``.

* :mod:`.ula` — unadjusted Langevin (optionally with a constant preconditioner);
* :mod:`.pula` — prior-preconditioned (Crank–Nicolson) ULA;
* :mod:`.mala` — Metropolis-adjusted Langevin;
* :mod:`.pcn` — preconditioned Crank–Nicolson;
* :mod:`.pcnl` — pCN-Langevin (∞-MALA);
* :mod:`.rwm` — random-walk Metropolis (the mesh-dependence baseline);
* :mod:`.lrmala`, :mod:`.lrula` — MALA and ULA preconditioned by a low-rank Laplace
  covariance (:mod:`._lowrank`, O(k r) per step);
* :mod:`.gpcn`, :mod:`.gpcnl` — generalised pCN and pCN-Langevin with the low-rank Laplace
  approximation as reference Gaussian.

Every module follows one protocol (:mod:`._common`, enforced by
``tests/test_kernel_protocol.py``): ``propose(state, parameter, R, R⁻¹, rng)`` and
``accept(state, proposal, logdensity, loglik, grad, parameter, R, R⁻¹, rng)`` take the same
arguments in every kernel, so the interpreted loop has one step (the target evaluated in Python
between them, :meth:`bayesinv.samplers.methods.Method.step`) and the compiled loop's
``step(state, parameter, R, R⁻¹, rng, evaluate, args)`` is built from the same two halves.
:mod:`.dili` (DILI) shares gpCN-Langevin's halves; :mod:`.da` (delayed acceptance) has the
common ``propose`` and two stages with two evaluations instead of one ``accept``.
"""

from . import gpcn, gpcnl, lrmala, lrula, mala, pcn, pcnl, pula, rwm, ula

__all__ = ["gpcn", "gpcnl", "lrmala", "lrula", "mala", "pcn", "pcnl", "pula", "rwm",
           "ula"]
