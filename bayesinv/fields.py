"""Named fields of the configs and the reference experiments: truths θ₀(x) and test functions
ψ(x), as plain NumPy functions of points ``x`` of shape (dim, n).

They sit on the ground floor (NumPy only) so that both the config problems
(:mod:`bayesinv.hpc.problems`) and the frozen experiments (:mod:`bayesinv.experiments`) use
the same definitions without production code importing the experiments.
"""

from __future__ import annotations

import numpy as np


def e1_truth(x):
    """θ₀ of experiment E1: two positive bumps and one negative bump, small (≤ 0.015) on ∂O."""
    def bump(cx, cy, width):
        return np.exp(-((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / width)
    return (1.2 * bump(0.3, 0.35, 0.02) - 0.9 * bump(0.68, 0.62, 0.025)
            + 0.6 * bump(0.7, 0.25, 0.012))


def sin_sin(x):
    """ψ = sin(πx₁) sin(πx₂), the smooth test function of the functional ⟨θ, ψ⟩_{L²}."""
    return np.sin(np.pi * x[0]) * np.sin(np.pi * x[1])


def one(x):
    """ψ(x) = 1 (named ``"one"``: ⟨θ, 1⟩ is the integral of θ)."""
    return np.ones_like(x[0])


def bumps_field(bumps):
    """The field Σ_j a_j exp(−|x − c_j|²/w_j) of bumps ``[[c_x, c_y, w, a], ...]``."""
    def field(x):
        out = np.zeros_like(x[0])
        for cx, cy, width, amplitude in bumps:
            out = out + amplitude * np.exp(-((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / width)
        return out
    return field


#: named test functions ψ of the functionals ⟨θ, ψ⟩ in configs (``psi = "sin_sin"``)
PSI = {"sin_sin": sin_sin, "one": one}
