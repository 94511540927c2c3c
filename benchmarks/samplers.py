"""Sampler benchmark, measured in one run (ratios are what carries over between machines).

Part A — ESS per second and per PDE solve on the Schrödinger problem of the flagship example
(unit square, 64² P1 mesh, N = 400, σ with signal-to-noise ‖u₀ − 1‖∞/σ = 60, Dirichlet–
Laplacian series prior α = 2, scale 10, 60 modes, every chain started at the MAP): ULA (step
from the Gauss–Newton curvature), ULA with the Laplace preconditioner, prior-preconditioned
Crank–Nicolson ULA, MALA (adapted; plain and Laplace-preconditioned), pCN (adapted) and
pCN-Langevin (adapted). The whitened Gauss–Newton Hessian has λ_max ≈ 10⁵ here, so the
unpreconditioned samplers need steps ~1/λ_max and mix very slowly: their ESS is reported as
measured, not tuned away.

Part B — compiled-loop throughput (steps per second) on a 1000-dimensional Gaussian target
N(μ, diag(1/p)), p from 1 to 100: the numba loop (:func:`bayesinv.samplers.compiled.run_segment`
with the MALA and ULA kernels) against the same algorithms as a plain NumPy loop, and against
BlackJAX's MALA and (full-gradient) SGLD = ULA under ``jax.lax.scan`` when JAX is available
(in this interpreter, or in the one named by ``--jax-python``; JAX needs numpy ≥ 2, which
Debian's FEniCSx stack here does not allow, so it lives in its own venv). Also the
end-to-end ``sample()`` on a 1000-dimensional linear–Gaussian posterior (200 observations):
compiled against interpreted loop.

Run: ``python benchmarks/samplers.py`` (about 10 minutes on 2 cores; ``--quick`` for a
smoke run). Writes ``benchmarks/results/samplers.json`` and ``samplers.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

import bayesinv
from bayesinv.diagnostics import convergence_diagnostics
from bayesinv.samplers import adaptation
from bayesinv.samplers.compiled import run_segment
from bayesinv.samplers.driver import sample
from bayesinv.samplers.kernels import mala, ula
from bayesinv.samplers.kernels._common import IDENTITY
from bayesinv.samplers.tuning import gauss_newton_hessian, gauss_newton_max_eigenvalue
from bayesinv.testing import linear_gaussian

HERE = Path(__file__).resolve().parent
FLAGSHIP = HERE.parent / "examples" / "schrodinger_flagship.py"

FULL = {"mesh": 64, "N": 400, "modes": 60, "warmup": 300, "draws": 1500, "chains": 2,
        "dim": 1000, "steps": 20_000, "numpy_steps": 5_000}
QUICK = {"mesh": 16, "N": 100, "modes": 15, "warmup": 50, "draws": 100, "chains": 2,
         "dim": 1000, "steps": 2_000, "numpy_steps": 500}

# (label, method, sample() keyword arguments)
SCHRODINGER_RUNS = [
    ("ULA (curvature step)", "ula", {}),
    ("ULA + Laplace preconditioner", "ula", {"step_size": 0.1, "preconditioner": "laplace"}),
    ("pULA (prior-preconditioned CN)", "pula", {}),
    ("MALA (adapted)", "mala", {}),
    ("MALA + Laplace (adapted)", "mala", {"preconditioner": "laplace"}),
    ("pCN (adapted)", "pcn", {}),
    ("pCN-Langevin (adapted)", "pcnl", {}),
]


def _load_flagship():
    spec = importlib.util.spec_from_file_location("schrodinger_flagship", FLAGSHIP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- Part A ---------------------------------------------------------------------------------

def schrodinger_problem(cfg):
    from bayesinv import fem

    flagship = _load_flagship()
    seeds = np.random.SeedSequence(2024).spawn(2)
    domain = fem.unit_square(cfg["mesh"])
    design = fem.uniform_design(domain, cfg["N"], seed=seeds[0])
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0, link="exp")
    theta0 = domain.parameter_space.interpolate(flagship.true_theta)
    clean = forward(theta0)
    sigma = float(np.max(np.abs(clean - 1.0)) / 60.0)
    data = bayesinv.simulate(forward, theta0, sigma, seed=seeds[1])
    prior = bayesinv.SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=cfg["modes"],
                                                     scale=10.0)
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, sigma))
    return posterior, sigma, bayesinv.signal_to_noise(clean, sigma, 1.0)


def part_a(cfg):
    posterior, sigma, snr = schrodinger_problem(cfg)
    counts = posterior.likelihood.forward.counts
    t0, c0 = time.perf_counter(), counts.as_dict()
    map_est = bayesinv.find_map(posterior)
    lam = gauss_newton_max_eigenvalue(posterior, map_est.position, iterations=50)
    setup = {"map_seconds": time.perf_counter() - t0,
             "map_solves": sum(counts.as_dict().values()) - sum(c0.values())}
    t0, c0 = time.perf_counter(), counts.as_dict()
    laplace = np.linalg.inv(gauss_newton_hessian(posterior, map_est.position))
    setup.update({"laplace_seconds": time.perf_counter() - t0,
                  "laplace_solves": sum(counts.as_dict().values()) - sum(c0.values()),
                  "lambda_max_gauss_newton": lam, "sigma": sigma, "signal_to_noise": snr})
    print(f"[A] MAP in {setup['map_seconds']:.1f} s; λ_max(H) = {lam:.3g}; SNR {snr:.1f}",
          flush=True)
    rows = []
    for label, method, kw in SCHRODINGER_RUNS:
        if kw.get("preconditioner") == "laplace":  # computed once above, not per run
            kw = {**kw, "preconditioner": laplace}
        idata = sample(posterior, method, draws=cfg["draws"], warmup=cfg["warmup"],
                       chains=cfg["chains"], seed=7, init=map_est.position, store_theta=False,
                       diagnostics=False, **kw)
        # the chains' solves; the curvature or adaptation start (setup) is listed apart
        solves = idata.attrs["num_forward_solves"] + idata.attrs["num_adjoint_solves"]
        diag = convergence_diagnostics(idata, "xi")
        seconds = idata.attrs["sampling_time"]
        ess_min, ess_med = float(diag["ess_bulk"].min()), float(np.median(diag["ess_bulk"]))
        row = {
            "sampler": label, "method": method,
            "step_size": np.atleast_1d(idata.attrs["step_size"]).tolist(),
            "acceptance_rate": float(idata.sample_stats["acceptance_rate"].mean()),
            "divergences": int(idata.attrs["num_divergent"]),
            "seconds": seconds, "pde_solves": int(solves),
            "setup_seconds": float(idata.attrs["setup_time"]),
            "setup_solves": int(idata.attrs["num_setup_solves"]),
            "ms_per_step": 1e3 * seconds / (cfg["chains"] * (cfg["warmup"] + cfg["draws"])),
            "ess_bulk_min": ess_min, "ess_bulk_median": ess_med,
            "ess_tail_min": float(diag["ess_tail"].min()),
            "rhat_max": float(diag["rhat"].max()),
            "min_ess_per_second": ess_min / seconds,
            "min_ess_per_1000_solves": 1e3 * ess_min / solves,
        }
        rows.append(row)
        print(f"[A] {label:32s} acc {row['acceptance_rate']:.2f}  min ESS {ess_min:8.1f}  "
              f"R-hat {row['rhat_max']:.3f}  {row['min_ess_per_second']:.3g} ESS/s  "
              f"{row['min_ess_per_1000_solves']:.3g} ESS/1000 solves", flush=True)
    return setup, rows


# -- Part B ---------------------------------------------------------------------------------

@numba.njit(cache=True)
def diagonal_gaussian(x, args):
    """log N(x; μ, diag(1/p)) (up to a constant) and its gradient: the compiled target."""
    mu, precision = args
    d = x - mu
    return -0.5 * np.sum(precision * d * d), -precision * d


def _numpy_mala(x, mu, p, step, n, rng):
    def target(z):
        d = z - mu
        return -0.5 * np.sum(p * d * d), -p * d

    lp, g = target(x)
    for _ in range(n):
        y = x + step * g + np.sqrt(2 * step) * rng.standard_normal(x.shape[0])
        lp_y, g_y = target(y)
        fwd = -np.sum((y - x - step * g) ** 2) / (4 * step)
        bwd = -np.sum((x - y - step * g_y) ** 2) / (4 * step)
        if np.log(rng.random()) < lp_y - lp + bwd - fwd:
            x, lp, g = y, lp_y, g_y
    return x


def _numpy_ula(x, mu, p, step, n, rng):
    for _ in range(n):
        x = x + step * (-p * (x - mu)) + np.sqrt(2 * step) * rng.standard_normal(x.shape[0])
    return x


def _compiled_steps_per_second(kernel, step, mu, p, n, chains):
    target_args = (mu, p)
    x0 = np.zeros(mu.shape[0])
    lp, g = diagonal_gaussian(x0, target_args)

    def one_chain(seed, steps):
        # All steps are "warm-up" without adaptation: nothing is stored, as in the NumPy and
        # BlackJAX loops, so the three measure the same work.
        state = kernel.init(x0.copy(), lp, g)
        out = (np.empty((0, mu.shape[0])), np.empty(0), np.empty(0),
               np.zeros(0, dtype=np.bool_), np.empty(0))
        return run_segment(kernel.step, kernel.logdensity, state, np.random.default_rng(seed),
                           diagonal_gaussian, target_args, IDENTITY, IDENTITY, 0, steps, steps,
                           1, step, adaptation.init(step), False, 0.5, np.inf, 2**62, 0, *out)

    one_chain(0, 10)  # compile
    t = time.perf_counter()
    if chains == 1:
        one_chain(1, n)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(chains) as pool:
            list(pool.map(lambda s: one_chain(s, n), range(chains)))
    return chains * n / (time.perf_counter() - t)


def part_b(cfg, jax_python):
    d = cfg["dim"]
    mu = np.linspace(-1, 1, d)
    p = np.linspace(1.0, 100.0, d)
    mala_step, ula_step = 0.5 / 100 * d ** (-1 / 3), 0.5 / 100
    out = {"dim": d, "target": "N(mu, diag(1/p)), p = 1..100",
           "mala_step": mala_step, "ula_step": ula_step}
    with threadpool_limits(1):
        for name, kernel, step, numpy_fn in (("MALA", mala, mala_step, _numpy_mala),
                                             ("ULA", ula, ula_step, _numpy_ula)):
            comp1 = _compiled_steps_per_second(kernel, step, mu, p, cfg["steps"], 1)
            comp2 = _compiled_steps_per_second(kernel, step, mu, p, cfg["steps"], 2)
            rng = np.random.default_rng(0)
            t = time.perf_counter()
            numpy_fn(np.zeros(d), mu, p, step, cfg["numpy_steps"], rng)
            npy = cfg["numpy_steps"] / (time.perf_counter() - t)
            out[name] = {"compiled_1_chain": comp1, "compiled_2_chains_threads": comp2,
                         "numpy_loop": npy, "compiled_over_numpy": comp1 / npy}
            print(f"[B] {name}: compiled {comp1:,.0f} steps/s (2 chains: {comp2:,.0f}); "
                  f"NumPy loop {npy:,.0f} steps/s; ratio {comp1 / npy:.1f}", flush=True)
    out["blackjax"] = _blackjax(cfg, mala_step, ula_step, jax_python)
    for name in ("MALA", "ULA"):
        bj = out["blackjax"].get(name)
        if bj:
            out[name]["blackjax_scan"] = bj
            out[name]["compiled_over_blackjax"] = out[name]["compiled_1_chain"] / bj
    out["sample_linear_gaussian"] = _end_to_end(cfg)
    return out


def _blackjax(cfg, mala_step, ula_step, jax_python):
    script = HERE / "_blackjax_gaussian.py"
    args = [str(cfg["dim"]), str(cfg["steps"]), str(mala_step), str(ula_step)]
    python = jax_python
    if python is None and importlib.util.find_spec("blackjax") is not None:
        python = sys.executable
    if python is None:
        print("[B] BlackJAX: not available (pass --jax-python)", flush=True)
        return {"available": False}
    try:
        res = subprocess.run([python, str(script), *args], capture_output=True, text=True,
                             timeout=1800, check=True,
                             env={**os.environ, "JAX_PLATFORMS": "cpu"})
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"[B] BlackJAX failed: {exc}", flush=True)
        return {"available": False, "error": str(exc)[:500]}
    result = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"[B] BlackJAX (jax {result['jax']}, blackjax {result['blackjax']}): MALA "
          f"{result['MALA']:,.0f} steps/s, SGLD/ULA {result['ULA']:,.0f} steps/s", flush=True)
    return {"available": True, **result}


def _end_to_end(cfg):
    problem = linear_gaussian(dim=cfg["dim"], num_observations=200, noise_std=0.1, seed=0)
    kw = {"step_size": 1e-3, "draws": cfg["steps"] // 4, "chains": 2, "seed": 1,
          "diagnostics": False, "store_theta": False}
    sample(problem.posterior, "mala", **{**kw, "draws": 10})  # compile
    res = {}
    for loop in ("compiled", "interpreted"):
        draws = kw["draws"] if loop == "compiled" else max(kw["draws"] // 10, 100)
        idata = sample(problem.posterior, "mala", loop=loop, **{**kw, "draws": draws})
        res[loop] = 2 * draws / idata.attrs["sampling_time"]
    res["ratio"] = res["compiled"] / res["interpreted"]
    print(f"[B] sample() MALA on the linear–Gaussian posterior (k = {cfg['dim']}, N = 200): "
          f"compiled {res['compiled']:,.0f}, interpreted {res['interpreted']:,.0f} steps/s "
          f"(×{res['ratio']:.1f})", flush=True)
    return res


# -- report ---------------------------------------------------------------------------------

def markdown(report) -> str:
    a, b = report["schrodinger"], report["throughput"]
    s = a["setup"]
    lines = [
        "# Sampler benchmark", "",
        f"Machine: {report['machine']}; measured in one run ({report['date']}). Timings on a "
        "shared 2-core machine are noisy; compare ratios within this table.", "",
        f"## A. Schrödinger, {a['mesh']}² mesh, N = {a['N']}, SNR {s['signal_to_noise']:.0f}, "
        f"{a['modes']} modes, warm start at the MAP", "",
        f"λ_max of the whitened Gauss–Newton Hessian at the MAP: "
        f"{s['lambda_max_gauss_newton']:.3g}. MAP: {s['map_seconds']:.1f} s, "
        f"{s['map_solves']} solves; Laplace preconditioner (dense Gauss–Newton Hessian): "
        f"{s['laplace_seconds']:.1f} s, {s['laplace_solves']} solves (both once, shared). "
        f"{a['chains']} chains × ({a['warmup']} warm-up + {a['draws']}) steps each; "
        "ESS and time are of the chains; the per-run setup (power iterations for the curvature "
        "step or the adaptation's starting step) is in the JSON.", "",
        "| sampler | step | acc. | min ESS (bulk) | median ESS | max R-hat | ms/step | "
        "min ESS / s | min ESS / 1000 solves |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in a["rows"]:
        step = ", ".join(f"{v:.3g}" for v in r["step_size"])
        lines.append(
            f"| {r['sampler']} | {step} | {r['acceptance_rate']:.2f} | {r['ess_bulk_min']:.1f} |"
            f" {r['ess_bulk_median']:.1f} | {r['rhat_max']:.3f} | {r['ms_per_step']:.2f} | "
            f"{r['min_ess_per_second']:.3g} | {r['min_ess_per_1000_solves']:.3g} |")
    lines += ["", f"## B. Throughput on a {b['dim']}-dimensional Gaussian ({b['target']})", "",
              "| algorithm | compiled loop, 1 chain | compiled, 2 chains (threads) | NumPy loop |"
              " compiled / NumPy | BlackJAX (lax.scan) | compiled / BlackJAX |",
              "|---|---|---|---|---|---|---|"]
    for name in ("MALA", "ULA"):
        r = b[name]
        bj = r.get("blackjax_scan")
        bj_text = "n/a" if bj is None else f"{bj:,.0f}"
        ratio_text = "n/a" if bj is None else f"{r['compiled_over_blackjax']:.2f}"
        lines.append(
            f"| {name} | {r['compiled_1_chain']:,.0f} | {r['compiled_2_chains_threads']:,.0f} |"
            f" {r['numpy_loop']:,.0f} | {r['compiled_over_numpy']:.1f} | {bj_text} | "
            f"{ratio_text} |")
    e = b["sample_linear_gaussian"]
    lines += ["", "Steps per second. BlackJAX's ULA is `blackjax.sgld` with the full gradient "
              "(identical update).",
              "", f"`sample()` end to end, MALA on a linear–Gaussian posterior (k = {b['dim']}, "
              f"N = 200): compiled loop {e['compiled']:,.0f} steps/s, interpreted loop "
              f"{e['interpreted']:,.0f} steps/s (×{e['ratio']:.1f}).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jax-python", default=None,
                        help="a Python interpreter with jax and blackjax installed")
    parser.add_argument("--output", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    setup, rows = part_a(cfg)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
                   f"numba {numba.__version__}, numpy {np.__version__}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": args.quick,
        "schrodinger": {**{k: cfg[k] for k in ("mesh", "N", "modes", "warmup", "draws",
                                                 "chains")}, "setup": setup, "rows": rows},
        "throughput": part_b(cfg, args.jax_python),
    }
    stem = "samplers_quick" if args.quick else "samplers"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    (out / f"{stem}.md").write_text(markdown(report))
    print(f"wrote {out / (stem + '.json')} and {stem}.md")
    return report


if __name__ == "__main__":
    main()
