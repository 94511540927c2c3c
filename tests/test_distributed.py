"""One PDE on many MPI ranks: DistributedVariationalMap (bayesinv/fem/distributed.py).

In-process tests run the map on ``MPI.COMM_SELF`` (a one-rank "distributed" mesh) against the
serial :class:`VariationalForwardMap`; the ``mpi`` tests run workers and the example under
``mpirun -n 1`` and ``-n 2`` and compare.

Tolerances: with the direct solver (MUMPS LU, or PETSc's serial factorisation in the reference
map) the two maps solve the same linear systems with different pivot orders, so outputs and
gradients differ by round-off, ‖δu‖ ≲ κ(J) ε ‖u‖ with κ(J) ~ 10² on these meshes: 1e-10 has
a margin of ~10⁴. A chain of 100 pCN-Langevin steps stays within ~1e-11 (measured 4e-11):
differences are amplified only by the Lipschitz constant of the proposal map, and an
accept/reject decision flips only if log u falls within ~1e-11 of the log acceptance ratio
(probability ~1e-11 per step); 1e-8 is the bound used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.fem

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def residual(u, m, v):
    import ufl

    return (0.5 * ufl.inner(ufl.grad(u), ufl.grad(v)) + ufl.exp(m) * u * v) * ufl.dx


def advection_residual(u, m, v):
    """A non-symmetric Jacobian (the adjoint needs a transposed solve)."""
    import ufl

    b = ufl.as_vector((2.0, 1.0))
    return (ufl.exp(m) * ufl.inner(ufl.grad(u), ufl.grad(v))
            + ufl.inner(b, ufl.grad(u)) * v - v) * ufl.dx


def boundary(x):
    return 1.0 + x[0] * x[1]


POINTS = np.random.default_rng(0).uniform(0.02, 0.98, size=(25, 2))


def _maps(res, n=8, **kwargs):
    import dolfinx.mesh
    from mpi4py import MPI

    from bayesinv import fem

    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)
    bcs = [fem.DirichletBC(boundary)]
    G = fem.DistributedVariationalMap(res, mesh, POINTS, bcs=bcs, **kwargs)
    S = fem.VariationalForwardMap(res, mesh, POINTS, bcs=bcs, probe=False)
    return G, S


@pytest.mark.parametrize("res", [residual, advection_residual])
def test_matches_serial_variational_map(res):
    """y, Jᵀw and Jh equal those of the serial map (θ reordered) to round-off."""
    G, S = _maps(res)
    Q = S.parameter_function_space
    x = G.parameter_coordinates
    theta = np.sin(3 * x[:, 0]) * x[:, 1]
    rng = np.random.default_rng(1)
    w, h = rng.standard_normal(G.output_dim), rng.standard_normal(G.input_dim)
    y, jvp, pullback = G.linearize(theta)
    ys, jvps, pullbacks = S.linearize(G.from_input_order(theta, Q))
    assert G.symmetric == (res is residual)
    np.testing.assert_allclose(y, ys, rtol=0, atol=1e-10 * np.abs(ys).max())
    gs = G.to_input_order(pullbacks(w), Q)
    np.testing.assert_allclose(pullback(w), gs, rtol=0, atol=1e-10 * np.abs(gs).max())
    js = jvps(G.from_input_order(h, Q))
    np.testing.assert_allclose(jvp(h), js, rtol=0, atol=1e-10 * np.abs(js).max())
    assert G.counts.as_dict() == {"forward": 1, "adjoint": 1, "tangent": 1}


def test_taylor_and_dot_product():
    from bayesinv.testing import check_forward_map

    G, _ = _maps(advection_residual)
    x = G.parameter_coordinates
    report = check_forward_map(G, 0.5 * np.cos(2 * x[:, 0]), np.random.default_rng(2))
    assert np.all(report.rates1 > 1.8), report.rates1
    assert report.dot_product_error < 1e-10


def test_failed_solve_is_a_forward_solve_error():
    """An operator with e^θ = inf is a ForwardSolveError (a rejection in a chain),
    decided on all ranks together."""
    from bayesinv import fem
    from bayesinv.errors import ForwardSolveError

    G, _ = _maps(residual, n=4)
    with pytest.raises(ForwardSolveError):  # a singular (inf) operator: the LU fails
        G(np.full(G.input_dim, 1000.0))
    assert np.isfinite(G(np.zeros(G.input_dim))).all()  # and the map still works
    assert isinstance(G, fem.DistributedVariationalMap)


def test_fingerprint_tells_problems_apart():
    import dolfinx.mesh
    from mpi4py import MPI

    from bayesinv import fem

    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 4, 4)

    def make(value, points=POINTS, res=residual):
        return fem.DistributedVariationalMap(res, mesh, points, bcs=[fem.DirichletBC(value)])

    base = make(1.0).fingerprint()
    assert make(1.0).fingerprint() == base
    assert make(2.0).fingerprint() != base
    assert make(1.0, POINTS[:-1]).fingerprint() != base
    assert make(1.0, res=advection_residual).fingerprint() != base


def test_input_ordering_is_the_mesh_input_order():
    """θ is ordered by the input node indices: the coordinates are those of the unit-square
    generator's node list, and from/to_input_order are inverse permutations."""
    G, S = _maps(residual, n=4)
    Q = S.parameter_function_space
    x = G.parameter_coordinates
    mesh = G.mesh
    nodes = np.empty((x.shape[0], 2))
    nodes[mesh.geometry.input_global_indices] = mesh.geometry.x[:, :2]
    np.testing.assert_array_equal(x, nodes)
    theta = np.arange(x.shape[0], dtype=float)
    np.testing.assert_array_equal(G.to_input_order(G.from_input_order(theta, Q), Q), theta)
    serial = G.from_input_order(theta, Q)
    np.testing.assert_allclose(x[serial.astype(int)], Q.tabulate_dof_coordinates()[:, :2],
                               rtol=0, atol=1e-14)


