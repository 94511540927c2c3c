"""Cost of the whitened prior map against a forward PDE solve, per prior family.

For each mesh (64² and 128² on the unit square) it times, in one run:

* one forward solve θ ↦ G(θ) of ``bayesinv.fem.SchrodingerMap`` (400 design points), which
  assembles and factorises the operator and solves once;
* per prior family, one whitened map ξ ↦ T(ξ) plus one transpose action v ↦ J_Tᵀ v (what a
  gradient-based sampler pays per step on top of the PDE solves), and the one-off set-up cost
  (eigenpairs, factorisations);
* the Robin calibration of the SPDE prior: RMS deviation of Var θ(x)/σ² from 1 along a line
  from the boundary to the centre, over Robin coefficients b = f·κ.

Writes ``benchmarks/results/priors.json`` and ``priors.md``. The forward solve and the prior
are timed alternately (the ratio is the median of per-pair ratios, robust to load drift),
with BLAS limited to one thread (``--threads``), for both the solves and the prior maps: on a
loaded 2-core machine a multi-threaded BLAS call waits milliseconds for its second thread,
which swamps sub-millisecond operations. The ratios are what to compare.

Run: ``PYTHONPATH=. python benchmarks/priors.py`` (about 5 minutes); ``--quick`` is a
30-second smoke run on 16² and 32² that writes to the temporary directory instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bayesinv.fem import SchrodingerMap, uniform_design, unit_square
from bayesinv.priors.interpolated import InterpolatedPrior
from bayesinv.priors.kernels import KernelPrior, MaternKernel
from bayesinv.priors.series import SeriesPrior
from bayesinv.priors.spde import WhittleMaternPrior

RESULTS = Path(__file__).parent / "results"
EIGEN_CACHE = Path(tempfile.mkdtemp(prefix="bayesinv-eigen-"))   # removed at the end
TARGET_RATIO = 0.2
DENSE_LIMIT_BYTES = 1.0e9   # beyond this a dense n×n kernel factor is not built


def paired_times(fn_a, fn_b, repeats: int):
    """Alternate the two calls ``repeats`` times (after a warm-up of each) and return the
    median time of each and the median of the per-pair ratios b/a: pairing makes the ratio
    robust to the machine's load drifting during the run."""
    fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fn_a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn_b()
        tb.append(time.perf_counter() - t)
    ta, tb = np.array(ta), np.array(tb)
    return float(np.median(ta)), float(np.median(tb)), float(np.median(tb / ta))


def timed(build):
    t = time.perf_counter()
    obj = build()
    return obj, time.perf_counter() - t


def families(domain, n: int, quick: bool):
    """(name, builder or None with the reason it is skipped)."""
    space = domain.parameter_space
    coarse = unit_square(32)
    nodes = space.num_dofs
    dense_bytes = 8.0 * nodes**2
    kernel = MaternKernel(2.5, 0.1)

    def fresh_series(**kw):
        domain.cache.clear()                                 # time the eigensolve too
        return SeriesPrior.laplacian(domain, alpha=2.0, cache_dir=EIGEN_CACHE, **kw)

    out = [
        ("series Dirichlet D=100", lambda: fresh_series(num_modes=100)),
        ("series Neumann D=100", lambda: fresh_series(num_modes=100, boundary="neumann")),
    ]
    if not quick:
        out.append(("series Dirichlet D=400", lambda: fresh_series(num_modes=400)))
    out += [
        ("SPDE β=1 (ν=1)", lambda: WhittleMaternPrior.from_matern(domain, length_scale=0.1)),
        ("SPDE β=2 (ν=3)", lambda: WhittleMaternPrior.from_matern(domain, length_scale=0.1,
                                                                 beta=2)),
        ("SPDE β=2 lumped", lambda: WhittleMaternPrior.from_matern(
            domain, length_scale=0.1, beta=2, noise="lumped")),
    ]
    if dense_bytes <= DENSE_LIMIT_BYTES and not quick:
        out += [
            ("kernel Matérn 5/2 Cholesky", lambda: KernelPrior.on_space(space, kernel,
                                                                        jitter=1e-8)),
            ("kernel Matérn 5/2 KL 99%", lambda: KernelPrior.on_space(space, kernel,
                                                                      factor="eigen")),
        ]
    else:
        why = ("not run in --quick mode" if quick else
               f"dense {nodes}×{nodes} factor needs {dense_bytes / 1e9:.1f} GB "
               f"(and O(n³) = {nodes**3 / 3e12:.1f}·10¹² flops to build)")
        out += [("kernel Matérn 5/2 Cholesky", why), ("kernel Matérn 5/2 KL 99%", why)]
    out.append(("kernel Matérn 5/2 Cholesky on 32² → interpolated",
                lambda: InterpolatedPrior.between(
                    KernelPrior.on_space(coarse.parameter_space, kernel, jitter=1e-8),
                    coarse.parameter_space, space)))
    return out


