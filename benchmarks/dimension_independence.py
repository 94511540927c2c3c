"""Dimension independence of bayesinv's Laplace-based samplers: same steps and chains at every mesh.

Reuses the posterior and set-up of ``benchmarks/function_space.py`` (Schrödinger, BiLaplacian
prior, MAP + low-rank Laplace approximation) and runs only gpCN, gpCN-Langevin, DILI and MALA
preconditioned by the low-rank Laplace covariance at 32², 64² and 128² with the SAME number of
warm-up steps, draws and chains. Reported per sampler and mesh: acceptance rate, min/median
bulk ESS over the whitened coordinates ξ per 1000 kept steps (pooled, and the spread of the
per-chain min ESS as the uncertainty), max R-hat, and the ratio 128²/32² (issue 15, item 6:
within 20 % counts as dimension independent).

Run: ``nice -n 10 python benchmarks/dimension_independence.py`` (``--quick`` is a smoke run on
8² and 12²). Writes ``benchmarks/results/dimension_independence{,_quick}.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

import bayesinv
from bayesinv.diagnostics import convergence_diagnostics

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_function_space", HERE / "function_space.py")
fs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fs)

METHODS = ["gpcn", "gpcnl", "dili", "mala"]
FULL = {**fs.FULL, "meshes": [32, 64, 128], "warmup": 300, "draws": 1500, "chains": 2}
QUICK = {**fs.QUICK, "meshes": [8, 12], "warmup": 30, "draws": 60, "chains": 2}


def run(post, map_est, approx, method, cfg):
    idata = bayesinv.sample(post, method, draws=cfg["draws"], warmup=cfg["warmup"],
                            chains=cfg["chains"], seed=7, init=map_est, store_theta=False,
                            diagnostics=False, progress=False, preconditioner=approx)
    diag = convergence_diagnostics(idata, "xi")
    per_chain = [float(np.nanmin(convergence_diagnostics(
        idata.sel(chain=[c]), "xi")["ess_bulk"])) for c in idata.posterior.chain.values]
    scale = 1e3 / (cfg["chains"] * cfg["draws"])
    # a single chain's ESS per 1000 of its own steps
    chain_scale = 1e3 / cfg["draws"]
    return {
        "acceptance_rate": float(idata.sample_stats["acceptance_rate"].mean()),
        "ess_min_per_1000": scale * float(np.nanmin(diag["ess_bulk"])),
        "ess_median_per_1000": scale * float(np.nanmedian(diag["ess_bulk"])),
        "chain_ess_min_per_1000": [chain_scale * e for e in per_chain],
        "chain_ess_min_per_1000_sd": float(np.std([chain_scale * e for e in per_chain], ddof=1))
        if len(per_chain) > 1 else float("nan"),
        "ess_bulk_min": float(np.nanmin(diag["ess_bulk"])),
        "rhat_max": float(np.nanmax(diag["rhat"])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(HERE / "results"))
    parser.add_argument("--meshes", type=int, nargs="*")
    parser.add_argument("--draws", type=int)
    parser.add_argument("--warmup", type=int)
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("meshes", "draws", "warmup"):
        if getattr(args, key):
            cfg[key] = getattr(args, key)
    report = {"config": cfg, "meshes": []}
    for n in cfg["meshes"]:
        post, info = fs.problem(n, cfg)
        map_est, approx, setup = fs.setup(post)
        rows = {m: run(post, map_est, approx, m, cfg) for m in METHODS}
        report["meshes"].append({"mesh": n, "k": info["k"], "rank": setup["rank"], "rows": rows})
        print(n, {m: (round(r["acceptance_rate"], 2), round(r["ess_min_per_1000"], 1))
                  for m, r in rows.items()}, flush=True)
    first, last = report["meshes"][0], report["meshes"][-1]
    report["ratios"] = {m: {
        "acceptance": last["rows"][m]["acceptance_rate"] / first["rows"][m]["acceptance_rate"],
        "ess_min_per_step": last["rows"][m]["ess_min_per_1000"]
        / first["rows"][m]["ess_min_per_1000"]} for m in METHODS}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stem = "dimension_independence" + ("_quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out / f"{stem}.md").write_text(markdown(report))
    return report


def markdown(report) -> str:
    cfg = report["config"]
    lines = ["# Dimension independence (issue 15, item 6)", "",
             f"Same run at every mesh: {cfg['chains']} chains × ({cfg['warmup']} warm-up + "
             f"{cfg['draws']} draws), started at the MAP. ESS: bulk, over the whitened "
             "coordinates ξ, per 1000 kept steps; ± the standard deviation of the per-chain "
             "min ESS.", "",
             "| mesh | k | rank | sampler | acceptance | min ESS/1000 | per-chain min ± sd "
             "| median ESS/1000 | max R-hat |", "|---|---|---|---|---|---|---|---|---|"]
    for mesh in report["meshes"]:
        for m, r in mesh["rows"].items():
            lines.append(
                f"| {mesh['mesh']}² | {mesh['k']} | {mesh['rank']} | {m} | "
                f"{r['acceptance_rate']:.2f} | {r['ess_min_per_1000']:.1f} | "
                f"{np.mean(r['chain_ess_min_per_1000']):.1f} ± "
                f"{r['chain_ess_min_per_1000_sd']:.1f} | {r['ess_median_per_1000']:.1f} | "
                f"{r['rhat_max']:.3f} |")
    first, last = report["meshes"][0]["mesh"], report["meshes"][-1]["mesh"]
    lines += ["", f"Ratios {last}²/{first}²:", "", "| sampler | acceptance | min ESS per step |",
              "|---|---|---|"]
    for m, r in report["ratios"].items():
        lines.append(f"| {m} | {r['acceptance']:.2f} | {r['ess_min_per_step']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
