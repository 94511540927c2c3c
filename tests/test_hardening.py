"""Hardening: no other local user can reach a bayesinv process, no run loses finished work,
no bad input gives a silent wrong number. Each probe of the reliability audit (issue 17) is
a test here, with the exact message it must give."""

from __future__ import annotations

import os
import re
import socket
import ssl
import sys
from pathlib import Path

import pytest
from _configs import lg_toml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# -- 1. the Dask executor: TLS with per-run credentials -------------------------------------

def _listening(pids):
    import psutil

    return sorted({c.laddr for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids})


def _tls_handshake_without_certificate(ip, port) -> str:
    """What a peer without the run's client certificate gets from (ip, port)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((ip, port), timeout=10) as raw, \
            ctx.wrap_socket(raw) as tls:
        tls.settimeout(10)
        try:
            tls.sendall(b"\x00" * 16)
            data = tls.recv(16)  # TLS 1.3: the server's verdict arrives after the handshake
        except (ssl.SSLError, ConnectionError) as exc:
            return type(exc).__name__
        return "closed" if not data else f"answered {data!r}"


@pytest.mark.slow
@pytest.mark.dask
def test_local_dask_cluster_refuses_clients_without_the_runs_credentials():
    """A client with no certificate, or with another self-signed one, cannot submit work to
    the executor's LocalCluster; plain TCP and certificate-less TLS to every listening port
    of the scheduler and workers are refused; the HTTP servers serve nothing."""
    import psutil
    from distributed import Client
    from distributed.security import Security

    from bayesinv.hpc.executors import DaskExecutor

    with DaskExecutor(1) as ex:
        assert ex.client.submit(os.getpid).result() != os.getpid()  # it works with them
        address = ex.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        for security in (None, Security.temporary()):  # none / someone else's
            with pytest.raises((OSError, TypeError)):
                Client(address.replace("tls://", "tcp://") if security is None else address,
                       security=security, timeout=5)
        me = psutil.Process()
        pids = {me.pid, *(c.pid for c in me.children(recursive=True))}
        ports = _listening(pids)
        worker_ports = {int(a.rsplit(":", 1)[1]) for a in ex.client.scheduler_info()["workers"]}
        scheduler_port = int(address.rsplit(":", 1)[1])
        assert {scheduler_port, *worker_ports} <= {p for _, p in ports}
        for ip, port in ports:
            assert ip == "127.0.0.1"
            with socket.create_connection((ip, port), timeout=10) as s:
                s.settimeout(10)
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                try:
                    reply = s.recv(64)
                except (ConnectionError, TimeoutError):
                    reply = b""
            # an HTTP server answers 404 (no routes); a comm port drops plain text
            assert reply == b"" or reply.startswith(b"HTTP/1.1 404"), (port, reply)
        for port in (scheduler_port, *worker_ports):
            verdict = _tls_handshake_without_certificate("127.0.0.1", port)
            assert not verdict.startswith("answered"), (port, verdict)


# -- shared helpers ---------------------------------------------------------------------------

def run_cli(*argv) -> int:
    from bayesinv.cli import main

    return main([str(a) for a in argv])


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- 4. configs: the vocabulary is the sampler's ------------------------------------------------

CONFIG_PROBES = [
    ({"extra": 'loop = "python"'},
     "inference.settings.loop must be one of ['auto', 'interpreted', 'compiled'], got "
     "'python'"),
    ({"extra": "step_size = 0.1"},
     "inference.settings (method = 'pcn'): step_size is not a pCN parameter; pCN takes beta"),
    ({"method": "ula", "extra": "beta = 0.5"},
     "inference.settings (method = 'ula'): beta is a pCN parameter; method='ula' takes "
     "step_size"),
    ({"extra": 'beta = 0.8\npreconditioner = "laplace"'},
     "inference.settings (method = 'pcn'): preconditioner applies to method='ula' or 'mala' "
     "only (and a low-rank Laplace approximation also to 'gpcn', 'gpcnl', "
     "'dili'), not 'pcn'"),
    ({"method": "ula", "extra": "adapt = true\nwarmup = 10"},
     "inference.settings (method = 'ula'): adapt=True: method='ula' has no accept step, hence "
     "no acceptance rate to adapt to; leave step_size=None for the curvature rule or give it"),
    ({"name": "../../x"},
     "experiment.name must be a plain name (letters, digits, '_', '-', '.'; no '/', not "
     "starting with '.'), since it names the output directory results/<name>, got '../../x'"),
    ({"name": ".."}, "experiment.name must be a plain name"),
    ({"name": "a/b"}, "experiment.name must be a plain name"),
]


@pytest.mark.parametrize(("change", "message"), CONFIG_PROBES,
                         ids=[m[:40] for _, m in CONFIG_PROBES])
def test_configs_the_sampler_would_refuse_are_config_errors(tmp_path, change, message):
    from bayesinv.errors import ConfigError
    from bayesinv.hpc.config import load_config

    with pytest.raises(ConfigError) as info:
        load_config(lg_toml(tmp_path, **change))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("extra", ['loop = "interpreted"\nbeta = 0.8', 'loop = "compiled"',
                                   "beta = 0.8\nmax_divergences = 3"])
def test_settings_the_sampler_takes_are_accepted(tmp_path, extra):
    from bayesinv.hpc.config import load_config

    settings = load_config(lg_toml(tmp_path, extra=extra))["inference"]["settings"]
    assert settings["draws"] == 100


def test_the_config_vocabulary_is_the_samplers():
    from bayesinv.hpc import config
    from bayesinv.samplers.driver import LOOPS
    from bayesinv.samplers.registry import METHODS

    assert set(config.METHODS) == {*METHODS, "exact"}
    for loop in LOOPS:
        assert config.SAMPLE_SETTINGS["loop"].check("x", loop) == loop


# -- 7. exit codes and one-line messages -------------------------------------------------

def test_exit_codes_are_distinct_and_documented():
    from bayesinv.cli import EXIT_CODES

    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 4, 5, 143]
    readme = (ROOT / "README.md").read_text()
    for code in EXIT_CODES:
        assert f"| {code} |" in readme, code


def _probe_output_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    return ["run", lg_toml(tmp_path), "--output", tmp_path / "out"], 3, \
        f"bayesinv run: cannot use {tmp_path / 'out'}: the output path is not a directory"


def _probe_study_output_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    return ["coverage", lg_toml(tmp_path), "--output", tmp_path / "out", "--executor",
            "serial"], 3, \
        f"bayesinv coverage: cannot use {tmp_path / 'out'}: the output path is not a directory"


def _probe_config_is_a_directory(tmp_path):
    return ["run", tmp_path], 2, \
        f"bayesinv run: config error: config file '{tmp_path}' is a directory, not a TOML file"


def _probe_config_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[experiment]\nname = "caf\xe9"\n'.encode("latin-1"))
    return ["coverage", path], 2, \
        f"bayesinv coverage: config error: config file '{path}' is not UTF-8 text (byte 24); " \
        f"TOML files are UTF-8"


def _probe_truncated_manifest(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "manifest.json").write_text('{"format": 1, "fingerpr')
    return ["status", tmp_path / "study"], 4, \
        f"bayesinv status: damaged file: '{tmp_path / 'study' / 'manifest.json'}' is " \
        f"truncated or damaged (not valid JSON: Unterminated string starting at: line 1 " \
        f"column 15 (char 14)); restore it, or move the directory aside and rerun"


def _probe_truncated_manifest_coverage(tmp_path):
    cfg = lg_toml(tmp_path)
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "manifest.json").write_text("")
    return ["coverage", cfg, "--output", tmp_path / "study", "--executor", "serial"], 4, \
        f"bayesinv coverage: damaged file: '{tmp_path / 'study' / 'manifest.json'}' is " \
        f"truncated or damaged (not valid JSON: Expecting value: line 1 column 1 (char 0)); " \
        f"restore it, or move the directory aside and rerun"


def _probe_corrupt_sampler_checkpoint(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip file")
    return ["run", lg_toml(tmp_path), "--output", tmp_path / "out", "--no-figures"], 4, \
        f"bayesinv run: damaged file: '{tmp_path / 'out' / 'checkpoint.npz'}' is damaged or " \
        f"not a bayesinv file (BadZipFile: File is not a zip file); delete it (a checkpoint: " \
        f"the run then starts afresh) or restore it from a copy"


@pytest.mark.parametrize("probe", [
    _probe_output_is_a_file, _probe_study_output_is_a_file, _probe_config_is_a_directory,
    _probe_config_not_utf8, _probe_truncated_manifest, _probe_truncated_manifest_coverage,
    _probe_corrupt_sampler_checkpoint])
def test_each_failure_has_its_exit_code_and_a_one_line_message(tmp_path, capsys, probe):
    argv, code, message = probe(tmp_path)
    assert run_cli(*argv) == code
    err = capsys.readouterr().err
    assert err.strip() == message
    assert "Traceback" not in err


@pytest.mark.slow
def test_permission_denied_is_exit_3_before_anything_is_computed(tmp_path):
    """Run as user nobody (we are root in CI, for whom permissions do not apply)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as another user")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="bayesinv-perm-"))
    try:
        os.chmod(base, 0o755)
        cfg = lg_toml(base)
        os.chmod(cfg, 0o644)
        (base / "locked").mkdir(mode=0o755)  # root's: nobody cannot write in it
        home = base / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)
        import subprocess

        env = cli_env()
        env.update(HOME=str(home), NUMBA_CACHE_DIR=str(home / "numba"),
                   MPLCONFIGDIR=str(home / "mpl"))
        try:  # e.g. a venv under /root (mode 0700), as in the Debian 13 test root
            subprocess.run([PYTHON, "-c", "0"], user=65534, group=65534, check=True,
                           capture_output=True, timeout=60)
        except (PermissionError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"user nobody cannot run this venv's Python ({exc})")
        proc = subprocess.run([PYTHON, "-m", "bayesinv", "run", str(cfg), "--output",
                               str(base / "locked")], capture_output=True, text=True,
                              env=env, cwd=base, user=65534, group=65534, timeout=300)
        assert proc.returncode == 3, proc.stderr
        assert last_line(proc.stderr) == \
            f"bayesinv run: cannot use {base / 'locked'}: Permission denied"
        assert os.listdir(base / "locked") == []
    finally:
        import shutil

        shutil.rmtree(base)