def bench_mesh(n: int, repeats: int, quick: bool) -> dict:
    domain = unit_square(n)
    space = domain.parameter_space
    G = SchrodingerMap(domain, uniform_design(domain, 400, seed=1))
    theta = 0.3 * np.sin(np.pi * space.coordinates[:, 0])
    forward_times = []
    rng = np.random.default_rng(0)
    rows = []
    for name, build in families(domain, n, quick):
        if isinstance(build, str):
            rows.append({"family": name, "skipped": build})
            print(f"{n}²  {name:48s} skipped: {build}", flush=True)
            continue
        prior, setup = timed(build)
        xi = rng.standard_normal(prior.latent_dim)
        v = rng.standard_normal(prior.dim)
        forward, per_step, ratio = paired_times(
            lambda: G(theta),
            lambda p=prior, x=xi, w=v: (p.to_physical(x), p.to_physical_vjp(x, w)), repeats)
        forward_times.append(forward)
        row = {"family": name, "latent_dim": prior.latent_dim, "setup_s": setup,
               "map_plus_transpose_s": per_step, "forward_solve_s": forward,
               "ratio_to_forward": ratio, "meets_target": ratio <= TARGET_RATIO}
        if name.startswith("series"):     # the same prior from the on-disk eigenpair cache
            _, row["setup_from_disk_cache_s"] = timed(build)
        rows.append(row)
        print(f"{n}²  {name:48s} k={prior.latent_dim:6d}  setup {setup:7.2f} s  "
              f"T+Jᵀ {1e3 * per_step:8.3f} ms  ratio {ratio:6.3f}", flush=True)
    return {"mesh": f"{n}x{n}", "vertices": space.num_dofs,
            "forward_solve_s": float(np.median(forward_times)),
            "families": rows}


def robin_scan(n: int = 64) -> dict:
    """RMS and max deviation of Var θ(x)/σ² − 1 on the line y = 1/2 from x = 0 to x = 1/2."""
    domain = unit_square(n)
    x = domain.parameter_space.coordinates
    line = np.flatnonzero((np.abs(x[:, 1] - 0.5) < 1e-12) & (x[:, 0] <= 0.5 + 1e-12))
    line = line[np.argsort(x[line, 0])]                     # from the boundary inwards
    out = {}
    for beta in (1, 2):
        rows = []
        for f in (0.0, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.65, 0.7, 1 / 1.42, 0.8, 1.0):
            kappa = np.sqrt(8 * (2 * beta - 1)) / 0.2
            prior = WhittleMaternPrior.from_matern(domain, length_scale=0.2, beta=beta,
                                                   robin=f * kappa)
            dev = prior.pointwise_variance(line) - 1.0
            rows.append({"factor": f, "rms": float(np.sqrt(np.mean(dev**2))),
                         "max": float(np.abs(dev).max()), "at_boundary": float(1 + dev[0])})
        out[f"beta={beta}"] = rows
    return out