def test_krylov_solver_with_hypre_matches_direct():
    """CG + BoomerAMG at rtol 1e-12 agrees with MUMPS to ~κ·rtol (bound 1e-8)."""
    from bayesinv import fem

    G, _ = _maps(residual)
    K, _ = _maps(residual, solver=fem.PETScSolver("cg", "hypre", rtol=1e-12))
    theta = 0.3 * G.parameter_coordinates[:, 0]
    w = np.ones(G.output_dim)
    (y, pb), (yk, pbk) = G.value_and_pullback(theta), K.value_and_pullback(theta)
    np.testing.assert_allclose(yk, y, rtol=0, atol=1e-8)
    np.testing.assert_allclose(pbk(w), pb(w), rtol=0, atol=1e-8)


@pytest.mark.slow
def test_bad_input_says_what_is_wrong():
    import dolfinx.mesh
    from mpi4py import MPI

    from bayesinv import fem
    from bayesinv.errors import InvalidArgumentError
    from bayesinv.fem.solvers import parallel_solver_config as _solver_config

    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 4, 4)
    outside = np.array([[0.5, 0.5], [1.5, 0.5], [0.2, 0.2], [-1.0, 3.0]])
    with pytest.raises(InvalidArgumentError, match=r"2 of the points lie outside .*\[1, 3\]"):
        fem.DistributedVariationalMap(residual, mesh, outside)

    def nonlinear(u, m, v):
        import ufl

        return (ufl.inner(ufl.grad(u), ufl.grad(v)) + m * u ** 3 * v) * ufl.dx

    with pytest.raises(InvalidArgumentError, match="linear in u"):
        fem.DistributedVariationalMap(nonlinear, mesh, POINTS)
    with pytest.raises(InvalidArgumentError, match="no experiments"):
        fem.DistributedVariationalMap(residual, mesh, POINTS, bcs=[fem.DirichletBC("g")])
    with pytest.raises(InvalidArgumentError, match="PETScSolver"):
        fem.DistributedVariationalMap(residual, mesh, POINTS, solver="cholmod")

    class TwoRanks:
        size = 2

    with pytest.raises(InvalidArgumentError, match="serial and the mesh is distributed"):
        _solver_config(fem.PETScSolver(), TwoRanks())

    class Distributed:  # what a mesh on MPI.COMM_WORLD with 2 ranks looks like to Domain
        geometry, topology = mesh.geometry, mesh.topology
        comm = TwoRanks

    with pytest.raises(InvalidArgumentError, match=r"Domain .* is serial .* 2 ranks"):
        fem.Domain(Distributed())


# --- under mpirun ------------------------------------------------------------------------------

