"""Function-space-scale sampling: low-rank Laplace samplers across meshes, measured in one run.

Problem (the issue's): Schrödinger ½Δu − e^θ u = 0 on the unit square, u = 1 on ∂O, P1 meshes
32² and 64² (128² with ``--fine``), N = 200 uniform design points, σ with signal-to-noise
‖G(θ₀) − 1‖∞/σ = 60, the nodal BiLaplacian prior ``WhittleMaternPrior.from_hippylib`` (β = 1,
Robin boundary, hIPPYlib's usual γ = 0.1, δ = 0.5), the three-bump
truth of experiment E1. Every chain starts at the MAP.

Set-up, reported separately: the MAP (inexact Gauss–Newton–CG in whitened coordinates) and
the low-rank Gauss–Newton Hessian at the MAP (randomized double pass, eigenvalues ≥ 0.1
kept), with time and PDE solves. Samplers (``bayesinv.sample``, interpreted loop, 2 chains):
gpCN and gpCN-Langevin with the Laplace reference, MALA and ULA preconditioned by the low-
rank Laplace covariance, DILI on the Laplace approximation's likelihood-informed subspace,
two-stage delayed acceptance (pCN; first stage: the map linearised at the MAP, whose
m adjoint solves count as that sampler's set-up; its surrogate evaluations are mat-vecs and
not counted as PDE solves), and the unpreconditioned pCN and pCN-Langevin as baselines.
Reported: acceptance, adapted scale, min/median bulk ESS over the k whitened coordinates ξ,
max R-hat, ms per step, min ESS per second and per 1000 PDE solves, ESS per step; and the
cost of one step against the limit "one numeric factorisation + 2 triangular-solve pairs" of
the same operator, measured just before and just after each sampler's run (the mean of the two).

Run: ``python benchmarks/function_space.py`` (about 10 minutes on 2 cores; ``--fine`` adds
128²; ``--quick`` is a smoke run). Writes ``benchmarks/results/function_space.json`` and
``function_space.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import bayesinv
from bayesinv.diagnostics import convergence_diagnostics
from bayesinv.errors import SamplerDivergenceError
from bayesinv.experiments.schrodinger_e1 import truth as true_theta

HERE = Path(__file__).resolve().parent

FULL = {"meshes": [32, 64], "N": 200, "snr": 60.0, "warmup": 500, "draws": 2000,
        "chains": 2, "baseline_meshes": [32, 64], "peer_meshes": [32, 64],
        "peer_baseline_meshes": [32], "pilot_steps": 100}
QUICK = {"meshes": [8, 12], "N": 50, "snr": 60.0, "warmup": 50, "draws": 100, "chains": 2,
         "baseline_meshes": [8], "peer_meshes": [8], "peer_baseline_meshes": [8],
         "pilot_steps": 20}
#: hIPPYlib's usual BiLaplacian coefficients (its tutorials' γ = 0.1, δ = 0.5): κ = √5,
#: practical range √8/κ ≈ 1.26, marginal variance 1/(4πγ²κ²) ≈ 1.6
GAMMA, DELTA = 0.1, 0.5
THRESHOLD = 0.1

# (label, method, sample() keyword arguments, uses the Laplace approximation, baseline: run
# on cfg["baseline_meshes"] only)
RUNS = [
    ("gpCN (Laplace reference)", "gpcn", {}, True, False),
    ("gpCN-Langevin (Laplace reference)", "gpcnl", {}, True, False),
    ("MALA + low-rank Laplace", "mala", {}, True, False),
    ("ULA + low-rank Laplace (δ = 0.1, biased)", "ula", {"step_size": 0.1}, True, False),
    ("pCN (baseline)", "pcn", {}, False, True),
    ("pCN-Langevin (baseline)", "pcnl", {}, False, True),
    ("DILI (LIS of the Laplace approximation)", "dili", {}, True, False),
    ("Delayed acceptance (pCN, map linearised at the MAP)", "da", {}, False, False),
]


def problem(n, cfg):
    from bayesinv import fem

    seeds = np.random.SeedSequence(2025).spawn(2)
    domain = fem.unit_square(n)
    design = fem.uniform_design(domain, cfg["N"], seed=seeds[0])
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0, link="exp")
    theta0 = domain.parameter_space.interpolate(true_theta)
    clean = forward(theta0)
    sigma = float(np.max(np.abs(clean - 1.0)) / cfg["snr"])
    data = bayesinv.simulate(forward, theta0, sigma, seed=seeds[1])
    gamma, delta = GAMMA, DELTA
    prior = bayesinv.WhittleMaternPrior.from_hippylib(domain, gamma=gamma, delta=delta)
    post = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, sigma))
    forward.counts.reset()
    return post, {"gamma": gamma, "delta": delta, "sigma": sigma,
                  "snr": bayesinv.signal_to_noise(clean, sigma, 1.0), "k": prior.latent_dim}


GRID = np.array([(i / 16, j / 16) for i in range(1, 16) for j in range(1, 16)])


def grid_nodes(post):
    """Indices of the parameter nodes at the 15 × 15 interior grid points (mesh vertices)."""
    coords = post.likelihood.forward.parameter_space.coordinates[:, :2]
    return np.array([int(np.argmin(((coords - p) ** 2).sum(axis=1))) for p in GRID])


def theta_at_grid(post, xi, nodes, block=500):
    """θ = T(ξ) at the grid nodes for draws ξ of shape (chain, draw, k), in blocks."""
    out = np.empty((*xi.shape[:2], nodes.size))
    for c in range(xi.shape[0]):
        for start in range(0, xi.shape[1], block):
            out[c, start:start + block] = post.prior.to_physical(
                xi[c, start:start + block])[:, nodes]
    return out


def grid_ess(values):
    """(min, median) bulk ESS and max R-hat over the grid values (chain, draw, point)."""
    from bayesinv.arviz_io import dataset_from_draws, ess, rhat

    data = dataset_from_draws({"t": values})
    e = ess(data, method="bulk")["t"].values
    return float(np.min(e)), float(np.median(e)), float(np.max(rhat(data)["t"].values))


def _solves(counts):
    return sum(counts.as_dict().values())


def setup(post):
    counts = post.likelihood.forward.counts
    t0, c0 = time.perf_counter(), _solves(counts)
    map_est = bayesinv.find_map(post, method="newton-cg")
    map_s, map_solves = time.perf_counter() - t0, _solves(counts) - c0
    t0, c0 = time.perf_counter(), _solves(counts)
    approx = bayesinv.laplace(post, map=map_est, threshold=THRESHOLD)
    lap_s, lap_solves = time.perf_counter() - t0, _solves(counts) - c0
    return map_est, approx, {
        "map_seconds": map_s, "map_solves": map_solves, "map_iterations": map_est.iterations,
        "map_success": map_est.success, "laplace_seconds": lap_s, "laplace_solves": lap_solves,
        "rank": approx.rank, "hessian_actions": approx.eigen.num_actions,
        "basis_size": approx.eigen.basis_size, "lambda_max": float(approx.values[0]),
        "lambda_min_kept": float(approx.values[-1]), "converged": approx.eigen.converged,
        "setup_seconds": map_s + lap_s, "setup_solves": map_solves + lap_solves}


def step_limit(post, theta, rounds=7):
    """Median seconds of one numeric factorisation + 2 triangular-solve pairs of A(Φ(θ))."""
    G = post.likelihood.forward
    factor = G._factorize(G.link(theta))
    rhs = np.ones(G._split.num_free)

    def limit():
        G._factorizer._refactor(factor)
        factor(rhs)
        factor(rhs)

    limit()
    reps = max(3, int(0.2 / max(_time(limit), 1e-6)))
    return float(np.median([_time(limit, reps) for _ in range(rounds)]))


def _time(fn, reps=1):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def run_sampler(post, map_est, approx, method, kw, use_laplace, cfg):
    if use_laplace:
        kw = {**kw, "preconditioner": approx}
    idata = bayesinv.sample(post, method, draws=cfg["draws"], warmup=cfg["warmup"],
                            chains=cfg["chains"], seed=7, init=map_est, store_theta=False,
                            diagnostics=False, progress=False, **kw)
    diag = convergence_diagnostics(idata, "xi")
    grid_min, grid_med, grid_rhat = grid_ess(theta_at_grid(
        post, idata.posterior["xi"].values, grid_nodes(post)))
    seconds = idata.attrs["sampling_time"]
    solves = idata.attrs["num_forward_solves"] + idata.attrs["num_adjoint_solves"]
    steps = cfg["chains"] * (cfg["warmup"] + cfg["draws"])
    ess_min = float(np.nanmin(diag["ess_bulk"]))
    return {
        "step_size": np.atleast_1d(idata.attrs["step_size"]).tolist(),
        "acceptance_rate": float(idata.sample_stats["acceptance_rate"].mean()),
        "divergences": int(idata.attrs["num_divergent"]),
        "seconds": seconds, "pde_solves": int(solves),
        "ms_per_step": 1e3 * seconds / steps,
        "ess_bulk_min": ess_min, "ess_bulk_median": float(np.nanmedian(diag["ess_bulk"])),
        "ess_tail_min": float(np.nanmin(diag["ess_tail"])),
        "rhat_max": float(np.nanmax(diag["rhat"])),
        "min_ess_per_second": ess_min / seconds,
        "min_ess_per_1000_solves": 1e3 * ess_min / solves,
        "min_ess_per_step": ess_min / (cfg["chains"] * cfg["draws"]),
        "grid_ess_min": grid_min, "grid_ess_median": grid_med, "grid_rhat_max": grid_rhat,
        "grid_ess_per_second": grid_min / seconds,
        "grid_ess_per_1000_solves": 1e3 * grid_min / solves,
        # the sampler's own set-up beyond the shared MAP + Hessian (DA: its linearised map)
        "sampler_setup_solves": int(idata.attrs.get("num_setup_solves", 0)),
        **({"surrogate_solves": int(idata.attrs["num_surrogate_solves"])}
           if "num_surrogate_solves" in idata.attrs else {}),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fine", action="store_true", help="also run 128²")
    parser.add_argument("--output", default=str(HERE / "results"))
    parser.add_argument("--hippylib-python", default=str(DEFAULT_PEER),
                        help="an interpreter with legacy FEniCS and hippylib")
    parser.add_argument("--meshes", type=int, nargs="*", help="mesh sizes (default 32 64)")
    parser.add_argument("--draws", type=int, help="kept draws per chain (default 2000)")
    parser.add_argument("--warmup", type=int, help="warm-up steps per chain (default 500)")
    parser.add_argument("--samplers", nargs="*", choices=[r[1] for r in RUNS],
                        help="only these bayesinv samplers (default: all)")
    parser.add_argument("--peer-meshes", type=int, nargs="*",
                        help="meshes on which hIPPYlib runs too (default 32 64)")
    parser.add_argument("--peer-samplers", nargs="*", choices=sorted(PEER_SAMPLERS),
                        help="hIPPYlib samplers to run (default: gpCN; all three on the "
                             "baseline meshes)")
    parser.add_argument("--merge", nargs="*", type=Path,
                        help="only merge the meshes of these JSON reports into one report")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.fine and not args.quick:
        cfg["meshes"] = [*cfg["meshes"], 128]
    if args.meshes:
        cfg["meshes"] = args.meshes
    if args.peer_meshes is not None:
        cfg["peer_meshes"] = args.peer_meshes
    for key in ("draws", "warmup"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stem = "function_space_quick" if args.quick else "function_space"
    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        for part in parts:
            for m in part["meshes"]:
                m.setdefault("warmup", part["config"]["warmup"])
                m.setdefault("draws", part["config"]["draws"])
        report = {**parts[0], "meshes": sorted((m for p in parts for m in p["meshes"]),
                                               key=lambda m: m["mesh"]),
                  "runs": [{"date": p["date"], "load_average": p["load_average"],
                            "meshes": [m["mesh"] for m in p["meshes"]]} for p in parts]}
        (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
        (out / f"{stem}.md").write_text(markdown(report))
        print(f"wrote {out / (stem + '.json')} and {stem}.md")
        return report
    meshes = []
    for n in cfg["meshes"]:
        post, info = problem(n, cfg)
        map_est, approx, su = setup(post)
        limit = step_limit(post, map_est.theta)
        print(f"[{n}²] k = {info['k']}, SNR {info['snr']:.0f}: MAP {su['map_seconds']:.1f} s "
              f"({su['map_solves']} solves, {su['map_iterations']} it.), low-rank Hessian "
              f"{su['laplace_seconds']:.1f} s (rank {su['rank']}, {su['laplace_solves']} "
              f"solves, λ_max {su['lambda_max']:.3g}); limit {limit * 1e3:.2f} ms", flush=True)
        rows = []
        for label, method, kw, use_laplace, baseline in RUNS:
            if baseline and n not in cfg["baseline_meshes"]:
                continue
            if args.samplers and method not in args.samplers:
                continue
            before = step_limit(post, map_est.theta)
            try:
                row = {"sampler": label, "method": method,
                       **run_sampler(post, map_est, approx, method, kw, use_laplace, cfg)}
            except SamplerDivergenceError as exc:
                print(f"[{n}²] {label}: diverged ({str(exc)[:80]}...)", flush=True)
                rows.append({"sampler": label, "method": method, "diverged": True})
                continue
            # the limit measured just before and just after this sampler's run: on a shared
            # machine the load changes between samplers, and the ratio should see the same load
            row["limit_ms"] = 1e3 * 0.5 * (before + step_limit(post, map_est.theta))
            row["step_over_limit"] = row["ms_per_step"] / row["limit_ms"]
            rows.append(row)
            print(f"[{n}²] {label:42s} acc {row['acceptance_rate']:.2f} step "
                  f"{np.mean(row['step_size']):.3g}  min ESS {row['ess_bulk_min']:7.1f} "
                  f"R-hat {row['rhat_max']:.3f}  {row['min_ess_per_second']:.3g} ESS/s  "
                  f"{row['min_ess_per_1000_solves']:.3g}/1000 solves  "
                  f"{row['ms_per_step']:.2f} ms/step ({row['step_over_limit']:.2f}× limit)",
                  flush=True)
        entry = {"mesh": n, **info, "setup": su, "limit_ms": 1e3 * limit, "rows": rows,
                 "warmup": cfg["warmup"], "draws": cfg["draws"]}
        peer = Path(args.hippylib_python)
        if peer.exists() and n in cfg["peer_meshes"]:
            samplers = args.peer_samplers or [
                m for m in ("gpcn", "mala", "pcn") if m == "gpcn" or
                n in cfg["peer_baseline_meshes"]]
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    entry["hippylib"] = run_hippylib(peer, post, info, approx, n, cfg,
                                                     samplers, Path(tmp))
            except Exception as exc:  # the peer is optional: record why it failed
                print(f"[{n}²] hIPPYlib failed: {exc}", flush=True)
                entry["hippylib_error"] = str(exc)[:500]
        elif not peer.exists():
            entry["hippylib_error"] = f"no hIPPYlib interpreter at {peer}"
        meshes.append(entry)
        report = _report(args, cfg, meshes)
        (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    report = _report(args, cfg, meshes)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    (out / f"{stem}.md").write_text(markdown(report))
    print(f"wrote {out / (stem + '.json')} and {stem}.md")
    return report


def _report(args, cfg, meshes):
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
                   f"numba {numba.__version__}, numpy {np.__version__}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg()[0], "quick": args.quick, "config": cfg,
        "prior": {"gamma": GAMMA, "delta": DELTA}, "threshold": THRESHOLD,
        "meshes": meshes,
    }


DEFAULT_PEER = Path("/work/peers/hippylib-venv/bin/python")
PEER_SAMPLERS = {"gpcn": "gpCN (hIPPYlib)", "mala": "∞-MALA (hIPPYlib)", "pcn": "pCN (hIPPYlib)"}


def run_hippylib(python, post, info, approx, n, cfg, samplers, tmp):
    """The same posterior in hIPPYlib (own interpreter): set-up and θ-grid ESS per sampler."""
    import subprocess

    like = post.likelihood
    settings = {"rank": approx.rank, "oversampling": 10, "samplers": samplers,
                "chains": cfg["chains"], "warmup": cfg["warmup"], "draws": cfg["draws"],
                "pilot_steps": cfg["pilot_steps"]}
    problem_file, out_file = tmp / f"hippylib_{n}.npz", tmp / f"hippylib_{n}_out.npz"
    np.savez(problem_file, mesh=n, design=like.forward.design, data=like.data,
             sigma=like.noise_std, gamma=info["gamma"], delta=info["delta"], grid=GRID,
             settings=json.dumps(settings))
    script = HERE / "_hippylib_schrodinger.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([str(python), str(script), str(problem_file), str(out_file)], check=True,
                   timeout=3600, env={**env, "OMP_NUM_THREADS": "1"})
    res = dict(np.load(out_file, allow_pickle=False))
    rows = []
    for name in samplers:
        meta = json.loads(str(res[f"{name}.info"]))
        g_min, g_med, g_rhat = grid_ess(res[f"{name}.theta"])
        steps = cfg["chains"] * (cfg["warmup"] + cfg["draws"])
        rows.append({"sampler": PEER_SAMPLERS[name], "method": name, **meta,
                     "acceptance_rate": float(np.mean(meta["acceptance_rate"])),
                     "ms_per_step": 1e3 * meta["seconds"] / steps,
                     "grid_ess_min": g_min, "grid_ess_median": g_med, "grid_rhat_max": g_rhat,
                     "grid_ess_per_second": g_min / meta["seconds"],
                     "grid_ess_per_1000_solves": 1e3 * g_min / max(meta["pde_solves"], 1)})
        print(f"[{n}²] {PEER_SAMPLERS[name]:42s} acc {rows[-1]['acceptance_rate']:.2f}  "
              f"θ-grid min ESS {g_min:7.1f} R-hat {g_rhat:.3f}  "
              f"{rows[-1]['grid_ess_per_second']:.3g} ESS/s  "
              f"{rows[-1]['ms_per_step']:.2f} ms/step", flush=True)
    return {"setup": json.loads(str(res["setup"])), "rows": rows}


def markdown(report) -> str:
    cfg = report["config"]
    lines = [
        "# Function-space sampling: low-rank Laplace samplers", "",
        f"Machine: {report['machine']}; "
        + ("; ".join(f"meshes {', '.join(f'{n}²' for n in r['meshes'])} measured in one run "
                     f"({r['date']}, load average {r['load_average']:.1f})"
                     for r in report.get("runs", []))
           or f"measured in one run ({report['date']}, load average "
              f"{report['load_average']:.1f})")
        + ". Timings on a shared 2-core machine are noisy; compare ratios within one mesh.", "",
        f"Schrödinger ½Δu − e^θ u = 0, u = 1 on ∂(0,1)², N = {cfg['N']}, SNR "
        f"{cfg['snr']:.0f}, `WhittleMaternPrior.from_hippylib` (β = 1, Robin, γ = "
        f"{report['prior']['gamma']}, δ = {report['prior']['delta']}), every "
        f"chain from the MAP; {cfg['chains']} chains × (warm-up + draws) steps, per mesh: "
        + ", ".join(f"{m['mesh']}²: {m.get('warmup', cfg['warmup'])} + "
                    f"{m.get('draws', cfg['draws'])}" for m in report["meshes"])
        + "; ESS over the k whitened coordinates ξ. Low-rank Hessian: "
        f"eigenvalues ≥ {report['threshold']} kept.", "",
        "## Set-up (once per mesh, shared by the samplers)", "",
        "| mesh | k | MAP s | MAP solves | low-rank Hessian s | solves | rank | λ_max | "
        "set-up s | limit ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in report["meshes"]:
        s = m["setup"]
        lines.append(
            f"| {m['mesh']}² | {m['k']} | {s['map_seconds']:.1f} | {s['map_solves']} | "
            f"{s['laplace_seconds']:.1f} | {s['laplace_solves']} | {s['rank']} | "
            f"{s['lambda_max']:.3g} | {s['setup_seconds']:.1f} | {m['limit_ms']:.2f} |")
    lines += ["", "\"limit\": one numeric factorisation + 2 triangular-solve pairs of the "
              "operator at the MAP (the forward map's own factoriser).", "",
              "## Samplers", "",
              "| mesh | sampler | scale | acc. | min ESS | median ESS | max R-hat | ms/step | "
              "limit ms (around the run) | step / limit | min ESS/s | min ESS / 1000 solves | "
              "min ESS / step |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in report["meshes"]:
        for r in m["rows"]:
            if r.get("diverged"):
                lines.append(f"| {m['mesh']}² | {r['sampler']} | diverged (too many "
                             f"non-finite steps) |" + " |" * 10)
                continue
            lines.append(
                f"| {m['mesh']}² | {r['sampler']} | {np.mean(r['step_size']):.3g} | "
                f"{r['acceptance_rate']:.2f} | {r['ess_bulk_min']:.0f} | "
                f"{r['ess_bulk_median']:.0f} | {r['rhat_max']:.3f} | {r['ms_per_step']:.2f} | "
                f"{r.get('limit_ms', m['limit_ms']):.2f} | {r['step_over_limit']:.2f} | "
                f"{r['min_ess_per_second']:.3g} | "
                f"{r['min_ess_per_1000_solves']:.3g} | {r['min_ess_per_step']:.3f} |")
    lines += ["", "## Side by side with hIPPYlib (same posterior, θ at a 15 × 15 interior grid)",
              "", "hIPPYlib 3.2.0 on legacy FEniCS 2019.2 (Debian's `python3-dolfin`, own "
              "venv), same mesh, design, data, σ and BiLaplacian prior; MAP by its inexact "
              "Newton–CG (Gauss–Newton), low-rank Hessian by `doublePassG` with bayesinv's "
              "rank; its step sizes (not adapted by hIPPYlib) from pilot runs on a grid "
              "(pilot time excluded). ESS over θ at the 225 grid nodes, for both libraries.", ""]
    for m in report["meshes"]:
        if "hippylib" not in m:
            if "hippylib_error" in m:
                lines += [f"{m['mesh']}²: hIPPYlib not run in this report "
                          f"({m['hippylib_error']}).", ""]
            continue
        h = m["hippylib"]
        hs = h["setup"]
        lines += [f"### {m['mesh']}²", "",
                  f"Set-up: bayesinv {m['setup']['setup_seconds']:.1f} s "
                  f"({m['setup']['setup_solves']} solves), hIPPYlib "
                  f"{hs['map_seconds'] + hs['laplace_seconds']:.1f} s "
                  f"({hs['map_solves'] + hs['laplace_solves']} solves; MAP "
                  f"{hs['map_seconds']:.1f} s, Hessian {hs['laplace_seconds']:.1f} s, rank "
                  f"{hs['rank']}, λ_max {hs['lambda_max']:.3g}).", "",
                  "| library | sampler | scale | acc. | θ-grid min ESS | max R-hat | ms/step | "
                  "min ESS/s | min ESS / 1000 solves |", "|---|---|---|---|---|---|---|---|---|"]
        for r in m["rows"]:
            if r.get("diverged"):
                continue
            lines.append(
                f"| bayesinv | {r['sampler']} | {np.mean(r['step_size']):.3g} | "
                f"{r['acceptance_rate']:.2f} | {r['grid_ess_min']:.0f} | "
                f"{r['grid_rhat_max']:.3f} | {r['ms_per_step']:.2f} | "
                f"{r['grid_ess_per_second']:.3g} | {r['grid_ess_per_1000_solves']:.3g} |")
        for r in h["rows"]:
            lines.append(
                f"| hIPPYlib | {r['sampler']} | {r['parameter']:.3g} | "
                f"{r['acceptance_rate']:.2f} | {r['grid_ess_min']:.0f} | "
                f"{r['grid_rhat_max']:.3f} | {r['ms_per_step']:.2f} | "
                f"{r['grid_ess_per_second']:.3g} | {r['grid_ess_per_1000_solves']:.3g} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