# -- 3. replicate files are verified in full -----------------------------------------------------

def _damage_arrays_keep_metadata(path: Path) -> None:
    """Rewrite an .npz with its ``__meta__`` entry intact and one array changed."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        entries = {k: data[k] for k in data.files}
    victim = next(k for k in sorted(entries) if k != "__meta__"
                  and entries[k].dtype.kind == "f" and entries[k].size)
    entries[victim] = entries[victim] + 1.0
    with open(path, "wb") as f:
        np.savez(f, **entries)


def test_a_replicate_with_intact_metadata_and_damaged_arrays_is_recomputed(tmp_path, capsys):
    import numpy as np

    from bayesinv.coverage.store import ReplicateStore
    from bayesinv.hpc.study import merge_store

    cfg = lg_toml(tmp_path, replicates=4)
    out = tmp_path / "study"
    assert run_cli("coverage", cfg, "--output", out, "--executor", "serial", "--quiet") == 0
    reference = merge_store(out)
    store = ReplicateStore(out)
    _damage_arrays_keep_metadata(store.record_path(2))
    assert store.pending(range(4)) == [2]
    assert store.counts() == {"done": 3, "failed": 0, "running": 0, "stale": 0, "missing": 1}
    assert store.states()[2] == ("missing", "unreadable or foreign result file")
    capsys.readouterr()
    assert run_cli("report", out, "--no-figures") == 0
    assert "3 of 4 replicates finished (3 done, 1 missing)" in capsys.readouterr().out
    assert run_cli("coverage", cfg, "--output", out, "--executor", "serial", "--quiet") == 0
    assert store.counts()["done"] == 4
    again = merge_store(out)
    for name in reference.data_vars:
        if name != "wall_time":
            np.testing.assert_array_equal(reference[name].values, again[name].values, name)


# -- 5. symbolic links and paths ---------------------------------------------------------------

def test_outputs_replace_a_planted_symlink_instead_of_writing_through_it(tmp_path):
    cfg = lg_toml(tmp_path, replicates=2)
    out = tmp_path / "study"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out.mkdir()
    (out / "report").mkdir()
    for name in ("coverage.csv", "coverage.nc", "report/coverage.md", "report/coverage.csv"):
        (out / name).symlink_to(victim)
    assert run_cli("coverage", cfg, "--output", out, "--executor", "serial", "--quiet") == 0
    assert run_cli("report", out, "--no-figures") == 0
    run_out = tmp_path / "run"
    run_out.mkdir()
    (run_out / "summary.json").symlink_to(victim)
    assert run_cli("run", cfg, "--output", run_out, "--no-figures", "--quiet") == 0
    assert victim.read_text() == "precious"
    for path in (out / "coverage.csv", out / "report/coverage.md", run_out / "summary.json"):
        assert not path.is_symlink() and path.stat().st_size > 0


def test_temporary_names_are_unpredictable_and_swapped_temporaries_are_refused(tmp_path):
    from bayesinv._files import atomic_path, temporary_owner

    names = []
    for _ in range(2):
        with atomic_path(tmp_path / "f.txt") as tmp:
            names.append(tmp.name)
            assert temporary_owner(tmp) == (os.getpid(), socket.gethostname())
            tmp.write_text("x")
    assert names[0] != names[1]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    with pytest.raises(OSError, match="Too many levels of symbolic links"), \
            atomic_path(tmp_path / "g.txt") as tmp:
        tmp.unlink()
        tmp.symlink_to(victim)
    assert victim.read_text() == "precious" and not (tmp_path / "g.txt").exists()
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    from bayesinv._files import _umask as umask

    return umask()


def test_orphan_clean_up_never_follows_a_symlinked_directory(tmp_path):
    from bayesinv.coverage.store import ReplicateStore

    outside = tmp_path / "outside"
    outside.mkdir()
    dead = 2**22 + 12345  # above Linux's pid_max: no such process
    bait = outside / f".x.npz.{dead}@{socket.gethostname()}.abc123.tmp"
    bait.write_text("not the study's")
    study = tmp_path / "study"
    study.mkdir()
    (study / "running").symlink_to(outside, target_is_directory=True)
    (study / "replicates").mkdir()
    own = study / "replicates" / f".r000000.npz.{dead}@{socket.gethostname()}.k9x.tmp"
    own.write_text("orphan")
    (study / "replicates" / f".r000001.npz.{dead}@{socket.gethostname()}.zz1.tmp"
     ).symlink_to(bait)
    ReplicateStore(study)._remove_orphaned_temporaries()
    assert bait.exists() and not own.exists()


# -- 2. `bayesinv run`: checkpointed, resumable, SIGTERM honoured ------------------------------

def _wait_for_file(path: Path, proc, timeout=240.0):
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {path} appeared: {proc.communicate()}")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.slow
def test_run_stopped_by_sigterm_resumes_from_its_checkpoint_to_the_same_posterior(tmp_path):
    """SIGTERM once the first checkpoint is written (a written file, not a time): exit 143
    with the checkpoint named; the rerun resumes and its posterior.nc equals an
    uninterrupted run's, draw for draw."""
    import signal
    import subprocess

    import numpy as np

    from bayesinv.arviz_io import read_netcdf

    # 2 chains x 3 000 000 pCN steps (compiled loop): a few seconds, far longer than a block
    cfg = lg_toml(tmp_path, draws=200, thin=15_000)
    out = tmp_path / "run"
    command = [PYTHON, "-m", "bayesinv", "run", str(cfg), "--output", str(out),
               "--no-figures", "--quiet", "--checkpoint-interval", "0.001"]
    proc = subprocess.Popen(command, env=cli_env(), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for_file(out / "checkpoint.npz", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert last_line(err) == (f"bayesinv run: stopped by SIGTERM; the sampler state is saved "
                              f"in {out / 'checkpoint.npz'}, rerun the same command to resume")
    assert not (out / "posterior.nc").exists()
    proc = subprocess.run(command, env=cli_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming from {out / 'checkpoint.npz'}" in proc.stdout
    assert (out / "checkpoint.npz").exists()  # kept: a rerun returns the same posterior
    assert run_cli("run", cfg, "--output", tmp_path / "whole", "--no-figures", "--quiet") == 0
    resumed, whole = read_netcdf(out / "posterior.nc"), read_netcdf(tmp_path / "whole/posterior.nc")
    for name in ("xi", "theta"):
        np.testing.assert_array_equal(resumed.posterior[name].values,
                                      whole.posterior[name].values)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the point
def test_sigterm_swallowed_while_posterior_nc_is_written_still_exits_143(tmp_path, capsys,
                                                                         monkeypatch):
    """A signal whose exception is raised inside a finaliser (as inside HDF5's object
    clean-up) is dropped by Python; the command must still report it."""
    import gc
    import signal

    import bayesinv.arviz_io as arviz_io

    real = arviz_io.write_netcdf_atomic

    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs (and raises) here, inside __del__
                pass

    def writer(idata, path):
        Finaliser()
        gc.collect()
        real(idata, path)

    monkeypatch.setattr(arviz_io, "write_netcdf_atomic", writer)
    out = tmp_path / "run"
    assert run_cli("run", lg_toml(tmp_path), "--output", out, "--no-figures",
                   "--quiet") == 143
    assert last_line(capsys.readouterr().err) == (
        f"bayesinv run: stopped by SIGTERM; the sampler state is saved in "
        f"{out / 'checkpoint.npz'}, rerun the same command to resume")


def test_sigterm_before_sampling_exits_143_saying_nothing_is_saved(tmp_path, capsys,
                                                                   monkeypatch):
    """The signal arrives while the model is built (a deterministic point: inside the
    factory), before any checkpoint exists."""
    import signal

    import bayesinv.hpc.problems as problems

    real = problems.config_model

    def interrupted(**kw):
        model = real(**kw)
        os.kill(os.getpid(), signal.SIGTERM)
        return model

    monkeypatch.setattr(problems, "config_model", interrupted)
    out = tmp_path / "run"
    assert run_cli("run", lg_toml(tmp_path), "--output", out, "--no-figures",
                   "--quiet") == 143
    assert capsys.readouterr().err.strip() == (
        "bayesinv run: stopped by SIGTERM; stopped before sampling began: nothing to resume, "
        "rerun to start again")
    assert os.listdir(out) == []


# -- 8. sampler checkpoints: version, checksum, consistent counts --------------------------------

def _lg_posterior():
    from bayesinv.testing.linear_gaussian import linear_gaussian

    return linear_gaussian(dim=6, num_observations=4, noise_std=0.3, seed=2).posterior


def _checkpointed(tmp_path):
    from bayesinv import sample
    from bayesinv.samplers import Persistence

    path = tmp_path / "run.ckpt.npz"
    kw = {"draws": 20, "chains": 2, "seed": 1, "diagnostics": False,
          "persistence": Persistence(checkpoint=path), "beta": 0.5}
    sample(_lg_posterior(), "pcn", **kw)
    return path, kw


def test_a_checkpoint_carries_a_format_version_and_a_checksum(tmp_path):
    from bayesinv.samplers import checkpoint as ckpt

    path, _ = _checkpointed(tmp_path)
    meta, _ = ckpt.read(path)
    assert meta["format"] == ckpt.FORMAT_VERSION == 2 and len(meta["checksum"]) == 64


def _rewrite(path, edit):
    """Load every entry of an .npz, let ``edit(meta, arrays)`` change them, write it back."""
    import json

    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    edit(meta, arrays)
    with open(path, "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)


def _more_draws_with_a_recomputed_checksum(meta, arrays):
    import numpy as np

    from bayesinv.samplers import checkpoint as ckpt

    for key in [k for k in arrays if k.startswith("c0.buffer.")]:
        arrays[key] = np.concatenate([arrays[key], arrays[key][:15]])
    meta["checksum"] = ckpt._checksum(meta, arrays)


def _no_total_with_a_recomputed_checksum(meta, arrays):
    from bayesinv.samplers import checkpoint as ckpt

    del meta["run"]["total"]
    meta["checksum"] = ckpt._checksum(meta, arrays)


CHECKPOINT_DAMAGE = [
    ("truncated", lambda p: p.write_bytes(p.read_bytes()[:300]),
     "is damaged or not a bayesinv file (BadZipFile: File is not a zip file)"),
    ("a draw changed", lambda p: _rewrite(p, lambda m, a: a.__setitem__(
        "c0.buffer.lp", a["c0.buffer.lp"] + 1.0)),
     "is damaged or not a bayesinv file (checksum mismatch: the content was changed after it "
     "was written)"),
    ("35 draws for 20", lambda p: _rewrite(p, _more_draws_with_a_recomputed_checksum),
     "is damaged or not a bayesinv file (chain 0: 35 buffered 'xi' draws, the metadata says "
     "20)"),
    ("no total steps", lambda p: _rewrite(p, _no_total_with_a_recomputed_checksum),
     "is damaged or not a bayesinv file (the run shape is warmup=0, thin=1, total=None; "
     "expected integers with warmup >= 0 and thin >= 1)"),
    ("an older format", lambda p: _rewrite(p, lambda m, a: m.update(format=1)),
     "is damaged or not a bayesinv file (format version 1, this bayesinv reads 2)"),
    ("a byte flipped in the metadata", lambda p: p.write_bytes(p.read_bytes().replace(
        '"format"'.encode("utf-32-le"), '"fxrmat"'.encode("utf-32-le"))),
     "is damaged or not a bayesinv file (BadZipFile: Bad CRC-32 for file '__meta__.npy')"),
]


@pytest.mark.parametrize(("damage", "message"), [(d, m) for _, d, m in CHECKPOINT_DAMAGE],
                         ids=[name for name, _, _ in CHECKPOINT_DAMAGE])
def test_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage, message):
    from bayesinv import sample
    from bayesinv.errors import CorruptFileError

    path, kw = _checkpointed(tmp_path)
    damage(path)
    with pytest.raises(CorruptFileError) as info:
        sample(_lg_posterior(), "pcn", **kw)
    assert str(info.value).startswith(f"{str(path)!r} {message}")
    assert info.value.path == str(path)


# -- 6. silent wrong numbers --------------------------------------------------------------------

def _spd(k=6):
    import numpy as np

    a = np.arange(k * k, dtype=float).reshape(k, k) / (k * k)
    return a @ a.T + np.eye(k)


def _nan_matrix():
    C = _spd()
    C[1, 2] = C[2, 1] = float("nan")
    return C


def _non_symmetric():
    C = _spd()
    C[0, 1] += 0.1
    return C


def _indefinite():
    import numpy as np

    return np.diag([1.0, 1.0, -1.0, 1.0, 1.0, 1.0])


PRECONDITIONER_PROBES = [
    (_nan_matrix, "preconditioner must be finite; it has NaN or inf entries"),
    (_non_symmetric, "preconditioner must be symmetric; max |C - Cᵀ| = 0.1 (max |C| = "),
    (_indefinite, "preconditioner must be positive definite (its Cholesky factorisation "
                  "fails)"),
    (lambda: _spd() + 0j, "preconditioner must be real, got a complex array (dtype "
                          "complex128); pass its real part (.real) if that is what is meant"),
    (lambda: _spd(5), "preconditioner must have shape (6, 6), got (5, 5)"),
]


@pytest.mark.parametrize(("make", "message"), PRECONDITIONER_PROBES,
                         ids=[m[:34] for _, m in PRECONDITIONER_PROBES])
def test_bad_preconditioner_matrices_are_refused(make, message):
    from bayesinv import sample
    from bayesinv.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as info:
        sample(_lg_posterior(), "ula", draws=5, chains=1, step_size=0.1, seed=0,
               preconditioner=make(), diagnostics=False)
    assert str(info.value).startswith(message)


def test_a_valid_preconditioner_is_still_taken():
    from bayesinv import sample

    idata = sample(_lg_posterior(), "ula", draws=5, chains=1, step_size=0.1, seed=0,
                   preconditioner=_spd(), diagnostics=False)
    assert idata.attrs["preconditioner"] == "user"


def test_complex_inputs_are_refused_not_cast():
    import warnings

    import numpy as np

    from bayesinv import GaussianLikelihood, sample
    from bayesinv.errors import InvalidArgumentError
    from bayesinv.testing.linear_gaussian import linear_gaussian

    problem = linear_gaussian(dim=6, num_observations=4, noise_std=0.3, seed=2)
    complex_message = "must be real, got a complex array (dtype complex128)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        with pytest.raises(InvalidArgumentError, match=rf"^data {re.escape(complex_message)}"):
            GaussianLikelihood(problem.forward, problem.data + 1j, 0.3)
        with pytest.raises(InvalidArgumentError, match=rf"^theta {re.escape(complex_message)}"):
            problem.forward(np.zeros(6) + 0.5j)
        with pytest.raises(InvalidArgumentError, match=rf"^init {re.escape(complex_message)}"):
            sample(problem.posterior, "pcn", draws=5, chains=1, beta=0.5, seed=0,
                   init=np.zeros((1, 6)) + 1j, diagnostics=False)


def test_functional_interval_and_l2_ball_need_the_l2_product():
    import numpy as np
    import scipy.sparse as sp

    from bayesinv.diagnostics.credible import functional_interval, l2_ball
    from bayesinv.errors import InvalidArgumentError

    draws = np.random.default_rng(0).normal(size=(2, 50, 10))
    for call, name in ((lambda **kw: functional_interval(draws, np.ones(10), 0.9, **kw),
                        "functional_interval"),
                       (lambda **kw: l2_ball(draws, 0.9, **kw), "l2_ball")):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert str(info.value) == (
            f"{name} needs space= (an FE space), mass_matrix= (an (10, 10) matrix M) or "
            f"draws whose InferenceData records θ's FE space (a sampler run on an FE forward "
            f"map) for the L² product <u, v> = uᵀ M v; pass "
            f"mass_matrix=scipy.sparse.identity(10) for "
            f"the Euclidean product of the coefficient vectors")
        call(mass_matrix=sp.identity(10))  # the Euclidean product, asked for explicitly


@pytest.mark.fem
@pytest.mark.parametrize("pde", ["darcy", "schrodinger", "heat"])
def test_a_link_giving_nonpositive_f_is_a_failed_solve(pde):
    import numpy as np

    from bayesinv import fem
    from bayesinv.errors import ForwardSolveError
    from bayesinv.links import Link

    class Negative(Link):
        name = "negative"

        def __call__(self, theta):
            return -np.exp(theta)

        def derivative(self, theta):
            return -np.exp(theta)

    domain = fem.unit_square(4)
    design = fem.uniform_design(domain, 5, seed=0)
    make = {"darcy": fem.DarcyMap, "schrodinger": fem.SchrodingerMap,
            "heat": fem.HeatForwardMap}[pde]
    extra = {"final_time": 0.1, "num_steps": 2} if pde == "heat" else {}
    fmap = make(domain, design, link=Negative(), **extra)
    with pytest.raises(ForwardSolveError, match=r"^link 'negative' gave f = -1 at node 0; "
                       r"the PDE needs f > 0 at every node$"):
        fmap(np.zeros(domain.parameter_space.num_dofs))


@pytest.mark.fem
def test_a_foreign_eigenpair_cache_file_is_recomputed_not_used(tmp_path):
    import numpy as np

    from bayesinv import fem
    from bayesinv.fem.eigen import _disk_path, laplacian_eigenpairs

    small, other = fem.unit_square(5), fem.unit_square(6)
    vals_other, _ = laplacian_eigenpairs(other, 4, cache_dir=tmp_path)
    # copy the other mesh's file under this mesh's name, and a same-shape forgery
    target = _disk_path(small, "dirichlet", tmp_path)
    target.write_bytes(_disk_path(other, "dirichlet", tmp_path).read_bytes())
    fresh = laplacian_eigenpairs(fem.unit_square(5), 4)  # no disk cache
    got = laplacian_eigenpairs(small, 4, cache_dir=tmp_path)
    np.testing.assert_array_equal(got[0], fresh[0])
    n = small.parameter_space.num_dofs
    with open(target, "wb") as f:
        np.savez(f, eigenvalues=vals_other, eigenfunctions=np.eye(n, 4),
                 key=np.array(target.stem))
    got = laplacian_eigenpairs(fem.unit_square(5), 4, cache_dir=tmp_path)
    np.testing.assert_array_equal(got[0], fresh[0])


# -- 9. Open MPI stays off the network in serial runs -------------------------------------------

@pytest.mark.slow
@pytest.mark.fem
def test_a_serial_run_with_fenicsx_opens_no_listening_socket():
    import subprocess

    code = ("import psutil, bayesinv.fem as fem\n"
            "fem.unit_square(4)\n"
            "from mpi4py import MPI\n"
            "MPI.COMM_WORLD.Barrier()\n"
            "me = psutil.Process()\n"
            "pids = {me.pid, *(c.pid for c in me.children(recursive=True))}\n"
            "print(sorted(c.laddr for c in psutil.net_connections(kind='inet')\n"
            "             if c.status == psutil.CONN_LISTEN and c.pid in pids))\n")
    env = {k: v for k, v in cli_env().items() if not k.startswith(("OMPI_", "PMIX_", "PMI_"))}
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert last_line(proc.stdout) == "[]"


def test_the_mpi_settings_leave_launched_processes_and_user_choices_alone():
    from bayesinv._mpi_env import isolate_singleton

    env = {}
    assert isolate_singleton(env) == {"OMPI_MCA_ess_singleton_isolated": "1",
                                      "OMPI_MCA_btl": "self,vader"}
    env = {"OMPI_MCA_btl": "self,tcp"}
    isolate_singleton(env)
    assert env["OMPI_MCA_btl"] == "self,tcp"
    assert isolate_singleton({"OMPI_COMM_WORLD_SIZE": "2"}) == {}
