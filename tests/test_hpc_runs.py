"""Batch runs with real processes: the results store, resume after SIGKILL and SIGTERM,
failed replicates, SLURM array shares, and identical results on every executor (serial,
local processes, ``mpirun -n 2``, a Dask LocalCluster) for a linear–Gaussian study and a
small Schrödinger one (the example config in quick form)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _configs import lg_toml

from bayesinv.cli import main
from bayesinv.coverage import InferenceSpec, NodalValue, ProblemSpec, run_coverage_study
from bayesinv.coverage.store import ReplicateStore
from bayesinv.errors import ConfigError
from bayesinv.hpc.config import config_hash, load_config
from bayesinv.hpc.executors import DaskExecutor, LocalExecutor, SerialExecutor, array_share
from bayesinv.hpc.study import merge_store, run_inversion, run_study
from bayesinv.samplers.exact import sample_exact
from bayesinv.testing.coverage_problems import linear_gaussian_model

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

QUICK_SCHRODINGER = [  # the example config, shrunk: (text, replacement)
    ("mesh = 16 ", "mesh = 8 "), ("num_observations = 300", "num_observations = 60"),
    ("num_modes = 30", "num_modes = 8"), ("draws = 2000", "draws = 60"),
    ("warmup = 500", "warmup = 20"), ("thin = 4", "thin = 1"), ("chains = 4", "chains = 2"),
    ("replicates = 40", "replicates = 4"), ("rhat_max = 1.01", "rhat_max = 1.5"),
    ("ess_min = 400", "ess_min = 5"),
]


def lg_config(tmp_path, *, replicates=6, draws=200, thin=1, name="lg.toml") -> Path:
    return lg_toml(tmp_path, replicates=replicates, draws=draws, thin=thin, file=name)


def quick_schrodinger(tmp_path) -> Path:
    text = (ROOT / "examples" / "configs" / "schrodinger.toml").read_text()
    for old, new in QUICK_SCHRODINGER:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "schrodinger_quick.toml"
    path.write_text(text)
    return path


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1")
    return e


def run_cli(argv) -> int:
    """The ``bayesinv`` command, in this process."""
    return main([str(a) for a in argv])


def cli(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bayesinv", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env(), cwd=ROOT)


def mpirun(*args, ranks=2, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mpirun", "-n", str(ranks), "-x", "PYTHONPATH", "-x", "OMPI_ALLOW_RUN_AS_ROOT",
         "-x", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", PYTHON, "-m", "bayesinv", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env(), cwd=ROOT)


def records(directory) -> dict[int, tuple[dict, dict]]:
    """{r: (meta, arrays)} of every replicate file, checked to be valid."""
    store = ReplicateStore(directory)
    R = store.manifest()["replicates"]
    out = {}
    for r in range(R):
        got = store.read(r)
        assert got is not None, f"replicate {r} has no valid file in {directory}"
        out[r] = got
    assert len(list((Path(directory) / "replicates").glob("r*.npz"))) == R
    return out


def assert_same_replicates(a, b):
    ra, rb = records(a), records(b)
    assert ra.keys() == rb.keys()
    for r in ra:
        (_, x), (_, y) = ra[r], rb[r]
        assert x.keys() == y.keys()
        for key in x:
            if key != "wall_time":
                np.testing.assert_array_equal(x[key], y[key], err_msg=f"replicate {r}: {key}")


def assert_same_study(a, b):
    for name in a.data_vars:
        if name != "wall_time":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


# -- the store through the Python API -----------------------------------------------------

def exact_failing_on_replicate_2(posterior, *, seed, draws, chains):
    """Exact draws, except that replicate 2 raises (its sampler stream is (2, 2))."""
    if seed.spawn_key[0] == 2:
        raise RuntimeError("boom in replicate 2")
    return sample_exact(posterior, seed=seed, draws=draws, chains=chains)


LG_PROBLEM = ProblemSpec(linear_gaussian_model, {"dim": 8, "num_observations": 4,
                                                 "noise_std": 0.5, "seed": 3})


def test_store_results_equal_in_memory_results_and_a_rerun_computes_nothing(tmp_path):
    kw = {"replicates": 5, "seed": 2, "functionals": (NodalValue("t0", 0),),
          "convergence": None, "levels": (0.5, 0.9)}
    exact = InferenceSpec("exact", {"draws": 200, "chains": 2})
    memory = run_coverage_study(LG_PROBLEM, exact, **kw)
    stored = run_coverage_study(LG_PROBLEM, exact, store=tmp_path / "s", **kw)
    assert_same_study(memory, stored)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s/replicates").iterdir()}
    assert len(stamps) == 5
    again = run_coverage_study(LG_PROBLEM, exact, store=tmp_path / "s", **kw)
    assert_same_study(memory, again)
    assert stamps == {p.name: p.stat().st_mtime_ns
                      for p in (tmp_path / "s/replicates").iterdir()}
    manifest = json.loads((tmp_path / "s/manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["replicates"] == 5
    assert "bayesinv_version" in manifest and len(manifest["fingerprint"]) == 64
    with pytest.raises(ConfigError, match="holds results of a different study"):
        run_coverage_study(LG_PROBLEM, exact, store=tmp_path / "s", **{**kw, "seed": 3})


def test_a_replicate_that_raises_is_recorded_as_failed_and_the_study_goes_on(tmp_path, capsys):
    kw = {"replicates": 4, "seed": 2, "functionals": (NodalValue("t0", 0),),
          "convergence": None}
    flaky = InferenceSpec(exact_failing_on_replicate_2, {"draws": 200, "chains": 2})
    ds = run_coverage_study(LG_PROBLEM, flaky, store=tmp_path / "s", **kw)
    assert ds["flagged"].values.tolist() == [False, False, True, False]
    assert ds["failure"].values[2] == "RuntimeError: boom in replicate 2"
    assert int(ds["num_valid"]) == 3
    store = ReplicateStore(tmp_path / "s")
    meta, _ = store.read(2)
    assert meta["status"] == "failed"
    assert "Traceback" in meta["error"] and "exact_failing_on_replicate_2" in meta["error"]
    assert store.counts() == {"done": 3, "failed": 1, "running": 0, "stale": 0, "missing": 0}
    assert store.pending(range(4)) == [] and store.pending(range(4), retry_failed=True) == [2]
    assert run_cli(["status", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "done: 3  failed: 1" in out
    assert "r000002 failed   RuntimeError: boom in replicate 2" in out


def test_status_tells_running_from_stale_markers_and_unreadable_files(tmp_path, capsys):
    kw = {"replicates": 6, "seed": 2, "convergence": None}
    run_coverage_study(LG_PROBLEM, InferenceSpec("exact", {"draws": 100, "chains": 2}),
                       store=tmp_path / "s", **kw)
    store = ReplicateStore(tmp_path / "s")
    dead = subprocess.Popen([PYTHON, "-c", "pass"])
    dead.wait()
    for r in (1, 2, 3, 4):
        store.record_path(r).unlink()
    store.record_path(5).write_bytes(b"PK\x03\x04 truncated")
    (store.directory / "running").mkdir(exist_ok=True)
    for r, pid, host in ((1, os.getpid(), socket.gethostname()),
                         (2, dead.pid, socket.gethostname()), (3, 1234567, "node042")):
        store.marker_path(r).write_text(json.dumps({"pid": pid, "host": host,
                                                    "started": "now"}))
    states = store.states()
    assert [s for s, _ in states.values()] == ["done", "running", "stale", "running",
                                               "missing", "missing"]
    assert "unreadable or foreign" in states[5][1]
    assert "process gone" in states[2][1] and "node042" in states[3][1]
    run_cli(["status", str(tmp_path / "s"), "--verbose"])
    out = capsys.readouterr().out
    assert "done: 1  failed: 0  running: 2  stale: 1  missing: 2" in out


# -- the CLI: resume, truncated and foreign files, changed configs, SLURM arrays ------------

@pytest.mark.slow
def test_truncated_and_foreign_files_are_recomputed_and_nothing_else(tmp_path):
    cfg = lg_config(tmp_path, replicates=5)
    out, other = tmp_path / "a", tmp_path / "b"
    assert run_cli(["coverage", cfg, "--output", out, "--executor", "serial", "--quiet"]) == 0
    reference = merge_store(out)
    # a file from another study (another seed) under replicate 3's name, and a truncated one
    other_cfg = tmp_path / "other.toml"
    other_cfg.write_text(cfg.read_text().replace("seed = 5", "seed = 6"))
    assert run_cli(["coverage", other_cfg, "--output", other, "--executor", "serial",
                 "--quiet"]) == 0
    shutil.copy(other / "replicates/r000003.npz", out / "replicates/r000003.npz")
    data = (out / "replicates/r000001.npz").read_bytes()
    (out / "replicates/r000001.npz").write_bytes(data[: len(data) // 2])
    store = ReplicateStore(out)
    assert store.pending(range(5)) == [1, 3]
    stamps = {r: store.record_path(r).stat().st_mtime_ns for r in (0, 2, 4)}
    assert run_cli(["coverage", cfg, "--output", out, "--executor", "serial", "--quiet"]) == 0
    assert stamps == {r: store.record_path(r).stat().st_mtime_ns for r in (0, 2, 4)}
    assert_same_study(reference, merge_store(out))
    assert store.counts()["done"] == 5


def test_a_changed_config_is_refused_unless_a_new_output_is_asked_for(tmp_path, capsys):
    cfg = lg_config(tmp_path, replicates=2)
    out = tmp_path / "study"
    assert run_cli(["coverage", cfg, "--output", out, "--executor", "serial", "--quiet"]) == 0
    changed = lg_config(tmp_path, replicates=2, draws=201, name="changed.toml")
    assert run_cli(["coverage", changed, "--output", out, "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert f"{out} holds results of a different study" in err
    assert "--new-output" in err
    # a different executor is not a different config
    assert run_cli(["coverage", cfg, "--output", out, "--executor", "local", "--workers", "1",
                 "--quiet"]) == 0
    assert run_cli(["coverage", changed, "--output", out, "--new-output", "--executor", "serial",
                 "--quiet"]) == 0
    fresh = tmp_path / "study-2"
    assert ReplicateStore(fresh).manifest()["fingerprint"] == config_hash(load_config(changed))
    assert ReplicateStore(out).manifest()["fingerprint"] == config_hash(load_config(cfg))


def test_slurm_array_tasks_split_the_study_without_overlap(tmp_path, monkeypatch):
    cfg = lg_config(tmp_path, replicates=7)
    out = tmp_path / "array"
    seen = set()
    for k in range(3):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(k + 1))  # --array=1-3
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
        assert run_cli(["coverage", cfg, "--output", out, "--executor", "serial",
                     "--quiet"]) == 0
        now = {int(p.stem[1:]) for p in (out / "replicates").glob("r*.npz")}
        mine = now - seen
        assert mine == set(array_share(7, k, 3)), (k, mine)
        assert (out / "coverage.nc").exists() == (k == 2)  # merged by the last task
        seen = now
    assert seen == set(range(7))
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert run_cli(["coverage", cfg, "--output", tmp_path / "whole", "--executor", "serial",
                 "--quiet"]) == 0
    assert_same_replicates(out, tmp_path / "whole")


@pytest.mark.parametrize("cls", [LocalExecutor, DaskExecutor])
def test_a_pool_executor_outside_its_with_block_says_so(cls):
    executor = cls(1)
    with pytest.raises(RuntimeError, match="as a context manager"):
        list(executor.map(abs, [-1, 2]))
    assert executor.__exit__(None, None, None) is False  # no pool, no client: nothing to close


@pytest.mark.parametrize(("R", "K"), [(1, 1), (7, 3), (10, 4), (3, 5), (100, 7)])
def test_array_shares_partition_the_replicates(R, K):
    shares = [list(array_share(R, k, K)) for k in range(K)]
    assert sorted(r for share in shares for r in share) == list(range(R))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    env_share = array_share(R, environ={"SLURM_ARRAY_TASK_ID": str(K - 1),
                                        "SLURM_ARRAY_TASK_COUNT": str(K)})
    assert list(env_share) == shares[-1]
    with pytest.raises(ConfigError, match=rf"--task-id must be in \[0, {K - 1}\], got {K}"):
        array_share(R, K, K)


def _wait_for(predicate, proc, timeout=120.0):
    start = time.monotonic()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()}")
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _worker_in_flight(out) -> int | None:
    """The pid of a worker process with a replicate in flight, if any."""
    for marker in (out / "running").glob("*.json") if (out / "running").exists() else ():
        try:
            return json.loads(marker.read_text())["pid"]
        except (FileNotFoundError, json.JSONDecodeError):  # finished meanwhile
            continue
    return None


def _done(out) -> set:
    return {p.name for p in (out / "replicates").glob("r*.npz")} if (
        out / "replicates").exists() else set()


# A gate for deterministic interrupts: replicates with index >= the number in the gate file
# wait before they start (they are "in flight": marked running by their worker), so the test
# decides exactly which replicates finish before it kills or stops the run. Installed into the
# command and its worker processes by a sitecustomize module on their PYTHONPATH.
GATE_SITECUSTOMIZE = """
import os
import time