WORKER = """
import json, sys
import numpy as np
import dolfinx.mesh
from mpi4py import MPI
sys.path.insert(0, {tests!r})
from test_distributed import POINTS, advection_residual, boundary
from bayesinv import fem
from bayesinv.errors import InvalidArgumentError

comm = MPI.COMM_WORLD
mesh = dolfinx.mesh.create_unit_square(comm, 10, 10)
# a point on a mesh vertex and one on an edge: found by two ranks, owned by one
points = np.vstack([POINTS, [[0.5, 0.5], [0.55, 0.5]]])
G = fem.DistributedVariationalMap(advection_residual, mesh, points,
                                  bcs=[fem.DirichletBC(boundary)])
x = G.parameter_coordinates
theta = np.sin(3 * x[:, 0]) * x[:, 1]
y, jvp, pullback = G.linearize(theta)
w = np.cos(np.arange(G.output_dim))
h = np.sin(np.arange(G.input_dim))
out = np.concatenate([y, pullback(w), jvp(h)])
everyone = comm.gather(out, root=0)
fingerprint = G.fingerprint()
from bayesinv.errors import ForwardSolveError
try:  # a failed solve is raised on every rank, and the map recovers
    G(np.full(G.input_dim, 1000.0))
    failed = False
except ForwardSolveError:
    failed = True
# to round-off: a parallel MUMPS solve is not bit-reproducible run to run on every CPU kernel
recovered = bool(np.allclose(G(theta), y, rtol=1e-10, atol=1e-12 * np.abs(y).max()))
failures = comm.gather((failed, recovered), root=0)
try:
    fem.DistributedVariationalMap(advection_residual, mesh, [[0.5, 0.5], [2.0, 2.0]])
    message = None
except InvalidArgumentError as exc:
    message = str(exc)
messages = comm.gather(message, root=0)
domain_error = None
try:
    fem.Domain(mesh)
except InvalidArgumentError as exc:
    domain_error = str(exc)
if comm.rank == 0:
    np.save({out!r}, out)
    json.dump({{"identical": all(np.array_equal(out, o) for o in everyone),
               "owners": np.bincount(G.point_owner, minlength=comm.size).tolist(),
               "messages": messages, "domain_error": domain_error,
               "fingerprint": fingerprint, "failures": failures}}, open({report!r}, "w"))
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl="self,vader")
    return env


def mpirun(ranks: int, *args, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["mpirun", "-n", str(ranks), "--allow-run-as-root", "-x", "PYTHONPATH", "-x",
         "OMPI_MCA_btl", PYTHON, *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.mark.mpi
@pytest.mark.slow
def test_map_on_two_ranks_equals_one_rank(tmp_path):
    """Outputs, gradients and tangents under mpirun -n 2 equal -n 1 to round-off, are the same
    bits on both ranks, each point has one owner, and an outside point is reported with the
    same global index by every rank; Domain refuses the distributed mesh; the fingerprint does
    not depend on the rank count; a failed solve is raised on both ranks and the next solve
    gives the values of before (to round-off)."""
    results = {}
    for ranks in (1, 2):
        out, report = tmp_path / f"out{ranks}.npy", tmp_path / f"report{ranks}.json"
        script = tmp_path / f"worker{ranks}.py"
        script.write_text(WORKER.format(tests=str(ROOT / "tests"), out=str(out),
                                        report=str(report)))
        mpirun(ranks, script)
        results[ranks] = np.load(out), json.loads(report.read_text())
    (a, ra), (b, rb) = results[1], results[2]
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10 * np.abs(a).max())
    assert ra["identical"] and rb["identical"]
    assert sum(rb["owners"]) == len(POINTS) + 2 and min(rb["owners"]) > 0
    assert len(set(rb["messages"])) == 1 and "indices [1]" in rb["messages"][0]
    assert ra["domain_error"] is None
    assert "distributed over 2 ranks" in rb["domain_error"]
    assert ra["fingerprint"] == rb["fingerprint"]
    assert rb["failures"] == [[True, True], [True, True]]


@pytest.mark.mpi
@pytest.mark.slow
def test_example_same_chains_under_every_layout(tmp_path):
    """``examples/distributed_schrodinger.py --chains 2`` draws the same two chains (bound 1e-8,
    see the module docstring) on 1 rank, on 2 ranks per chain (one distributed mesh), and as
    2 chains × 1 rank (GroupExecutor) from one ``mpirun -n 2``; every rank of a chain holds the
    same draws."""
    draws = {}
    for ranks, per_chain in ((1, 1), (2, 2), (2, 1)):
        out = tmp_path / f"n{ranks}x{per_chain}"
        mpirun(ranks, "examples/distributed_schrodinger.py", "--quick", "--chains", 2,
               "--ranks-per-chain", per_chain, "--output", out)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["ranks"] == ranks and summary["ranks_identical"]
        assert summary["ranks_per_chain"] == per_chain and summary["chains"] == 2
        assert 0.2 < summary["acceptance_rate"] < 0.95
        draws[ranks, per_chain] = np.load(out / "draws.npz")["xi"]
    reference = draws[1, 1]
    assert reference.shape[0] == 2 and not np.allclose(reference[0], reference[1])
    for layout in ((2, 2), (2, 1)):
        np.testing.assert_allclose(draws[layout], reference, rtol=0, atol=1e-8)


def test_group_executor_layout():
    from mpi4py import MPI

    from bayesinv.errors import InvalidArgumentError
    from bayesinv.hpc.groups import GroupExecutor

    with pytest.raises(InvalidArgumentError, match="must divide the number of MPI ranks"):
        GroupExecutor(2, MPI.COMM_SELF)
    with GroupExecutor(1, MPI.COMM_SELF) as groups:
        assert (groups.group, groups.groups, groups.is_root) == (0, 1, True)
        assert groups.map(lambda t, comm: (t, comm.size), range(3)) == [(0, 1), (1, 1), (2, 1)]


CHECKPOINT_WORKER = """
import importlib.util, json, os, signal, sys
from mpi4py import MPI
from bayesinv.errors import SamplingInterrupted
from bayesinv.samplers import checkpoint as ckpt
from bayesinv.samplers import runner

