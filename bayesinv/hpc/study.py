"""Configured runs end to end: a coverage study into a results store, its report, one inversion.

These are what the ``bayesinv`` command runs (:mod:`bayesinv.cli`); each takes a validated
config (:func:`bayesinv.hpc.config.load_config`) and works in its output directory.

* :func:`run_study` — plan the study (:func:`~bayesinv.coverage.plan_coverage_study`),
  open the results store (refusing a directory that holds another config), run the replicates
  still missing (all, or this SLURM array task's share) on an executor, each writing its own
  file, and — once every replicate has a file — merge them into ``coverage.nc`` and
  ``coverage.csv``;
* :func:`report_study` — merge whatever replicates have finished (complete or not) into a
  table, a netCDF file and figures, without rebuilding the model;
* :func:`run_inversion` — one data set, one posterior: InferenceData netCDF, figures, summary.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._files import atomic_path, write_json_atomic, write_text_atomic
from ..coverage import assemble_study, coverage_table, plan_coverage_study, write_netcdf
from ..coverage.store import ReplicateStore, run_stored
from ..errors import BayesinvWarning, ConfigError
from .config import config_hash
from .executors import MPIExecutor, SerialExecutor
from .problems import study_specs

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from arviz import InferenceData
    from matplotlib.figure import Figure

    from ..coverage import CoveragePlan
    from ..coverage.spec import Executor
    from ..synthetic import CoverageModel

#: where the commands write their messages (``print`` by default)
Log = Callable[[str], object]

STUDY_FILE = "coverage.nc"
TABLE_FILE = "coverage.csv"


def fresh_directory(base: str | os.PathLike[str]) -> Path:
    """``base`` if it holds no study, else the first of ``base-2``, ``base-3``, ... that
    holds none."""
    root = Path(base)
    candidate, k = root, 1
    while (candidate / "manifest.json").exists():
        k += 1
        candidate = root.with_name(f"{root.name}-{k}")
    return candidate


def _open_store(store: ReplicateStore, fingerprint: str, plan: CoveragePlan,
                cfg: Mapping[str, Any], executor: Executor) -> None:
    """Open the store on rank 0 first (MPI), so ranks never race to create the manifest."""
    def open_store() -> None:
        store.open(fingerprint, plan.metadata, fixed_truth=plan.fixed_truth, config=cfg)

    if isinstance(executor, MPIExecutor):
        error = None
        if executor.is_root:
            try:
                open_store()
            except ConfigError as exc:
                error = str(exc)
        error = executor.comm.bcast(error, root=0)
        if error is not None:
            raise ConfigError(error)
    open_store()


def run_study(cfg: Mapping[str, Any], *, output: str | os.PathLike[str] | None = None,
              executor: Executor | None = None, indices: Iterable[int] | None = None,
              retry_failed: bool = False, progress: bool | None = None, log: Log = print
              ) -> xr.Dataset | None:
    """Run a configured coverage study into its results directory.

    Parameters
    ----------
    cfg : dict
        A validated config.
    output : path, optional
        The results directory (default ``experiment.output``).
    executor : optional
        One of :mod:`bayesinv.hpc.executors` (entered by the caller); default serial.
    indices : iterable of int, optional
        Only these replicates (a SLURM array task's share); default all.
    retry_failed : bool
        Also rerun replicates recorded as failed.
    progress : bool or None
        A tqdm progress bar; None shows it only on a terminal.

    Returns
    -------
    xarray.Dataset or None
        The merged study once every replicate has a file (on MPI rank 0), else None.
    """
    from tqdm.auto import tqdm

    executor = executor or SerialExecutor()
    out = prepare_output(output or cfg["experiment"]["output"])
    fingerprint = config_hash(cfg)
    plan = plan_coverage_study(**study_specs(cfg))
    store = ReplicateStore(out)
    _open_store(store, fingerprint, plan, cfg, executor)
    R = plan.replicates
    wanted = list(range(R)) if indices is None else list(indices)
    todo = store.pending(wanted, retry_failed=retry_failed)
    root = getattr(executor, "is_root", True)
    if root:
        log(f"{out}: {len(wanted) - len(todo)} of {len(wanted)} replicates already done, "
            f"{len(todo)} to run ({getattr(executor, 'name', type(executor).__name__)})")
    # tqdm's disable=None: shown only on a terminal
    disable = True if not root else (None if progress is None else not progress)
    bar = tqdm(total=len(todo), desc="replicates", unit="rep", disable=disable)
    failed: list[int] = []

    def tick(r: int, status: str) -> None:
        bar.update(1)
        if status == "failed":
            failed.append(r)

    start = time.perf_counter()
    try:
        run_stored(store, plan, executor, indices=todo, retry_failed=retry_failed,
                   progress=tick)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    if failed and root:
        log(f"{len(failed)} replicates failed (recorded with tracebacks): {failed[:20]}; "
            f"see `bayesinv status {out}`")
    results = store.load_results(range(R))
    if len(results) < R:
        if root:
            log(f"{len(results)} of {R} replicates have results; the study is merged when all "
                f"are done (or run `bayesinv report {out}` for a partial report)")
        return None
    ds = plan.assemble(results, total_wall_time=seconds,
                       executor=getattr(executor, "name", type(executor).__name__),
                       config_hash=fingerprint)
    if root:
        write_netcdf(ds, out / STUDY_FILE)
        table = _table(ds)
        _write_csv(table, out / TABLE_FILE)
        log(f"merged {R} replicates into {out / STUDY_FILE} ({int(ds['num_valid'])} valid, "
            f"{int(ds['num_flagged'])} flagged)"
            + (f": {table.attrs['flagged']}" if int(ds["num_flagged"]) else ""))
    return ds


def _table(ds: xr.Dataset) -> pd.DataFrame:
    """The coverage table, without its empty-table warning: the commands log the flagged
    replicates (``table.attrs["flagged"]``) themselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BayesinvWarning)
        return coverage_table(ds)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def _save_figure(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def merge_store(directory: str | os.PathLike[str]) -> xr.Dataset:
    """The study Dataset of whatever replicates in ``directory`` have results."""
    store = ReplicateStore(directory)
    manifest = store.manifest()
    if manifest is None:
        raise ConfigError(f"{directory} is not a study directory (no manifest.json)")
    results = store.load_results(range(manifest["replicates"]))
    if not results:
        raise ConfigError(f"{directory} has no finished replicates yet")
    truth = manifest.get("fixed_truth")
    return assemble_study(results, manifest["metadata"],
                          None if truth is None else np.asarray(truth),
                          executor="merged", config_hash=manifest["fingerprint"],
                          replicates_done=len(results))


def report_study(directory: str | os.PathLike[str], *, figures: bool = True, log: Log = print
                 ) -> xr.Dataset:
    """Merge the finished replicates of a study directory; write ``report/`` (netCDF, CSV
    and markdown tables, figures). Returns the Dataset."""
    folder = Path(directory)
    ds = merge_store(folder)
    store = ReplicateStore(folder)
    counts = store.counts()
    out = folder / "report"
    if out.is_symlink():
        raise NotADirectoryError(errno.ENOTDIR, "the report directory is a symbolic link "
                                 "(refusing to write through it)", str(out))
    out.mkdir(exist_ok=True)
    write_netcdf(ds, out / STUDY_FILE)
    table = _table(ds)
    _write_csv(table, out / TABLE_FILE)
    R = ds.attrs["replicates"]
    lines = [f"# Coverage study `{folder.name}`", "",
             f"{len(ds['replicate'])} of {R} replicates finished "
             f"({', '.join(f'{v} {k}' for k, v in counts.items() if v)}); "
             f"{int(ds['num_valid'])} valid, {int(ds['num_flagged'])} flagged; mode "
             f"{ds.attrs['mode']}, seed {ds.attrs['seed']}.", "",
             *([table.attrs["flagged"], ""] if int(ds["num_flagged"]) else []),
             "| kind | functional | level | hits/valid | coverage | 95% CI | binomial p |",
             "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {row.kind} | {row.functional} | {row.level:g} | {row.hits}/"
                     f"{row.valid} | {row.coverage:.3f} | [{row.ci_low:.3f}, {row.ci_high:.3f}]"
                     f" | {row.binom_p:.3g} |")
    write_text_atomic(out / "coverage.md", "\n".join(lines) + "\n")
    if figures and int(ds["num_valid"]) > 0:
        _coverage_figure(out / "coverage.png", ds)
    log("\n".join(lines))
    log(f"wrote {out}")
    return ds


def _coverage_figure(path: Path, ds: xr.Dataset) -> None:
    # a pyplot-free Figure: no backend switch in the caller's process (e.g. a notebook)
    from matplotlib.figure import Figure

    from ..diagnostics.plots import plot_coverage, plot_sbc

    scalars = [f for f in ds["functional"].values if f != "field"]
    with_sbc = "equal_tailed" in ds["kind"].values and scalars
    fig = Figure(figsize=(18 if with_sbc else 6, 5), layout="constrained")
    grid = fig.add_gridspec(1, 3 if with_sbc else 1)
    plot_coverage(ds, ax=fig.add_subplot(grid[0, 0]))
    if with_sbc:
        plot_sbc(ds, kind="equal_tailed", functional=scalars[0],
                 axes=[fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[0, 2])])
    _save_figure(fig, path)


