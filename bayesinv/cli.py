"""The ``bayesinv`` command: run inversions and coverage studies from TOML configs.

::

    bayesinv run CONFIG            one inversion -> posterior.nc, summary.json, posterior.png
    bayesinv coverage CONFIG       a coverage study -> one file per replicate, coverage.nc
    bayesinv status DIR            done / running / failed / stale / missing replicates
    bayesinv report DIR            tables and figures from the finished replicates

``coverage`` resumes: rerun the same command after a crash, a pre-emption or a time-out and
only the missing replicates run. As a SLURM array job (``SLURM_ARRAY_TASK_ID`` set) or with
``--task-id K --num-tasks N`` it runs task K's contiguous block of replicates; under
``mpirun -n P ... --executor mpi`` each rank runs every P-th replicate. Exit codes: 0 done
(or this share done), 1 interrupted (a worker died: rerun to resume), 2 bad config or
arguments, 143 stopped by SIGTERM (rerun to resume). Also ``python -m bayesinv``.
"""

from __future__ import annotations

import argparse
import signal
import sys

from .errors import BayesinvError, ConfigError
from .hpc.config import EXECUTORS


class Preempted(SystemExit):
    """Raised in the main process on SIGTERM (a pre-empted or cancelled job)."""


def _on_sigterm(signum, frame):
    raise Preempted(143)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesinv", description="Bayesian inverse problems: inversions and coverage "
        "studies from TOML experiment configs (examples/configs/*.toml).")
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"bayesinv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="one inversion: InferenceData netCDF + figures",
                         description="Simulate data from the config's truth, sample the "
                         "posterior, write posterior.nc, summary.json and posterior.png.")
    run.add_argument("config", help="TOML experiment config")
    run.add_argument("--output", help="output directory (default: experiment.output)")
    run.add_argument("--no-figures", action="store_true", help="skip the figure")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    cov = sub.add_parser(
        "coverage", help="a coverage study (resumable; local, MPI, Dask or SLURM array)",
        description="Run the replicates of a coverage study that have no result yet, each "
        "written to its own file; merge them into coverage.nc once all are done.")
    cov.add_argument("config", help="TOML experiment config")
    cov.add_argument("--output", help="results directory (default: experiment.output)")
    cov.add_argument("--new-output", action="store_true",
                     help="if the directory holds a different config, use DIR-2, DIR-3, ... "
                     "instead of refusing")
    cov.add_argument("--executor", choices=EXECUTORS,
                     help="default: executor.kind of the config (local processes)")
    cov.add_argument("--workers", type=int, help="local/dask worker processes")
    cov.add_argument("--scheduler", help="dask: join this scheduler (tcp://host:port) "
                     "instead of starting a loopback-only LocalCluster")
    cov.add_argument("--task-id", type=int, help="array task k in 0..N-1 (default: "
                     "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN when set)")
    cov.add_argument("--num-tasks", type=int,
                     help="number of array tasks N (default: SLURM_ARRAY_TASK_COUNT)")
    cov.add_argument("--retry-failed", action="store_true",
                     help="also rerun replicates recorded as failed")
    cov.add_argument("--quiet", action="store_true", help="no progress bar")

    st = sub.add_parser("status", help="done / running / failed / missing replicates",
                        description="Count the replicates of a results directory by state; "
                        "list the failed (last line of the traceback) and running ones.")
    st.add_argument("directory", help="results directory of a coverage study")
    st.add_argument("--verbose", action="store_true", help="one line per replicate")

    rep = sub.add_parser("report", help="tables and figures from finished replicates",
                         description="Merge the finished replicates (all or some) into "
                         "DIR/report: coverage.nc, coverage.csv, coverage.md, coverage.png.")
    rep.add_argument("directory", help="results directory of a coverage study")
    rep.add_argument("--no-figures", action="store_true", help="skip the figure")
    return parser


def _cmd_run(args) -> int:
    from .hpc.config import load_config
    from .hpc.study import run_inversion

    cfg = load_config(args.config)
    run_inversion(cfg, output=args.output, figures=not args.no_figures,
                  progress=False if args.quiet else None)
    return 0


def _cmd_coverage(args) -> int:
    import os
    from concurrent.futures.process import BrokenProcessPool
    from pathlib import Path

    from .hpc.config import config_hash, load_config
    from .hpc.executors import array_share, make_executor
    from .hpc.store import ReplicateStore
    from .hpc.study import fresh_directory, run_study

    cfg = load_config(args.config)
    ex_cfg = cfg["executor"]
    kind = args.executor or ex_cfg["kind"]
    workers = args.workers if args.workers is not None else ex_cfg["workers"]
    scheduler = args.scheduler if args.scheduler is not None else ex_cfg["scheduler"]
    out = Path(args.output or cfg["experiment"]["output"])
    if args.new_output:
        manifest = ReplicateStore(out).manifest()
        if manifest is not None and manifest.get("fingerprint") != config_hash(cfg):
            out = fresh_directory(out)
            print(f"{args.output or cfg['experiment']['output']} holds another config; "
                  f"writing to {out}")
    indices = None
    if args.task_id is not None or args.num_tasks is not None \
            or "SLURM_ARRAY_TASK_ID" in os.environ:
        indices = array_share(cfg["coverage"]["replicates"], args.task_id, args.num_tasks)
        print(f"array task: replicates {indices.start}..{indices.stop - 1}")
    executor = make_executor(kind, workers=workers, scheduler=scheduler)
    try:
        with executor:
            run_study(cfg, output=out, executor=executor, indices=indices,
                      retry_failed=args.retry_failed, progress=False if args.quiet else None)
    except BrokenProcessPool:
        print(f"a worker process died; the replicates finished so far are saved in {out}: "
              f"rerun the same command to compute the rest", file=sys.stderr)
        return 1
    return 0


def _cmd_status(args) -> int:
    from .hpc.store import STATES, ReplicateStore

    store = ReplicateStore(args.directory)
    states = store.states()
    manifest = store.manifest()
    R = len(states)
    counts = {s: sum(1 for v, _ in states.values() if v == s) for s in STATES}
    print(f"{args.directory}: {R} replicates (config hash {manifest['fingerprint'][:12]}, "
          f"seed {manifest['seed']}, bayesinv {manifest['bayesinv_version']})")
    print("  " + "  ".join(f"{s}: {counts[s]}" for s in STATES))
    for r, (state, detail) in states.items():
        if args.verbose or state in ("failed", "running", "stale"):
            print(f"  r{r:06d} {state:8s} {detail}")
    return 0


def _cmd_report(args) -> int:
    from .hpc.study import report_study

    report_study(args.directory, figures=not args.no_figures)
    return 0


COMMANDS = {"run": _cmd_run, "coverage": _cmd_coverage, "status": _cmd_status,
            "report": _cmd_report}


def main(argv=None) -> int:
    """Entry point of the ``bayesinv`` console script."""
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"bayesinv {args.command}: config error: {exc}", file=sys.stderr)
        return 2
    except BayesinvError as exc:
        print(f"bayesinv {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Preempted:
        print(f"bayesinv {args.command}: stopped by SIGTERM; finished replicates are saved, "
              f"rerun to resume", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