if os.environ.get("BAYESINV_TEST_GATE"):
    import bayesinv.coverage.replicate as _coverage

    _run = _coverage.run_replicate

    def _gated(task, _gate=os.environ["BAYESINV_TEST_GATE"]):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with open(_gate) as f:
                if task.replicate < int(f.read()):
                    break
            time.sleep(0.01)
        return _run(task)

    _coverage.run_replicate = _gated
"""


def gated_env(tmp_path, opened: int):
    """The environment of a gated command, and a function that opens the gate up to n."""
    site = tmp_path / "gate_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(GATE_SITECUSTOMIZE)
    gate = tmp_path / "gate"
    e = env()
    e["PYTHONPATH"] = str(site) + os.pathsep + e["PYTHONPATH"]
    e["BAYESINV_TEST_GATE"] = str(gate)

    def open_up_to(n: int) -> None:
        tmp = gate.with_suffix(".tmp")
        tmp.write_text(str(n))
        tmp.replace(gate)

    open_up_to(opened)
    return e, open_up_to


@pytest.mark.slow
def test_kill_a_worker_then_preempt_then_resume_equals_an_uninterrupted_run(tmp_path):
    R = 14
    cfg = lg_config(tmp_path, replicates=R)
    out = tmp_path / "killed"
    command = [PYTHON, "-m", "bayesinv", "coverage", str(cfg), "--output", str(out),
               "--executor", "local", "--workers", "2", "--quiet"]
    gated, open_up_to = gated_env(tmp_path, 2)

    # 1. SIGKILL a worker process in the middle of a replicate (replicates 0, 1 done; both
    #    workers hold replicates 2 and 3 at the gate)
    proc = subprocess.Popen(command, env=gated, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_done(out)) == 2 and _worker_in_flight(out) is not None, proc)
    os.kill(_worker_in_flight(out), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "a worker process died" in err
    first = {name: (out / "replicates" / name).stat().st_mtime_ns for name in _done(out)}
    assert len(first) == 2

    # 2. SIGTERM the whole run (a pre-empted job) once replicates 2 and 3 are done as well
    open_up_to(4)
    proc = subprocess.Popen(command, env=gated, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_done(out)) == 4 and _worker_in_flight(out) is not None, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err
    second = _done(out)
    assert len(second) == 4
    states = ReplicateStore(out).states()
    assert not [r for r, (s, _) in states.items() if s == "running"]  # no live workers left

    # 3. resume: only the missing replicates run; earlier files are not touched
    proc = subprocess.run(command, env=env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(second)} of {R} replicates already done, {R - len(second)} to run" \
        in proc.stdout
    assert first == {name: (out / "replicates" / name).stat().st_mtime_ns for name in first}

    # every replicate exactly once, equal to an uninterrupted serial run
    reference = tmp_path / "reference"
    assert run_cli(["coverage", cfg, "--output", reference, "--executor", "serial",
                 "--quiet"]) == 0
    assert_same_replicates(out, reference)
    import xarray as xr

    resumed = xr.load_dataset(out / "coverage.nc")
    assert resumed["replicate"].values.tolist() == list(range(R))
    assert_same_study(resumed, xr.load_dataset(reference / "coverage.nc"))


@pytest.mark.slow
def test_killing_the_command_leaves_no_orphaned_workers(tmp_path):
    import psutil

    cfg = lg_config(tmp_path, replicates=40)
    out = tmp_path / "orphans"
    gated, _ = gated_env(tmp_path, 0)  # every replicate waits at the gate: workers in flight
    proc = subprocess.Popen([PYTHON, "-m", "bayesinv", "coverage", str(cfg), "--output",
                             str(out), "--executor", "local", "--workers", "2", "--quiet"],
                            env=gated, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_for(lambda: _worker_in_flight(out) is not None, proc)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.kill()  # SIGKILL: no handler runs in the command
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"orphaned workers {alive}"


# -- identical results on every executor ----------------------------------------------------

def _listening_addresses():
    """(ip, port) of the listening sockets of this process and its descendants."""
    import psutil

    me = psutil.Process()
    pids = {me.pid, *(c.pid for c in me.children(recursive=True))}
    return [c.laddr for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.dask
def test_linear_gaussian_study_is_identical_on_every_executor(tmp_path):
    cfg_path = lg_config(tmp_path, replicates=6)
    cfg = load_config(cfg_path)
    run_study(cfg, output=tmp_path / "serial", executor=SerialExecutor(), log=lambda s: None)
    with LocalExecutor(2) as ex:
        run_study(cfg, output=tmp_path / "local", executor=ex, log=lambda s: None)
    before = set(_listening_addresses())
    with DaskExecutor(2) as ex:
        # the cluster listens on loopback only: scheduler, nannies, workers, HTTP endpoint.
        # (Sockets that were open before are OpenMPI's, if an earlier test imported dolfinx:
        # its singleton runtime binds to all interfaces, whatever this package does.)
        opened = set(_listening_addresses()) - before
        assert len(opened) >= 5 and all(ip == "127.0.0.1" for ip, _ in opened), opened
        assert ex.client.scheduler_info()["address"].startswith("tls://127.0.0.1:")
        run_study(cfg, output=tmp_path / "dask", executor=ex, log=lambda s: None)
        # the command joins a running cluster with --scheduler ADDRESS, given its
        # credentials through the Dask config (here the executor's own, in memory)
        address = ex.client.scheduler.address
        import dask

        sec = ex.security
        with dask.config.set({"distributed.comm.tls.ca-file": sec.tls_ca_file,
                              "distributed.comm.tls.client.cert": sec.tls_client_cert,
                              "distributed.comm.tls.client.key": sec.tls_client_key,
                              "distributed.comm.require-encryption": True}):
            assert run_cli(["coverage", cfg_path, "--executor", "dask", "--scheduler",
                            address, "--output", tmp_path / "dask_join", "--quiet"]) == 0
    proc = mpirun("coverage", cfg_path, "--executor", "mpi", "--output", tmp_path / "mpi",
                  "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "merged 6 replicates" in proc.stdout
    pids = {meta["pid"] for meta, _ in records(tmp_path / "mpi").values()}
    assert len(pids) == 2  # both ranks wrote replicates
    for other in ("local", "dask", "dask_join", "mpi"):
        assert_same_replicates(tmp_path / "serial", tmp_path / other)


@pytest.mark.slow
@pytest.mark.fem
@pytest.mark.mpi
@pytest.mark.dask
def test_quick_schrodinger_example_runs_and_is_identical_on_every_executor(tmp_path):
    cfg_path = quick_schrodinger(tmp_path)
    cfg = load_config(cfg_path)
    # the example config in quick form: one inversion with its figure ...
    idata, summary = run_inversion(cfg, output=tmp_path / "run", progress=False,
                                   log=lambda s: None)
    assert idata.posterior["theta"].shape[:2] == (2, 60)
    assert (tmp_path / "run/posterior.png").stat().st_size > 10_000
    assert 0 < summary["relative_l2_error_posterior_mean"] < 1
    # ... and the study, serially here, with Dask and under mpirun -n 2
    serial = run_study(cfg, output=tmp_path / "serial", log=lambda s: None)
    assert int(serial["num_valid"]) + int(serial["num_flagged"]) == 4
    assert not any(serial["failure"].values)
    with DaskExecutor(2) as ex:
        run_study(cfg, output=tmp_path / "dask", executor=ex, log=lambda s: None)
    proc = mpirun("coverage", cfg_path, "--executor", "mpi", "--output", tmp_path / "mpi",
                  "--quiet")
    assert proc.returncode == 0, proc.stderr
    for other in ("dask", "mpi"):
        assert_same_replicates(tmp_path / "serial", tmp_path / other)
    # the report merges and draws
    assert run_cli(["report", str(tmp_path / "mpi")]) == 0
    assert (tmp_path / "mpi/report/coverage.png").stat().st_size > 10_000
    assert "| equal_tailed | <theta,psi> | 0.5 |" in (tmp_path / "mpi/report/coverage.md"
                                                      ).read_text()


def test_only_this_hosts_dead_writers_temporaries_are_removed(tmp_path):
    """A task on one node must not delete a temporary file another node is writing."""
    from bayesinv._files import atomic_path, temporary_owner

    with atomic_path(tmp_path / "replicates" / "r000000.npz") as tmp:
        assert temporary_owner(tmp) == (os.getpid(), socket.gethostname())
        tmp.write_bytes(b"complete")
    here, dead_pid = socket.gethostname(), 2**22 + 12345  # above Linux's pid_max (no process)
    names = {"dead_here": f".r000001.npz.{dead_pid}@{here}.k3j_x9q1.tmp",
             "alive_here": f".r000002.npz.{os.getpid()}@{here}.a8b2c7d0.tmp",
             "other_node": f".r000003.npz.{dead_pid}@node-17.cluster.0p2qz_r4.tmp"}
    for name in names.values():
        (tmp_path / "replicates" / name).write_bytes(b"partial")
    ReplicateStore(tmp_path)._remove_orphaned_temporaries()
    left = {p.name for p in (tmp_path / "replicates").iterdir()}
    assert names["dead_here"] not in left
    assert {names["alive_here"], names["other_node"]} <= left