CHECKPOINT_FILE = "checkpoint.npz"


def prepare_output(out: str | os.PathLike[str]) -> Path:
    """Create the output directory and check, before any work, that files can be written
    in it (a temporary file is created and removed). Raises ``OSError`` — e.g.
    ``NotADirectoryError`` when the path is a file, ``PermissionError`` — naming the path."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "the output path is not a directory", str(path))
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=path)
    except PermissionError:
        raise PermissionError(errno.EACCES, "Permission denied", str(path)) from None
    os.close(fd)
    os.unlink(probe)
    return path


def run_inversion(cfg: Mapping[str, Any], *, output: str | os.PathLike[str] | None = None,
                  figures: bool = True, progress: bool | None = None, log: Log = print,
                  checkpoint_interval: float | None = None
                  ) -> tuple[InferenceData, dict[str, Any]]:
    """One inversion: data from the config's truth (seed child 1 of the root seed, as
    replicate streams are), posterior draws (child 2), written to ``posterior.nc`` with a
    ``summary.json`` and figures (truth, posterior mean and sd, traces).

    The output directory is checked to be writable before anything is computed. Sampling is
    checkpointed to ``checkpoint.npz`` in it (every ``checkpoint_interval`` seconds, default
    ``executor.checkpoint_interval``, and on SIGTERM, which stops the run with
    :class:`~bayesinv.errors.SamplingInterrupted`); a rerun resumes from the checkpoint and
    gives draws bit-identical to an uninterrupted run. The checkpoint is kept after the run
    (it holds the draws, so rerunning — e.g. after a signal that arrived while the outputs
    were written — rewrites the same outputs without sampling again); delete it to start
    afresh.
    """
    from ..arviz_io import write_netcdf_atomic
    from ..diagnostics.credible import l2_norm, posterior_draws
    from ..synthetic import realise
    from .problems import config_model, inference_spec

    out = prepare_output(output or cfg["experiment"]["output"])
    start = time.perf_counter()
    model = config_model(**cfg["problem"])
    # the path of every coverage replicate, at the config's fixed truth: data from the root
    # seed's child 1, draws from child 2
    experiment = realise(model, cfg["experiment"]["seed"], truth=model.truth)
    truth = experiment.truth
    spec = inference_spec(cfg)
    checkpoint = out / CHECKPOINT_FILE
    overrides: dict[str, Any] = {}
    if spec.method != "exact":
        overrides = {"progress": progress, "checkpoint": checkpoint,
                     "checkpoint_interval": (cfg["executor"]["checkpoint_interval"]
                                             if checkpoint_interval is None
                                             else checkpoint_interval)}
        if checkpoint.exists():
            log(f"resuming from {checkpoint}")
    idata = experiment.sample(spec, **overrides)
    idata.attrs["config_hash"] = config_hash(cfg)
    write_netcdf_atomic(idata, out / "posterior.nc")
    theta = posterior_draws(idata, "theta")
    mean = theta.reshape(-1, theta.shape[-1]).mean(axis=0)
    err = float(l2_norm(mean - truth, model.mass_matrix))
    norm = float(l2_norm(truth, model.mass_matrix))
    summary = {"config_hash": config_hash(cfg), "method": spec.method,
               "chains": int(theta.shape[0]), "draws": int(theta.shape[1]),
               "l2_error_posterior_mean": err,
               "relative_l2_error_posterior_mean": err / norm if norm > 0 else None,
               "seconds": time.perf_counter() - start}
    if "xi" in idata.posterior:
        from ..arviz_io import convergence_diagnostics

        diag = convergence_diagnostics(idata)
        summary.update(max_rhat_xi=float(np.nanmax(diag["rhat"])),
                       min_ess_bulk_xi=float(np.nanmin(diag["ess_bulk"])))
    stats = getattr(idata, "sample_stats", None)
    if stats is not None and "acceptance_rate" in stats:
        summary["mean_acceptance_rate"] = float(stats["acceptance_rate"].mean())
    write_json_atomic(out / "summary.json", summary)
    if figures:
        _inversion_figure(out / "posterior.png", model, idata, truth, theta)
    log(json.dumps(summary, indent=2))
    log(f"wrote {out / 'posterior.nc'}, {out / 'summary.json'}"
        + (f", {out / 'posterior.png'}" if figures else ""))
    return idata, summary


def _inversion_figure(path: Path, model: CoverageModel, idata: InferenceData,
                      truth: NDArray[np.float64], theta: NDArray[np.float64]) -> None:
    from matplotlib.figure import Figure  # pyplot-free, as in _coverage_figure

    from ..plotting import plot_field, plot_traces, unplottable

    pooled = theta.reshape(-1, theta.shape[-1])
    mean, sd = pooled.mean(axis=0), pooled.std(axis=0)
    has_xi = "xi" in idata.posterior
    if model.space is None or unplottable(model.space):  # no 2-d picture: the coordinates
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
        idx = np.arange(truth.size)
        ax.errorbar(idx, mean, yerr=2 * sd, fmt="o", ms=4, capsize=3, label="mean ± 2 sd")
        ax.plot(idx, truth, "kx", label="truth")
        ax.set_xlabel("coordinate")
        ax.legend()
    else:
        fig = Figure(figsize=(14, 7.5), layout="constrained")
        grid = fig.add_gridspec(2, 3)
        lim = float(np.abs(truth).max()) or 1.0
        kw = {"vmin": -lim, "vmax": lim, "cmap": "RdBu_r"}
        plot_field(model.space, truth, fig.add_subplot(grid[0, 0]), title="truth θ₀", **kw)
        plot_field(model.space, mean, fig.add_subplot(grid[0, 1]), title="posterior mean",
                   **kw)
        plot_field(model.space, sd, fig.add_subplot(grid[0, 2]), title="pointwise sd",
                   cmap="magma")
        if has_xi:
            rows = grid[1, :].subgridspec(3, 1, hspace=0.05)
            plot_traces(idata, axes=[fig.add_subplot(rows[i]) for i in range(3)],
                        title="traces of ξ₀, ξ₁, ξ₂ (one colour per chain)")
    _save_figure(fig, path)
