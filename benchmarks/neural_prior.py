"""Cost of a neural-network prior's forward + transpose pass relative to one PDE solve.

For gradient samplers each step evaluates θ = T(ξ) and J_T(ξ)ᵀ v (one forward and one
transpose pass of the network over all mesh vertices) next to one forward and one adjoint PDE
solve. This script measures, in one run and on the same machine,

* t_pde: one forward solve of the Schrödinger map at 64² (4225 P1 vertices, N = 400), and
  t_grad: a forward plus an adjoint solve (G(θ) and J(θ)ᵀw);
* for several random-field architectures and a generative decoder: t_fwd+T, the forward pass
  plus the transpose action at a fresh ξ (no cache reuse), and t_jvp, one tangent action;

and reports the ratios t_fwd+T / t_pde (the issue's aim: ≤ 0.2) and t_fwd+T / t_grad. Timings
are the best of several repeats, with BLAS limited to one thread as in ``bayesinv.sample``.
The machine is shared: the integrator re-runs this on a quiet machine; ratios measured in one
run are what to compare.

Run ``python benchmarks/neural_prior.py`` (≈1 min); ``--quick`` is the smoke version the
tests run. Writes ``benchmarks/results/neural_prior.json`` and ``.md`` (or ``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from bayesinv import fem
from bayesinv.priors.generative import GenerativePrior
from bayesinv.priors.neural import NeuralFieldPrior

FIELD_ARCHITECTURES = [
    {"width": 16, "depth": 1, "activation": "tanh"},
    {"width": 32, "depth": 1, "activation": "tanh"},
    {"width": 16, "depth": 2, "activation": "tanh"},
    {"width": 32, "depth": 2, "activation": "tanh"},
    {"width": 32, "depth": 2, "activation": "relu"},
    {"width": 32, "depth": 2, "activation": "erf"},
    {"width": 32, "depth": 2, "activation": "sine"},
    {"width": 32, "depth": 2, "activation": "tanh", "fourier_features": 16},
    {"width": 64, "depth": 2, "activation": "tanh"},
]


def best_time(fn, *, repeats: int, number: int) -> float:
    """Best over ``repeats`` of the mean time of ``number`` calls (seconds)."""
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def describe(arch: dict) -> str:
    text = f"{arch['activation']}, width {arch['width']}, depth {arch['depth']}"
    if arch.get("fourier_features"):
        text += f", {arch['fourier_features']} Fourier features"
    return text


def time_prior(prior, rng, *, repeats, number) -> dict:
    """Forward + transpose at fresh ξ, and one tangent action."""
    xis = prior.sample_latent(rng, size=number * repeats + 1)
    v = rng.standard_normal(prior.dim)
    dxi = rng.standard_normal(prior.latent_dim)
    counter = iter(range(10**9))

    def fwd_transpose():
        xi = xis[next(counter) % xis.shape[0]]
        prior.to_physical(xi)
        prior.to_physical_vjp(xi, v)

    t_ft = best_time(fwd_transpose, repeats=repeats, number=number)
    xi = xis[0]
    prior.to_physical(xi)  # the tangent action reuses the cached forward pass at ξ
    t_jvp = best_time(lambda: prior.to_physical_jvp(xi, dxi), repeats=repeats, number=number)
    return {"latent_dim": prior.latent_dim, "t_forward_transpose": t_ft, "t_jvp": t_jvp}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16² mesh, few repeats")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    mesh, repeats, number = (16, 2, 3) if args.quick else (64, 7, 10)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    domain = fem.unit_square(mesh)
    forward = fem.SchrodingerMap(domain, fem.uniform_design(domain, 400, seed=1),
                                 boundary_value=1.0)
    n = domain.parameter_space.num_dofs
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        theta = 0.3 * rng.standard_normal(n)
        w = rng.standard_normal(forward.output_dim)
        t_pde = best_time(lambda: forward(theta), repeats=repeats, number=number)

        def gradient():
            _, pullback = forward.value_and_pullback(theta)
            pullback(w)

        t_grad = best_time(gradient, repeats=repeats, number=number)
        for arch in FIELD_ARCHITECTURES:
            prior = NeuralFieldPrior.on_domain(domain, **arch)
            rows.append({"prior": f"random field: {describe(arch)}", **arch,
                         **time_prior(prior, rng, repeats=repeats, number=number)})
        layers = [(rng.standard_normal((256, 32)) / 6, np.zeros(256)),
                  (rng.standard_normal((n, 256)) / 16, np.zeros(n))]
        decoder = GenerativePrior(layers, activation="tanh", dim=n)
        rows.append({"prior": "generative decoder 32 → 256 → vertices (tanh)",
                     **time_prior(decoder, rng, repeats=repeats, number=number)})
    for row in rows:
        row["ratio_to_pde_solve"] = row["t_forward_transpose"] / t_pde
        row["ratio_to_gradient_solves"] = row["t_forward_transpose"] / t_grad

    result = {
        "mesh": f"{mesh}x{mesh}", "vertices": n, "observations": forward.output_dim,
        "t_pde_solve": t_pde, "t_forward_plus_adjoint": t_grad, "rows": rows,
        "aim": "forward + transpose <= 0.2 x one PDE solve",
        "machine": {"cpus": os.cpu_count(), "load_average_1min_at_start": load,
                    "platform": platform.platform(), "numpy": np.__version__,
                    "numba": numba.__version__, "blas_threads": 1},
        "quick": args.quick,
    }
    (out / "neural_prior.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Neural-network prior cost vs one PDE solve ({mesh}×{mesh} mesh, {n} vertices)",
        "",
        f"One Schrödinger forward solve: {t_pde * 1e3:.2f} ms; forward + adjoint: "
        f"{t_grad * 1e3:.2f} ms (best of {repeats}×{number}, one BLAS thread, load average "
        f"{load:.1f} on {os.cpu_count()} cores at start).",
        "",
        "| prior | latent dim | forward + transpose (ms) | tangent (ms) | ÷ PDE solve | "
        "÷ forward + adjoint |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['prior']} | {row['latent_dim']} | {row['t_forward_transpose'] * 1e3:.2f} | "
            f"{row['t_jvp'] * 1e3:.2f} | {row['ratio_to_pde_solve']:.2f} | "
            f"{row['ratio_to_gradient_solves']:.2f} |")
    lines += ["", "Aim: forward + transpose ≤ 0.2 × one PDE solve. Ratios come from one run; "
              "absolute times depend on the machine and its load."]
    (out / "neural_prior.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
