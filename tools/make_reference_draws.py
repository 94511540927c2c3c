"""Reference ξ draws of every sampler method reachable through ``bayesinv.sample``.

``python tools/make_reference_draws.py`` runs every case of :data:`CASES` (a small
linear-Gaussian problem from :mod:`bayesinv.testing`, its hierarchical variants with unknown σ
and τ, and a small Schrödinger FEM posterior) with a fixed seed and stores the ξ draws in
``tests/data/reference_draws.npz``, together with a fingerprint of the BLAS/LAPACK set-up that
made them. ``tests/test_reference_draws.py`` re-runs the same cases and compares: refactoring
the samplers must leave the draws unchanged (issue 20, item 7). Regenerate only when a change
of the draws is intended, and say why in the commit.
"""

from __future__ import annotations

import platform
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "data" / "reference_draws.npz"

#: settings shared by every case: small, several chains, warm-up adaptation, thinning
COMMON = {"draws": 12, "warmup": 10, "thin": 2, "chains": 2, "seed": 20261205,
          "diagnostics": False, "cores": 1, "progress": False}


def _linear():
    from bayesinv.testing import linear_gaussian

    return linear_gaussian(dim=6, num_observations=5, noise_std=0.2, seed=3).posterior


def _unknown_sigma():
    import bayesinv
    from bayesinv.likelihoods import UnknownNoiseLikelihood
    from bayesinv.testing import linear_gaussian

    p = linear_gaussian(dim=6, num_observations=5, noise_std=0.2, seed=3)
    return bayesinv.Posterior(p.prior, UnknownNoiseLikelihood(p.forward, p.data, 3.0, 0.2))


def _unknown_tau():
    import bayesinv
    from bayesinv.hierarchical import ScaledPrior
    from bayesinv.testing import linear_gaussian

    p = linear_gaussian(dim=6, num_observations=5, noise_std=0.2, seed=3)
    return bayesinv.Posterior(ScaledPrior(p.prior, 2.0, 1.0, proposal_sd=0.5), p.likelihood)


def _fem():
    from bayesinv.testing.schrodinger import schrodinger_posterior

    return schrodinger_posterior(4, 8, 1e-1)


POSTERIORS = {"linear": _linear, "sigma": _unknown_sigma, "tau": _unknown_tau, "fem": _fem}

#: case name → (posterior, method, extra keyword arguments of ``sample``; None drops one of
#: :data:`COMMON`)
CASES: dict[str, tuple[str, str, dict]] = {}
for _loop in ("compiled", "interpreted"):
    for _m in ("ula", "pula", "mala", "pcn", "pcnl", "gpcn", "gpcnl", "dili"):
        CASES[f"{_m}-{_loop}"] = ("linear", _m, {"loop": _loop})
    CASES[f"rwm-{_loop}"] = ("linear", "rwm", {"loop": _loop, "step_size": 0.2})
    CASES[f"lowrank_mala-{_loop}"] = ("linear", "mala",
                                      {"loop": _loop, "preconditioner": "laplace_lowrank"})
    CASES[f"lowrank_ula-{_loop}"] = ("linear", "ula",
                                     {"loop": _loop, "preconditioner": "laplace_lowrank"})
    CASES[f"dense_mala-{_loop}"] = ("linear", "mala", {"loop": _loop, "preconditioner": "laplace"})
CASES.update({
    "mala-given-step-interpreted": ("linear", "mala", {"loop": "interpreted", "step_size": 0.05,
                                                       "init": "map"}),
    "da-linearized": ("linear", "da", {"beta": 0.3}),
    "da-surrogate": ("linear", "da", {"surrogate": "linear", "beta": 0.3}),
    "da-adapted": ("linear", "da", {}),
    "exact": ("linear", "exact", {"warmup": None, "thin": None}),  # (no chain options)
    "gibbs-sigma-pcn": ("sigma", "pcn", {}),
    "gibbs-sigma-mala": ("sigma", "mala", {}),
    "gibbs-tau-pcn": ("tau", "pcn", {}),
    "gibbs-tau-pcnl": ("tau", "pcnl", {}),
    "fem-pcn": ("fem", "pcn", {}),
    "fem-mala": ("fem", "mala", {}),
    "fem-ula": ("fem", "ula", {}),
})


def run_case(name: str, posteriors: dict | None = None) -> np.ndarray:
    """The ξ draws (chain, draw, k) of one case; ``posteriors`` caches built posteriors."""
    import bayesinv

    posteriors = {} if posteriors is None else posteriors
    kind, method, extra = CASES[name]

    def get(key):
        if key not in posteriors:
            posteriors[key] = POSTERIORS[key]()
        return posteriors[key]

    kw = {k: v for k, v in {**COMMON, **extra}.items() if v is not None}
    if isinstance(kw.get("surrogate"), str):
        kw["surrogate"] = POSTERIORS[kw["surrogate"]]()  # a separate, equal posterior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bayesinv.sample(get(kind), method, **kw)
    return np.ascontiguousarray(idata.posterior["xi"].values)


def blas_fingerprint() -> str:
    """What decides round-off: machine, NumPy version and the BLAS libraries and kernels."""
    from threadpoolctl import threadpool_info

    libs = sorted(f"{i.get('internal_api')}-{i.get('version')}-{i.get('architecture')}"
                  for i in threadpool_info())
    return f"{platform.machine()}|numpy-{np.__version__}|{'|'.join(libs)}"


def main() -> int:
    from threadpoolctl import threadpool_limits

    out, posteriors = {}, {}
    with threadpool_limits(limits=1):
        for name in CASES:
            out[name] = run_case(name, posteriors)
            print(f"{name}: {out[name].shape}", flush=True)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, __fingerprint__=np.array(blas_fingerprint()), **out)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