spec = importlib.util.spec_from_file_location("example", {example!r})
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
runner.ChainRunner.block_steps = 10
if {interrupt} and MPI.COMM_WORLD.rank == 0:  # SIGTERM to rank 0 only, after its 1st save
    original = ckpt.save_chains

    def save_then_signal(*args, **kwargs):
        original(*args, **kwargs)
        ckpt.save_chains = original
        os.kill(os.getpid(), signal.SIGTERM)

    ckpt.save_chains = save_then_signal
try:
    example.main(["--quick", "--output", {out!r}, "--checkpoint", {ckpt!r},
                  "--checkpoint-interval", "1e-6"])
    status = "complete"
except SamplingInterrupted as exc:
    status = exc.iteration
statuses = MPI.COMM_WORLD.gather(status, root=0)
if MPI.COMM_WORLD.rank == 0:
    json.dump(statuses, open({status_file!r}, "w"))
"""


@pytest.mark.mpi
@pytest.mark.slow
def test_checkpoint_written_under_two_ranks_resumes_under_one(tmp_path):
    """A SIGTERM that reaches rank 0 only stops both ranks at the same step (20: the block
    after the signal); the checkpoint rank 0 wrote resumes under ``mpirun -n 1`` and the draws
    equal an uninterrupted one-rank run (bound 1e-8, see the module docstring)."""
    ckpt = tmp_path / "run.ckpt.npz"

    def worker(ranks, interrupt, name):
        script = tmp_path / f"{name}.py"
        status = tmp_path / f"{name}.json"
        script.write_text(CHECKPOINT_WORKER.format(
            example=str(ROOT / "examples" / "distributed_schrodinger.py"),
            interrupt=interrupt, out=str(tmp_path / name), ckpt=str(ckpt),
            status_file=str(status)))
        mpirun(ranks, script)
        return json.loads(status.read_text())

    assert worker(2, True, "interrupted") == [20, 20]
    assert (tmp_path / "run.ckpt.chain0.npz").exists()
    assert worker(1, False, "resumed") == ["complete"]
    mpirun(1, "examples/distributed_schrodinger.py", "--quick", "--output", tmp_path / "plain")
    resumed = np.load(tmp_path / "resumed" / "draws.npz")
    plain = np.load(tmp_path / "plain" / "draws.npz")
    np.testing.assert_allclose(resumed["xi"], plain["xi"], rtol=0, atol=1e-8)
