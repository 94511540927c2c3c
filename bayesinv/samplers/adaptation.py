r"""Warm-up adaptation of a kernel's scale parameter to a target acceptance rate.

Dual averaging (Nesterov 2009, as used for NUTS by Hoffman & Gelman 2014, Alg. 5) on
log ε, where ε is pCN's β, MALA's and pCN-Langevin's δ, or RWM's s. After warm-up step t
with acceptance probability a_t,

    h̄_t = (1 − 1/(t + t₀)) h̄_{t−1} + (a* − a_t)/(t + t₀),
    log ε_t = min(μ − (√t/γ) h̄_t, log ε_max),
    log ε̄_t = t^{−κ} log ε_t + (1 − t^{−κ}) log ε̄_{t−1},

with μ = log(10 ε₀), γ = 0.05, t₀ = 10, κ = 0.75 (Hoffman & Gelman's defaults). The chain
uses ε_t during warm-up, restarting the averaging once half-way (:func:`schedule`); the last
warm-up step switches to the averaged ε̄ and the value is frozen from then on, so the kept
draws come from a fixed Markov kernel. ε_max caps β at 1
(pCN) and δ at 2 (pCN-Langevin, where c(δ) = √(8δ)/(2+δ) peaks).

These are numba functions so that the interpreted and the compiled loops share one
implementation (and give identical results); they live outside the kernels, which never see
the adaptation. Each chain adapts its own parameter, so chains stay independent.

Default targets: 0.25 for pCN and RWM (Roberts, Gelman & Gilks 1997: 0.234), 0.574 for MALA
and pCN-Langevin (Roberts & Rosenthal 1998; Beskos et al. 2008).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

GAMMA = 0.05
T0 = 10.0
KAPPA = 0.75


class DualAveragingState(NamedTuple):
    """log_step: log ε_t; log_step_avg: log ε̄_t; h_bar: h̄_t; iteration: t; mu: log(10 ε₀)."""

    log_step: float
    log_step_avg: float
    h_bar: float
    iteration: float
    mu: float


@numba.njit(cache=True)
def init(initial_value: float) -> DualAveragingState:
    """Dual-averaging state starting from ε₀ = ``initial_value``."""
    log0 = np.log(initial_value)
    return DualAveragingState(log0, log0, 0.0, 0.0, np.log(10.0) + log0)


@numba.njit(cache=True)
def update(state: DualAveragingState, acceptance: float, target: float, log_max: float
           ) -> DualAveragingState:
    """One dual-averaging update after a warm-up step with acceptance probability ``acceptance``."""
    t = state.iteration + 1.0
    w = 1.0 / (t + T0)
    a = acceptance if np.isfinite(acceptance) else 0.0
    h_bar = (1.0 - w) * state.h_bar + w * (target - a)
    log_step = min(state.mu - np.sqrt(t) / GAMMA * h_bar, log_max)
    eta = t ** (-KAPPA)
    log_avg = eta * log_step + (1.0 - eta) * state.log_step_avg
    return DualAveragingState(log_step, log_avg, h_bar, t, state.mu)


@numba.njit(cache=True)
def warmup_step(state: DualAveragingState, acceptance: float, target: float, log_max: float,
                is_last: bool) -> tuple[DualAveragingState, float]:
    """Update, and return the parameter for the next step: ε_t, or ε̄_t after the last one."""
    state = update(state, acceptance, target, log_max)
    if is_last:
        return state, np.exp(state.log_step_avg)
    return state, np.exp(state.log_step)


@numba.njit(cache=True)
def schedule(state: DualAveragingState, acceptance: float, target: float, log_max: float,
             iteration: int, warmup: int) -> tuple[DualAveragingState, float]:
    """The warm-up schedule both loops follow after warm-up step ``iteration`` (0-based).

    Dual averaging runs over the whole warm-up, restarting once from the current ε̄ half-way
    through (when warmup >= 20): the first half mostly travels from the over-dispersed start
    to the bulk of the posterior, where the acceptance rate differs, and the restart forgets
    it (as Stan's windowed adaptation does). The last warm-up step freezes ε̄.
    """
    state, value = warmup_step(state, acceptance, target, log_max, iteration == warmup - 1)
    if warmup >= 20 and iteration == warmup // 2 - 1:
        state = init(np.exp(state.log_step_avg))
        value = np.exp(state.log_step)
    return state, value
