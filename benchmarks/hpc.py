"""Executor benchmark: replicates per hour of a small E1 coverage study on each backend.

The study is the Schrödinger example config (``examples/configs/schrodinger.toml``, E1's
set-up: Laplace-preconditioned ULA from the MAP) at a small size. Each executor runs the
whole study from an empty results directory as the user would, ``bayesinv coverage ...`` in
a fresh process (``mpirun -n 2`` for MPI), so the times include start-up, the per-process
FEM set-up and numba's compilation or cache load in every worker:

* serial (``--executor serial``), local processes with 1 and 2 workers, MPI with 2 ranks,
  a Dask LocalCluster with 2 workers;
* scaling 1 → 2 workers = (replicates/hour with 2 local workers) / (with 1);
* every backend's per-replicate files are checked to be identical to the serial run's.

Run ``python benchmarks/hpc.py`` (a few minutes on 2 cores) or ``--quick`` (a smoke run, what
the tests do). Writes ``hpc.json`` and ``hpc.md`` to ``--output`` (default
``benchmarks/results``). On a shared or loaded machine the absolute numbers and the scaling
are pessimistic; the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "examples" / "configs" / "schrodinger.toml"

# the example config as it is (16² mesh, N = 300, 30 modes, 4 chains x 2000 draws, thin 4),
# 16 replicates
FULL = {"replicates = 40": "replicates = 16"}
QUICK = {"mesh = 16 ": "mesh = 8 ", "num_observations = 300": "num_observations = 60",
         "num_modes = 30": "num_modes = 8", "draws = 2000": "draws = 40",
         "warmup = 500": "warmup = 10", "thin = 4": "thin = 1", "chains = 4": "chains = 2",
         "replicates = 40": "replicates = 4", "rhat_max = 1.01": "rhat_max = 2.0",
         "ess_min = 400": "ess_min = 2", "sbc_draws = 99": "sbc_draws = 39"}

# (label, extra command-line arguments, under mpirun?)
EXECUTORS = [
    ("serial", ["--executor", "serial"], False),
    ("local, 1 worker", ["--executor", "local", "--workers", "1"], False),
    ("local, 2 workers", ["--executor", "local", "--workers", "2"], False),
    ("MPI, 2 ranks", ["--executor", "mpi"], True),
    ("Dask, 2 workers", ["--executor", "dask", "--workers", "2"], False),
]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def _config(path: Path, changes: dict) -> Path:
    text = CONFIG.read_text()
    for old, new in changes.items():
        if text.count(old) != 1:
            raise RuntimeError(f"{CONFIG} no longer contains {old!r} once")
        text = text.replace(old, new)
    path.write_text(text)
    return path


def _run(config: Path, output: Path, args, mpi: bool) -> float:
    command = [sys.executable, "-m", "bayesinv", "coverage", str(config), "--output",
               str(output), "--quiet", *args]
    if mpi:
        command = ["mpirun", "-n", "2", "-x", "PYTHONPATH", "-x", "OMPI_ALLOW_RUN_AS_ROOT",
                   "-x", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", *command]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return seconds


def _replicate_arrays(directory: Path) -> dict:
    from bayesinv.coverage.store import ReplicateStore

    store = ReplicateStore(directory)
    return store.load_results(range(store.manifest()["replicates"]))


def _identical(a: dict, b: dict) -> bool:
    """The same replicates with bit-identical results (NaN equal to NaN; wall time aside)."""
    if a.keys() != b.keys():
        return False
    for r in a:
        for key, value in a[r].items():
            x, y = np.asarray(value), np.asarray(b[r][key])
            if key != "wall_time" and not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (what tests do)")
    parser.add_argument("--output", default=str(HERE / "results"), help="output directory")
    args = parser.parse_args(argv)
    changes = QUICK if args.quick else FULL
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bayesinv-hpc-bench-") as tmp:
        tmp = Path(tmp)
        config = _config(tmp / "study.toml", changes)
        from bayesinv.hpc.config import load_config

        R = load_config(config)["coverage"]["replicates"]
        reference = None
        for label, extra, mpi in EXECUTORS:
            directory = tmp / label.replace(" ", "_").replace(",", "")
            seconds = _run(config, directory, extra, mpi)
            results = _replicate_arrays(directory)
            if reference is None:
                reference = results
            compute = [float(r["wall_time"]) for r in results.values()]
            rows.append({
                "executor": label, "seconds": seconds, "replicates": R,
                "replicates_per_hour": 3600.0 * R / seconds,
                "mean_replicate_seconds": float(np.mean(compute)),
                "identical_to_serial": _identical(reference, results),
            })
            shutil.rmtree(directory)
            print(f"{label:18s} {seconds:7.1f} s  {rows[-1]['replicates_per_hour']:8.0f} "
                  f"replicates/hour  identical: {rows[-1]['identical_to_serial']}")
    by = {row["executor"]: row for row in rows}
    scaling = by["local, 2 workers"]["replicates_per_hour"] / \
        by["local, 1 worker"]["replicates_per_hour"]
    report = {
        "benchmark": "hpc executors", "quick": args.quick, "config_changes": changes,
        "replicates": R, "results": rows, "scaling_local_1_to_2_workers": scaling,
        "cpu_count": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "python": platform.python_version(),
        "machine": platform.machine(),
    }
    stem = "hpc_quick" if args.quick else "hpc"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Executors: a small E1 coverage study ({R} replicates"
        f"{', quick' if args.quick else ''})", "",
        "Whole `bayesinv coverage` runs from an empty directory (start-up, FEM set-up and "
        "numba load per worker included), on "
        f"{os.cpu_count()} cores; load average before {load_before[0]:.2f}, after "
        f"{report['load_average_after'][0]:.2f} (a shared machine makes these pessimistic).",
        "", "| executor | seconds | replicates/hour | mean seconds per replicate (compute) "
        "| identical to serial |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['executor']} | {row['seconds']:.1f} | "
                     f"{row['replicates_per_hour']:.0f} | {row['mean_replicate_seconds']:.2f} "
                     f"| {'yes' if row['identical_to_serial'] else 'NO'} |")
    lines += ["", f"Scaling from 1 to 2 local workers: {scaling:.2f}x (ideal 2x)."]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
