"""Mesh robustness (Cotter, Roberts, Stuart & White 2013) on the Schrödinger map.

The prior is the series θ = s Σ λ_jk^{−α/2} ξ_jk e_jk on the unit square's Dirichlet sine
basis e_jk = 2 sin(jπx) sin(kπy), λ_jk = π²(j² + k²), with all modes j, k ≤ n/4 on the n × n
mesh: 16, 64 and 256 modes on 16², 32², 64² — the discretisation dimension grows with the
mesh, as it does for a prior on all nodal values. The data (N = 50 fixed design points,
σ = 0.01, signal-to-noise ≈ 14) come from a truth in the first 9 modes, the same on every
mesh. At a fixed β, pCN's acceptance rate depends on the likelihood only and stays put;
random-walk Metropolis at a fixed step pays for the prior term ½|ξ|² in every added mode and
its acceptance collapses. Chains start at the truth's low modes plus a prior draw for the
rest (a typical point of the posterior), so warm-up is short.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv.samplers.driver import sample

pytestmark = pytest.mark.fem

BETA, RWM_STEP, SIGMA = 0.25, 0.2, 0.01


def _sine_series_prior(domain, max_freq, alpha=2.0, scale=3.0):
    xy = domain.parameter_space.coordinates
    jk = sorted((j * j + k * k, j, k) for j in range(1, max_freq + 1)
                for k in range(1, max_freq + 1))
    lam = np.array([np.pi**2 * s for s, _, _ in jk])
    E = np.column_stack([2 * np.sin(j * np.pi * xy[:, 0]) * np.sin(k * np.pi * xy[:, 1])
                         for _, j, k in jk])
    return bayesinv.SeriesPrior(lam, E, domain.parameter_space.mass_matrix, alpha=alpha,
                                scale=scale)


def _acceptance(n):
    from bayesinv import fem

    design = np.random.default_rng(0).uniform(0.05, 0.95, (50, 2))
    low = np.random.default_rng(1).standard_normal(9)
    domain = fem.unit_square(n)
    prior = _sine_series_prior(domain, n // 4)
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0)
    k = prior.latent_dim
    truth = np.concatenate([low, np.zeros(k - 9)])
    clean = forward(prior.to_physical(truth))
    data = clean + SIGMA * np.random.default_rng(2).standard_normal(50)
    post = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, SIGMA))
    init = np.stack([np.concatenate([low, np.random.default_rng(10 + c).standard_normal(k - 9)])
                     for c in range(2)])
    common = {"chains": 2, "seed": 3, "init": init, "diagnostics": False}
    pcn = sample(post, "pcn", beta=BETA, draws=800, warmup=100, **common)
    rwm = sample(post, "rwm", step_size=RWM_STEP, draws=300, warmup=50, **common)
    return (k, bayesinv.signal_to_noise(clean, SIGMA, 1.0),
            float(pcn.sample_stats["acceptance_rate"].mean()),
            float(rwm.sample_stats["acceptance_rate"].mean()))


@pytest.mark.slow
def test_pcn_acceptance_is_mesh_independent_while_rwm_collapses():
    results = {n: _acceptance(n) for n in (16, 32, 64)}
    modes = [results[n][0] for n in (16, 32, 64)]
    assert modes == [16, 64, 256]
    assert all(10 < results[n][1] < 20 for n in results)  # the same data quality
    pcn = np.array([results[n][2] for n in (16, 32, 64)])
    rwm = np.array([results[n][3] for n in (16, 32, 64)])
    assert 0.2 < pcn.mean() < 0.6, pcn
    assert np.ptp(pcn) < 0.05, f"pCN acceptance changes with the mesh: {pcn}"
    assert np.all(np.diff(rwm) < -0.05) and rwm[-1] < 0.5 * rwm[0], f"RWM: {rwm}"
