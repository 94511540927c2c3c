"""Cost of a Metropolis-within-Gibbs step with hyperparameters, against the same kernel
without them.

A Schrödinger posterior (P1 on the unit square with n × n cells, N = 200 design points, a
Whittle–Matérn prior, σ = 0.05) sampled by MALA and pCN-Langevin (fixed step, no warm-up, one
chain) with:

* *known σ, τ*: the kernel alone (one forward and one adjoint solve per step);
* *unknown σ*: :class:`bayesinv.likelihoods.UnknownNoiseLikelihood`, the conjugate σ draw
  after each step; the gradient at the new σ is the old one times σ²/σ′² (no solve);
* *unknown τ*: :class:`bayesinv.hierarchical.ScaledPrior`, a Metropolis step on log τ (one
  forward and one adjoint solve, whose gradient is kept when it is accepted) and the
  interweaving move (no solve: the gradient scales by τ′/τ);
* *σ of one part*: a :class:`bayesinv.likelihoods.JointLikelihood` of two halves of the
  data, the first with unknown σ: the gradient does not simply scale, so it is recomputed
  (one more forward and adjoint solve).

Per case: seconds per step (median of ``--rounds`` runs of ``--steps`` steps), forward and
adjoint solves per step from the maps' counters, and the ratio of the step time to the known
case's in the same run (:mod:`bayesinv.samplers.gibbs`).

Run: ``python benchmarks/hyperparameters.py`` (``--quick``: a smoke run at 8²).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

import bayesinv
from bayesinv import fem
from bayesinv.hierarchical import ScaledPrior
from bayesinv.likelihoods import JointLikelihood, UnknownNoiseLikelihood

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import benchmark_parser, record_run, write_report

NOISE = 0.05


def posteriors(n: int, num_points: int) -> dict[str, tuple[bayesinv.Posterior, list]]:
    """{case: (posterior, the forward maps whose solves count)}."""
    domain = fem.unit_square(n)
    design = fem.uniform_design(domain, num_points, seed=1)
    prior = bayesinv.WhittleMaternPrior.from_hippylib(domain, gamma=0.1, delta=1.0)
    truth = prior.sample(np.random.default_rng(2))
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0)
    data = bayesinv.simulate(forward, truth, NOISE, seed=3)
    half = num_points // 2
    first = fem.SchrodingerMap(domain, design[:half], boundary_value=1.0)
    second = fem.SchrodingerMap(domain, design[half:], boundary_value=1.0)
    joint = JointLikelihood([UnknownNoiseLikelihood(first, data[:half], 3.0, 0.01),
                             bayesinv.GaussianLikelihood(second, data[half:], NOISE)])
    known = bayesinv.GaussianLikelihood(forward, data, NOISE)
    return {
        "known σ, τ": (bayesinv.Posterior(prior, known), [forward]),
        "unknown σ": (bayesinv.Posterior(
            prior, UnknownNoiseLikelihood(forward, data, 3.0, 0.01)), [forward]),
        "unknown τ": (bayesinv.Posterior(ScaledPrior(prior, 2.0, 1.0), known), [forward]),
        "σ of one part": (bayesinv.Posterior(prior, joint), [first, second]),
    }


def _solves(maps: list) -> np.ndarray:
    """(forward, adjoint) solves so far; a joint likelihood's parts count once each."""
    return np.array([max(m.counts.forward for m in maps), max(m.counts.adjoint for m in maps)])


def _sample(posterior: bayesinv.Posterior, method: str, steps: int, seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayesinv.sample(posterior, method, draws=steps, chains=1, seed=seed, step_size=0.05,
                        init="prior", diagnostics=False, progress=False, store_theta=False)


def run(n: int, num_points: int, methods: list[str], steps: int, rounds: int) -> dict:
    cases = posteriors(n, num_points)
    rows = []
    for method in methods:
        known_seconds = None
        for name, (posterior, maps) in cases.items():
            times, solves = [], None
            _sample(posterior, method, 2, seed=99)   # compile the kernels first
            for r in range(rounds):
                before = _solves(maps)
                start = time.perf_counter()
                _sample(posterior, method, steps, seed=r)
                times.append((time.perf_counter() - start) / steps)
                solves = (_solves(maps) - before - 1) / steps   # minus the initial evaluation
            seconds = float(np.median(times))
            known_seconds = seconds if known_seconds is None else known_seconds
            rows.append({"method": method, "case": name, "seconds_per_step": seconds,
                         "forward_per_step": float(solves[0]),
                         "adjoint_per_step": float(solves[1]),
                         "ratio_to_known": seconds / known_seconds})
    return {"mesh": n, "num_points": num_points, "steps": steps, "results": rows}


def markdown(report: dict) -> str:
    lines = [
        "# Gibbs steps with hyperparameters (`benchmarks/hyperparameters.py`)", "",
        f"Schrödinger, {report['mesh']}² cells, N = {report['num_points']}, "
        f"{report['steps']} steps per round, median of {report['rounds']} rounds; "
        f"{report['machine']['cpus']} CPUs, load {report['machine']['load_average_start'][0]:.2f}"
        f" at the start, {report['date']}.", "",
        "| method | case | ms / step | forward / step | adjoint / step | × known |",
        "|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['method']} | {r['case']} | {1e3 * r['seconds_per_step']:.2f} | "
                     f"{r['forward_per_step']:.2f} | {r['adjoint_per_step']:.2f} | "
                     f"{r['ratio_to_known']:.2f} |")
    lines += [
        "", "Solves per step are those of one map: each of the two parts of the joint",
        "likelihood solves the PDE on the whole mesh, so an evaluation there costs two forward",
        "and two adjoint solves (× known ≈ 2 evaluations × 2 maps). Unknown σ costs no solve",
        "beyond the kernel's (the gradient is rescaled by σ²/σ′²); unknown τ one forward and",
        "adjoint pair for its Metropolis proposal (the interweaving move rescales by τ′/τ)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = benchmark_parser(__doc__, sizes=[64], rounds=3)
    parser.add_argument("--methods", nargs="+", default=["mala", "pcnl"])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.num_points, args.steps, args.rounds = [8], 20, 10, 1
    report = record_run(lambda: run(args.sizes[0], args.num_points, args.methods, args.steps,
                                    args.rounds), rounds=args.rounds)
    write_report(report, args.output, "hyperparameters", markdown)
    return report


if __name__ == "__main__":
    main()