NOTES = """\
* **SPDE priors** pay only sparse triangular solves with the factor of A computed once
  (β solve pairs for T and β for Jᵀ) while a forward solve also assembles and factorises.
  At 64²–128² a sparse Cholesky factorisation costs only about 5–8 triangular-solve pairs,
  so on a quiet machine β = 1 sits at the target (≈ 0.2) and β = 2 above it (≈ 0.3); the
  ratio falls slowly with refinement (solves cost O(nnz(L)), factorisations more). The
  consistent-mass noise root R = PᵀL adds two sparse triangular products with the Cholesky
  factor of M; the lumped variant avoids them and meets the target at β = 2.
* **Series priors** cost two dense products with the n×D factor, i.e. reading 2·8·n·D bytes:
  about 0.1× for D = 100 (and less for the theory's D ≈ N^{d/(2α+d)}, tens of modes), but
  D = 400 reads 27 MB (64²) to 107 MB (128²) per step and is memory-bandwidth bound at about
  0.4×. What would meet it there: fewer modes, float32 storage (half the bytes), or a fast
  sine transform on structured meshes (not general meshes). Computing the eigenpairs is the
  real set-up cost at large D (ARPACK's Lanczos work); the on-disk cache
  (``BAYESINV_CACHE_DIR``) turns it into a file read.
* **Dense kernel factors** cannot meet the target on fine meshes: T and Jᵀ each read the
  n×n Cholesky factor (143 MB at 64², 2.2 GB at 128², which is not even built here), so the
  cost is O(n²) per step against a sparse solve's ≈ O(n^{1.5}). What comes closer: the
  truncated KL factor (n×r with r ≪ n; 0.25× at 64²), the kernel on a coarser parameter mesh
  interpolated to the state mesh (its cost no longer grows with the state mesh: 0.08× at
  128²), or the SPDE prior, which is the sparse counterpart of a Matérn kernel.
* Measured on a loaded machine the ratios looked better (the forward solve slowed more
  than the prior's products): compare ratios from quiet runs.
"""


def write_markdown(result: dict, path: Path) -> None:
    lines = ["# Prior cost relative to a forward solve", "",
             f"Machine: {result['machine']} ({result['cpus']} CPUs, shared; timings noisy; "
             f"BLAS threads: {result['blas_threads']}). "
             f"Target: one whitened map + one transpose action ≤ {TARGET_RATIO}× one forward "
             "solve of `SchrodingerMap` (assemble + sparse Cholesky + solve) on the same mesh.",
             ""]
    for mesh in result["meshes"]:
        lines += [f"## {mesh['mesh']} ({mesh['vertices']} vertices), forward solve "
                  f"{1e3 * mesh['forward_solve_s']:.1f} ms (median over the rows; each ratio is "
                  "the median of paired ratios)", "",
                  "| prior | latent dim | set-up (s) | set-up, disk cache (s) | T + Jᵀ (ms) | "
                  "ratio | ≤ target |",
                  "|---|---:|---:|---:|---:|---:|:---:|"]
        for r in mesh["families"]:
            if "skipped" in r:
                lines.append(f"| {r['family']} | – | – | – | – | – | skipped: {r['skipped']} |")
            else:
                disk = r.get("setup_from_disk_cache_s")
                disk = "–" if disk is None else f"{disk:.2f}"
                lines.append(f"| {r['family']} | {r['latent_dim']} | {r['setup_s']:.2f} | {disk} | "
                             f"{1e3 * r['map_plus_transpose_s']:.3f} | "
                             f"{r['ratio_to_forward']:.3f} | "
                             f"{'yes' if r['meets_target'] else 'NO'} |")
        lines.append("")
    lines += ["## Robin coefficient b = f·κ of the SPDE prior (64², ℓ = 0.2)", "",
              "Deviation of Var θ(x)/σ² from 1 on the line from (0, ½) to (½, ½).", "",
              "| β | f | RMS | max | at the boundary |", "|---:|---:|---:|---:|---:|"]
    for key, rows in result["robin_scan"].items():
        for r in rows:
            lines.append(f"| {key[5:]} | {r['factor']:.3f} | {r['rms']:.4f} | {r['max']:.3f} | "
                         f"{r['at_boundary']:.3f} |")
    lines += ["", "## Reading the table", "", NOTES]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small meshes, few repeats")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args()
    try:
        with threadpool_limits(limits=args.threads):
            run(args)
    finally:
        shutil.rmtree(EIGEN_CACHE, ignore_errors=True)


def run(args) -> None:
    sizes, repeats = ((16, 32), 3) if args.quick else ((64, 128), 15)
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "target_ratio": TARGET_RATIO, "quick": args.quick, "blas_threads": args.threads,
              "meshes": [bench_mesh(n, repeats, args.quick) for n in sizes],
              "robin_scan": robin_scan(32 if args.quick else 64)}
    out = Path(tempfile.gettempdir()) if args.quick else RESULTS   # --quick: a smoke run
    out.mkdir(exist_ok=True)
    stem = "priors_quick" if args.quick else "priors"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / f"{stem}.md")
    print(f"wrote {out / stem}.json and .md")


if __name__ == "__main__":
    main()
