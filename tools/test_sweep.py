"""The seed and platform sweep of the statistical tests (``make test-sweep``).

Runs every test marked ``@pytest.mark.statistical(alpha=...)`` with K seeds (pytest option
``--stat-seeds K``) under several OpenBLAS kernels (``OPENBLAS_CORETYPE``, set for those pytest
processes only), then prints, per test, the failures against the expected count α × runs and
a one-sided binomial p-value. A test failing far more often than its stated α is
miscalibrated (or the code is wrong); the sweep exits 1 when any test's p-value is below
``--p-min``.

    python tools/test_sweep.py --seeds 20 --kernels default Sandybridge Haswell
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import scipy.stats

ROOT = Path(__file__).resolve().parents[1]


def supported_kernels() -> list[str]:
    """The machine's own setting ("default") plus the OpenBLAS kernels this CPU can run."""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    kernels = ["default", "Prescott"]
    if "avx" in flags:
        kernels.append("Sandybridge")
    if "avx2" in flags:
        kernels.append("Haswell")
    if "avx512f" in flags:
        kernels.append("SkylakeX")
    return kernels


def run(kernel: str, seeds: int, marker: str, extra: list[str]) -> list[dict]:
    env = dict(os.environ)
    if kernel != "default":
        env["OPENBLAS_CORETYPE"] = kernel
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pytest", "-m", marker, f"--stat-seeds={seeds}",
               f"--stat-report={report}", "-q", "-p", "no:cacheprovider", "-W",
               "ignore::pytest.PytestUnraisableExceptionWarning", *extra]
        print(f"[sweep] {kernel}: {' '.join(cmd[2:])}", flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
        print(f"[sweep] {kernel}: {' '.join(tail)}", flush=True)
        if not report.exists():
            sys.exit(f"pytest wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
                     f"\n{proc.stderr[-3000:]}")
        outcomes = json.loads(report.read_text())
    for o in outcomes:
        o["kernel"] = kernel
    return outcomes


def summarise(outcomes: list[dict], p_min: float) -> tuple[str, bool]:
    by_test = collections.defaultdict(lambda: {"runs": 0, "failed": 0, "alpha": 0.0,
                                               "kernels": collections.Counter()})
    for o in outcomes:
        if o["when"] == "call" or o["outcome"] == "failed":
            row = by_test[o["test"]]
            row["alpha"] = o["alpha"]
            if o["outcome"] == "skipped":
                continue
            row["runs"] += 1
            if o["outcome"] == "failed":
                row["failed"] += 1
                row["kernels"][o["kernel"]] += 1
    lines = ["| test | α | runs | failed | expected | p (one-sided) | failed under |",
             "|---|---|---|---|---|---|---|"]
    bad = False
    total_runs = total_failed = 0
    total_expected = 0.0
    for name, row in sorted(by_test.items()):
        n, k, a = row["runs"], row["failed"], row["alpha"]
        p = float(scipy.stats.binom.sf(k - 1, n, a)) if k else 1.0
        bad |= p < p_min
        total_runs += n
        total_failed += k
        total_expected += a * n
        where = ", ".join(f"{kern} {c}" for kern, c in row["kernels"].items())
        lines.append(f"| {name} | {a:g} | {n} | {k} | {a * n:.3f} | {p:.2g} | {where} |")
    lines.append(f"| **all** | | {total_runs} | {total_failed} | {total_expected:.2f} | | |")
    return "\n".join(lines), bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per test (K)")
    parser.add_argument("--kernels", nargs="*", default=None,
                        help="OPENBLAS_CORETYPE values ('default' = the machine's own); "
                             "default: every kernel this CPU supports")
    parser.add_argument("-m", "--marker", default="statistical",
                        help="pytest marker expression selecting the tests")
    parser.add_argument("--p-min", type=float, default=1e-3,
                        help="flag a test whose failure count has a p-value below this")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "test_sweep.md"))
    parser.add_argument("pytest_args", nargs="*", help="further pytest arguments (after --)")
    args = parser.parse_args(argv)
    kernels = args.kernels or supported_kernels()
    outcomes = []
    for kernel in kernels:
        outcomes += run(kernel, args.seeds, args.marker, args.pytest_args)
    table, bad = summarise(outcomes, args.p_min)
    header = (f"# Seed and platform sweep\n\n{args.seeds} seeds × kernels {', '.join(kernels)}"
              f" (marker `{args.marker}`)\n\n")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table + "\n")
    print(header + table)
    print(f"[sweep] written to {out}")
    if bad:
        print("[sweep] some tests fail more often than their stated false-failure rate")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
