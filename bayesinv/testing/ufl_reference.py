"""Plain-dolfinx reference implementations, the test equipment of :mod:`bayesinv.fem`.

The fast forward maps assemble from precomputed element tensors (:mod:`bayesinv.fem.operator`);
these functions do the same jobs the plain dolfinx way — UFL forms, PETSc assembly with
Dirichlet conditions, PETSc LU — so that tests can require the fast path to reproduce them to
round-off, and the benchmarks can time the naive loop (:class:`NaiveUFLGradient`). Needs
FEniCSx; not imported by :mod:`bayesinv.testing`'s ``__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..fem import _compat
from ..fem._compat import COMM, PETSc, dolfinx, ufl
from ..fem._compat import quiet_jit as _quiet_jit

if TYPE_CHECKING:
    import scipy.sparse as sp
    from dolfinx.fem import Function, FunctionSpace
    from ufl.core.expr import Expr

    from ..fem.domain import LagrangeSpace
    from ..links import Link


def function_from_values(V: FunctionSpace, values: ArrayLike) -> Function:
    """A dolfinx Function of ``V`` holding the given dof values."""
    fn = dolfinx.fem.Function(V)
    fn.x.array[:] = values
    return fn


def assemble_bilinear(V: FunctionSpace, kind: Literal["mass", "stiffness", "boundary_mass"],
                      coefficient: Function | None = None) -> sp.csr_matrix:
    """Assemble a bilinear form with UFL and PETSc and return it as a SciPy CSR matrix.

    ``kind`` is ``"mass"`` (∫ q u v), ``"stiffness"`` (∫ q ∇u·∇v) or ``"boundary_mass"``
    (∫_∂O q u v ds); ``coefficient`` is a dolfinx Function q (default 1). Used to validate the
    fast path and in benchmarks.
    """
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    q = 1.0 if coefficient is None else coefficient
    integrand = {"mass": q * u * v * ufl.dx,
                 "stiffness": q * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
                 "boundary_mass": q * u * v * ufl.ds}[kind]
    return _compat.assemble_matrix_csr(_compat.form(integrand))


def ufl_reference_solve(space: LagrangeSpace, *, kind: str, coefficient: ArrayLike,
                        base_stiffness: float, source_scale: float, source: ArrayLike,
                        boundary: ArrayLike) -> NDArray[np.float64]:
    """Solve c_K ∫∇u·∇v + ∫ f t(u, v) = c_s ∫ s v, u = g on ∂O, the plain dolfinx way.

    UFL forms, PETSc assembly with Dirichlet conditions and a direct LU solve: the reference
    that the fast path must reproduce to round-off. ``coefficient`` holds P1 nodal values of
    f; ``source`` and ``boundary`` hold dof values on ``space``. Returns the dof values of u.
    """
    V = space.function_space
    f = function_from_values(space.domain.parameter_space.function_space, coefficient)
    s = function_from_values(V, source)
    g = function_from_values(V, boundary)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    term = f * u * v if kind == "mass" else f * ufl.inner(ufl.grad(u), ufl.grad(v))
    if base_stiffness:
        term = term + base_stiffness * ufl.inner(ufl.grad(u), ufl.grad(v))
    a = term * ufl.dx
    rhs = source_scale * s * v * ufl.dx
    bc = _compat.dirichlet_bc(g, space.boundary_dofs)
    problem = _compat.linear_problem(a, rhs, bcs=[bc],
                                     petsc_options={"ksp_type": "preonly", "pc_type": "lu"})
    with _quiet_jit():
        uh = problem.solve()
    return np.array(uh.x.array, dtype=np.float64)


def ufl_reference_heat(space: LagrangeSpace, *, coefficient: ArrayLike, time_step: float,
                       theta_scheme: float, num_steps: int, initial: ArrayLike,
                       sources: NDArray[np.float64], boundary: NDArray[np.float64]
                       ) -> NDArray[np.float64]:
    """The ϑ-scheme for ∂_t u − ∇·(f∇u) = s, u = g on ∂O, the plain dolfinx way.

    Per step: UFL forms (u v/Δt + ϑ f ∇u·∇v) and (u^{n−1} v/Δt − (1−ϑ) f ∇u^{n−1}·∇v +
    s̄^n v), PETSc assembly with Dirichlet lifting and a PETSc LU solve. ``sources`` and
    ``boundary`` hold dof values at every time level, shape (num_steps + 1, num_dofs);
    ``coefficient`` P1 nodal values of f. Returns all time levels, (num_steps + 1, num_dofs).
    """
    V = space.function_space
    f = function_from_values(space.domain.parameter_space.function_space, coefficient)
    u_prev, s_new, s_old, g = (dolfinx.fem.Function(V) for _ in range(4))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dt, th = float(time_step), float(theta_scheme)
    grad_dot = ufl.inner(ufl.grad(u), ufl.grad(v))
    a = _compat.form((u * v / dt + th * f * grad_dot) * ufl.dx)
    rhs = _compat.form(
        (u_prev * v / dt - (1 - th) * f * ufl.inner(ufl.grad(u_prev), ufl.grad(v))
         + (th * s_new + (1 - th) * s_old) * v) * ufl.dx)
    bc = _compat.dirichlet_bc(g, space.boundary_dofs)
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    ksp = PETSc.KSP().create(COMM)
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    out = np.empty((num_steps + 1, space.num_dofs))
    out[0] = initial
    uh = dolfinx.fem.Function(V)
    for n in range(1, num_steps + 1):
        u_prev.x.array[:] = out[n - 1]
        s_new.x.array[:], s_old.x.array[:] = sources[n], sources[n - 1]
        g.x.array[:] = boundary[n]
        b = dolfinx.fem.petsc.assemble_vector(rhs)
        dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [bc])
        ksp.solve(b, _compat.petsc_vector(uh))
        out[n] = uh.x.array
        b.destroy()
    ksp.destroy()
    A.destroy()
    return out


class NaiveUFLGradient:
    """A gradient step the plain dolfinx way, for benchmarks and as an end-to-end reference.

    Forward map θ ↦ O u, u solving c_K ∫∇u·∇v + ∫ f t(u, v) = c_s ∫ s v, u = g on ∂O, f =
    Φ(θ). Forms are compiled once; per call: UFL re-assembly of the matrix (with Dirichlet
    rows) and right-hand side, a PETSc LU factorisation (symbolic reused by PETSc when the
    pattern is unchanged), the forward solve, the adjoint solve with the same factorisation,
    and the gradient assembled from the UFL form −Φ'(θ) ∫ ψ t(u, λ).
    """

    def __init__(self, space: LagrangeSpace, *, kind: str, base_stiffness: float,
                 source_scale: float, source: ArrayLike, boundary: ArrayLike,
                 observation: sp.spmatrix, link: Link) -> None:
        V = space.function_space
        Q = space.domain.parameter_space.function_space
        self._space, self._link, self._O = space, link, observation.tocsr()
        self._Ot = self._O.T.tocsr()
        self._f = dolfinx.fem.Function(Q)
        self._u, self._lam = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        s, g = function_from_values(V, source), function_from_values(V, boundary)
        u, v, psi = ufl.TrialFunction(V), ufl.TestFunction(V), ufl.TestFunction(Q)

        def t(a: Expr, b: Expr) -> Expr:
            return a * b if kind == "mass" else ufl.inner(ufl.grad(a), ufl.grad(b))

        integrand = self._f * t(u, v)
        if base_stiffness:
            integrand = integrand + base_stiffness * ufl.inner(ufl.grad(u), ufl.grad(v))
        self._a = _compat.form(integrand * ufl.dx)
        self._L = _compat.form(source_scale * s * v * ufl.dx)
        self._dform = _compat.form(-psi * t(self._u, self._lam) * ufl.dx)
        self._bc = _compat.dirichlet_bc(g, space.boundary_dofs)
        self._A = dolfinx.fem.petsc.create_matrix(self._a)
        self._b = _compat.create_petsc_vector(self._L)
        self._ksp = PETSc.KSP().create(COMM)
        self._ksp.setType("preonly")
        self._ksp.getPC().setType("lu")
        self._boundary = space.boundary_dofs

    def __call__(self, theta: NDArray[np.float64], w: NDArray[np.float64]
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(G(θ), J(θ)ᵀ w)."""
        self._f.x.array[:] = self._link(theta)
        A, b = self._A, self._b
        A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(A, self._a, bcs=[self._bc])
        A.assemble()
        with b.localForm() as local:
            local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self._L)
        dolfinx.fem.petsc.apply_lifting(b, [self._a], bcs=[[self._bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [self._bc])
        self._ksp.setOperators(A)
        self._ksp.solve(b, _compat.petsc_vector(self._u))
        y = self._O @ self._u.x.array
        rhs = self._Ot @ w
        rhs[self._boundary] = 0.0
        b.array[:] = rhs
        self._ksp.solve(b, _compat.petsc_vector(self._lam))
        return y, self._link.derivative(theta) * _compat.assemble_vector_array(self._dform)
