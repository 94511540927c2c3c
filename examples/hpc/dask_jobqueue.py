"""A coverage study on a Dask cluster of SLURM jobs (dask-jobqueue), from a login node.

    pip install dask-jobqueue
    python examples/hpc/dask_jobqueue.py examples/configs/schrodinger.toml --jobs 8

dask-jobqueue submits ``--jobs`` SLURM jobs, each running Dask worker processes that connect
back to a scheduler started here. Unlike ``bayesinv coverage --executor dask`` (a
LocalCluster on 127.0.0.1, no dashboard), this scheduler must be reachable from the compute
nodes, so it listens on the cluster's network interface (``--interface``, e.g. ``ib0`` or
``eth0``): run it only on a trusted cluster network. Its dashboard stays disabled.

The same results store is used as with every other executor: rerun the script (or
``bayesinv coverage CONFIG``, any executor) to resume; ``bayesinv status`` and ``report`` work
on the directory meanwhile. Equivalently, start the cluster yourself and pass its address:
``bayesinv coverage CONFIG --executor dask --scheduler tcp://HOST:PORT``.
"""

from __future__ import annotations

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs of Dask workers")
    parser.add_argument("--cores", type=int, default=8, help="cores (= worker processes) per job")
    parser.add_argument("--memory", default="16GB", help="memory per job")
    parser.add_argument("--walltime", default="04:00:00")
    parser.add_argument("--interface", default=None, help="network interface, e.g. ib0")
    parser.add_argument("--output", help="results directory (default: experiment.output)")
    args = parser.parse_args(argv)

    from dask_jobqueue import SLURMCluster

    from bayesinv.hpc.config import load_config
    from bayesinv.hpc.executors import DaskExecutor
    from bayesinv.hpc.study import run_study

    cfg = load_config(args.config)
    cluster = SLURMCluster(
        cores=args.cores, processes=args.cores, memory=args.memory, walltime=args.walltime,
        interface=args.interface, scheduler_options={"dashboard_address": None},
        job_script_prologue=["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"])
    cluster.scale(jobs=args.jobs)
    try:
        with DaskExecutor(scheduler=cluster.scheduler_address) as executor:
            run_study(cfg, output=args.output, executor=executor)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
