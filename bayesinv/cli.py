"""The ``bayesinv`` command: run inversions and coverage studies from TOML configs.

::

    bayesinv run CONFIG            one inversion -> posterior.nc, summary.json, posterior.png
    bayesinv coverage CONFIG       a coverage study -> one file per replicate, coverage.nc
    bayesinv status DIR            done / running / failed / stale / missing replicates
    bayesinv report DIR            tables and figures from the finished replicates

``coverage`` resumes: rerun the same command after a crash, a pre-emption or a time-out and
only the missing replicates run. As a SLURM array job (``SLURM_ARRAY_TASK_ID`` set) or with
``--task-id K --num-tasks N`` it runs task K's contiguous block of replicates; under
``mpirun -n P ... --executor mpi`` each rank runs every P-th replicate. ``run`` checkpoints
the sampler in its output directory and resumes from the checkpoint when rerun.

Exit codes (:data:`EXIT_CODES`; each failure prints one line on stderr):

* 0 — done (or this share of the study done);
* 1 — a worker process died: the finished replicates are saved, rerun to resume;
* 2 — bad config or arguments (nothing was computed);
* 3 — a file or directory cannot be used: the output path is a file, permission denied, a
  full disk (the message names the path);
* 4 — a file bayesinv wrote earlier is damaged (a truncated manifest, a corrupt checkpoint;
  the message names it);
* 5 — the computation failed (e.g. a sampler diverged);
* 143 — stopped by SIGTERM (also when the signal arrived while an output was being
  written): what was finished or checkpointed is saved, rerun to resume.

Also ``python -m bayesinv``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from .errors import (
    BayesinvError,
    ConfigError,
    CorruptFileError,
    InvalidArgumentError,
    SamplingInterrupted,
)
from .hpc.config import EXECUTORS

if TYPE_CHECKING:
    from types import FrameType

#: exit code -> meaning (see the module docstring)
EXIT_CODES = {0: "done", 1: "a worker process died: rerun to resume",
              2: "bad config or arguments", 3: "a file or directory cannot be used",
              4: "a file written earlier is damaged", 5: "the computation failed",
              143: "stopped by SIGTERM: rerun to resume"}


class Preempted(SystemExit):
    """Raised in the main process on SIGTERM (a pre-empted or cancelled job)."""


class _Sigterm:
    """The SIGTERM handler: records the signal, then raises :class:`Preempted`. The record
    matters where the exception cannot propagate (raised inside a finaliser, e.g. of an
    HDF5 object while ``posterior.nc`` is written, Python prints and drops it): the command
    then still exits 143 rather than 0."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> NoReturn:
        self.received = True
        raise Preempted(143)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 400 else text[:397] + "..."


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename!s}" if exc.filename is not None else "a file"
    what = exc.strerror or _one_line(exc) or type(exc).__name__
    return f"cannot use {where}: {what}"


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
    run.add_argument("--checkpoint-interval", type=float, metavar="SECONDS",
                     help="seconds between sampler checkpoints (default: "
                     "executor.checkpoint_interval, 60)")

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


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .hpc.config import load_config
    from .hpc.study import CHECKPOINT_FILE, run_inversion

    cfg = load_config(args.config)
    args.checkpoint = Path(args.output or cfg["experiment"]["output"]) / CHECKPOINT_FILE
    run_inversion(cfg, output=args.output, figures=not args.no_figures,
                  progress=False if args.quiet else None,
                  checkpoint_interval=args.checkpoint_interval)
    return 0


def _stopped_message(args: argparse.Namespace) -> str:
    if args.command == "coverage":
        return "finished replicates are saved, rerun to resume"
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None and checkpoint.exists():
        return f"the sampler state is saved in {checkpoint}, rerun the same command to resume"
    if args.command == "run":
        return "stopped before sampling began: nothing to resume, rerun to start again"
    return "rerun the command"


def _cmd_coverage(args: argparse.Namespace) -> int:
    import os
    from concurrent.futures.process import BrokenProcessPool
    from pathlib import Path

    from .coverage.store import ReplicateStore
    from .hpc.config import config_hash, load_config
    from .hpc.executors import array_share, make_executor
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


def _cmd_status(args: argparse.Namespace) -> int:
    from .coverage.store import MANIFEST, STATES, ReplicateStore

    store = ReplicateStore(args.directory)
    manifest = store.manifest()
    if manifest is None:
        raise ConfigError(f"{args.directory} is not a study directory (no {MANIFEST})")
    states = store.states()
    R = len(states)
    counts = {s: sum(1 for v, _ in states.values() if v == s) for s in STATES}
    print(f"{args.directory}: {R} replicates (config hash {manifest['fingerprint'][:12]}, "
          f"seed {manifest['seed']}, bayesinv {manifest['bayesinv_version']})")
    print("  " + "  ".join(f"{s}: {counts[s]}" for s in STATES))
    for r, (state, detail) in states.items():
        if args.verbose or state in ("failed", "running", "stale"):
            print(f"  r{r:06d} {state:8s} {detail}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .hpc.study import report_study

    report_study(args.directory, figures=not args.no_figures)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run, "coverage": _cmd_coverage, "status": _cmd_status, "report": _cmd_report}


#: (exception class, exit code, message prefix) of the failures with their own exit code, in
#: the order they are matched; any other :class:`BayesinvError` exits 5 naming its class
_FAILURES: tuple[tuple[type[BayesinvError], int, str], ...] = (
    (ConfigError, 2, "config error: "),
    (InvalidArgumentError, 2, "invalid argument: "),
    (CorruptFileError, 4, "damaged file: "),
)


def _failure(exc: BayesinvError) -> tuple[int, str]:
    """The exit code of a failure and its one-line message (see :data:`EXIT_CODES`)."""
    for cls, code, prefix in _FAILURES:
        if isinstance(exc, cls):
            return code, prefix + _one_line(exc)
    return 5, f"{type(exc).__name__}: {_one_line(exc)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesinv`` console script (exit codes: :data:`EXIT_CODES`)."""
    args = _parser().parse_args(argv)
    handler = _Sigterm()
    previous = signal.signal(signal.SIGTERM, handler)
    name = f"bayesinv {args.command}"
    try:
        code = COMMANDS[args.command](args)
        if handler.received:
            raise Preempted(143)
        return code
    except (Preempted, SamplingInterrupted):
        print(f"{name}: stopped by SIGTERM; {_stopped_message(args)}", file=sys.stderr)
        return 143
    except BayesinvError as exc:
        code, message = _failure(exc)
        print(f"{name}: {message}", file=sys.stderr)
        return code
    except OSError as exc:
        print(f"{name}: {_os_error(exc)}", file=sys.stderr)
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
