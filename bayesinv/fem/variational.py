r"""Forward maps from a user's UFL residual: "your own PDE" with exact adjoints.

The user writes the weak form as a residual F(u, m; v) in the state u ∈ V, the parameter
field m ∈ Q and a test function v; the map is θ ↦ y = O u(θ), where m = Φ(E θ) (link Φ on
the dof values, optional basis E, :mod:`bayesinv.fem.parameters`), u = g on the Dirichlet dofs
B and F_F(u, m) = 0 on the free dofs F. Forward solve: Newton's method
(:mod:`bayesinv.fem.newton`) on assembled Jacobians J_FF = ∂F_F/∂u_F; a *linear* residual
(J independent of u) takes exactly one step, u = u₀ − J_FF⁻¹ F_F(u₀), with one factorisation
(Cholesky when J_FF is symmetric, LU otherwise; :mod:`bayesinv.fem.jacobian`).

Derivatives (the discrete ones, so Taylor and dot-product tests hold to round-off; computed
in :mod:`bayesinv.fem.variational_derivatives`, which also gives second-order adjoints): with
dm = Φ'(z) ⊙ E dθ,

    tangent:  J_FF δu_F = −(∂F_F/∂m) dm,                 J dθ = O_F δu_F,
    adjoint:  J_FFᵀ λ = O_Fᵀ w,                          Jᵀ w = −Eᵀ(Φ'(z) ⊙ (∂F_F/∂m)ᵀ λ),

both at the converged state and with the forward factorisation (linear residuals) or one
factorisation of J at the converged state (nonlinear ones, made only when a derivative is
asked for). The forms F, ∂F/∂u, ∂F/∂m[δm] and ∂F/∂m[q](λ) come from ``ufl.derivative`` and
``ufl.replace`` and are compiled once per map (:mod:`bayesinv.fem.residual`).

Several experiments (right-hand sides, boundary data: values of named coefficients) share θ;
a linear residual whose Jacobian does not depend on the changing coefficients shares one
factorisation among them, and the output is the stack (O u_1, …, O u_K).

When to use which path: the built-in maps (:class:`~bayesinv.fem.SchrodingerMap`,
:class:`~bayesinv.fem.DarcyMap`, :class:`~bayesinv.fem.HeatForwardMap`) fill a precomputed
coefficient tensor (no UFL per θ) and are the fastest for their PDEs on simplex meshes; this map
takes any residual, element, cell type and boundary condition and re-assembles with FFCx
kernels per θ (see ``benchmarks/variational_maps.py`` for the cost).

References: Villa, Petra & Ghattas (2021), hIPPYlib, ACM TOMS 47 (``PDEVariationalProblem``);
Hinze, Pinnau, Ulbrich & Ulbrich (2009), *Optimization with PDE constraints*, §1.6.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import ufl
from numpy.typing import ArrayLike

from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.base import ForwardMap
from ..forward.fingerprint import fingerprint
from ..links import get_link
from ..protocols import Curvature, Pullback, Pushforward
from . import _compat
from .dirichlet import DirichletBC, boundary_dofs
from .jacobian import JacobianBlock
from .newton import NewtonOptions, newton_solve
from .parameters import ParameterMap
from .solvers import make_solver
from .variational_coefficients import bc_values, experiment_values, known_coefficients
from .variational_derivatives import VariationalLinearization
from .variational_spaces import (
    DofSpace,
    _check_serial,
    _fill,
    _mesh_parts,
    _Plain,
    _state_space,
    observation_matrix,
)

if TYPE_CHECKING:
    from .affine_probe import AffineOperator


class VariationalForwardMap(ForwardMap):
    r"""θ ↦ O u(θ) for a PDE given by its UFL residual F(u, m; v) (see the module docstring).

    Parameters
    ----------
    residual : callable
        ``residual(u, m, v, **coefficients) -> ufl.Form``: the weak form as a 1-form in the
        test function v, in terms of the state Function u and the parameter Function m (and the
        named known coefficients, as dolfinx Functions). Neumann and Robin terms go here.
    mesh : Domain, MeshData (:func:`bayesinv.fem.read_mesh`) or dolfinx Mesh
        A serial mesh of triangles, quadrilaterals, tetrahedra or hexahedra.
    observation : array_like (N, gdim), "field", PointObservation, FieldObservation, callable
        Point values at design points, the whole field in L² (y = R u with RᵀR = M), or linear
        functionals of u: a callable ``ell(u) -> 0-form`` or a list of them (e.g.
        ``lambda u: ufl.inner(ufl.grad(u), n) * ds(2)``, a flux through boundary part 2).
    parameter : {"P1", "P2", "DG0"}, dolfinx FunctionSpace or ParameterBasis
        The space of m (θ = its dof values) or a basis E of it (θ = coefficients).
    state : int or dolfinx FunctionSpace
        Lagrange degree (1 or 2) of u, or its (scalar) space.
    bcs : sequence of DirichletBC
        Dirichlet conditions (later ones win on shared dofs); none: the residual must fix u.
    link : None, str or Link
        m = Φ(z) on the dof values z = E θ; None (default) is Φ(z) = z.
    coefficients : dict, optional
        Known coefficients by name, each a constant, callable c(x) (x of shape (3, n)), dof
        values (interpolated into the state space) or a dolfinx Function; passed to
        ``residual`` as keyword arguments.
    experiments : sequence of dict, optional
        Per experiment, new values of some named coefficients (e.g. sources or boundary
        data: a DirichletBC may take its value from a coefficient name); output stacked.
    solver : optional
        Solver of symmetric Jacobians (:func:`bayesinv.fem.solvers.make_solver`; default
        PETSc Cholesky); non-symmetric ones use PETSc LU with transposed solves.
    newton : NewtonOptions, optional
    initial_guess : float or callable
        Newton's initial guess on the free dofs (default 0); fixed, not warm-started.
    probe : bool
        For residuals linear in u and affine in m, recover the operator's m-dependence once by
        coloured probing (:mod:`bayesinv.fem.affine_probe`) and assemble nothing per θ
        (default True; ``self.path`` says which path is used: "affine", "assembly", "newton").
    facet_tags : dolfinx MeshTags, optional
        Facet tags for ``DirichletBC(where=tag)`` (taken from a MeshData by default). For
        boundary terms on tagged parts, make the measure in the residual:
        ``ds = ufl.Measure("ds", domain=mesh, subdomain_data=facet_tags)``.
    """

    def __init__(self, residual: Callable[..., Any], mesh: Any, observation: Any, *,
                 parameter: Any = "P1", state: Any = 1, bcs: Iterable[DirichletBC] = (),
                 link: Any = None, coefficients: Mapping[str, Any] | None = None,
                 experiments: Iterable[Mapping[str, Any]] | None = None, solver: Any = None,
                 newton: NewtonOptions | None = None,
                 initial_guess: float | Callable[[np.ndarray], np.ndarray] = 0.0,
                 probe: bool = True, facet_tags: Any = None) -> None:
        super().__init__()
        if not callable(residual):
            raise InvalidArgumentError(
                f"residual must be a callable residual(u, m, v, **coefficients) returning a UFL "
                f"form, got {type(residual).__name__}")
        import dolfinx.fem

        msh, self.facet_tags, self.domain = _mesh_parts(mesh, facet_tags)
        _check_serial(msh)
        self.mesh = msh
        self.link = _Plain() if link is None else get_link(link)
        self.newton = NewtonOptions() if newton is None else newton
        if not isinstance(self.newton, NewtonOptions):
            raise InvalidArgumentError(f"newton must be a NewtonOptions, got {newton!r}")
        self.solver = make_solver(solver)
        V = self.function_space = _state_space(msh, state)
        self._param = ParameterMap(msh, parameter, self.link)
        Q = self._param.space
        self.num_dofs = V.dofmap.index_map.size_local

        # the UFL objects, created once; their values change per θ
        self._u, self._lam = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        self._m, self._dm = dolfinx.fem.Function(Q), dolfinx.fem.Function(Q)
        v = ufl.TestFunction(V)
        self._coef = known_coefficients(coefficients or {}, V, msh)
        self._coef_defaults = {name: fn.x.array.copy() for name, fn in self._coef.items()}
        self._experiments = experiment_values(experiments, self._coef)
        self.num_experiments = len(self._experiments)
        form = residual(self._u, self._m, v, **self._coef)
        from .residual import ResidualForms

        self.forms = ResidualForms(form, self._u, self._m, v, self._lam, self._dm)
        self.linear = self.forms.linear
        varying = {self._coef[name] for exp in self._experiments for name in exp}
        self.shared_factorization = self.linear and not (
            varying & self.forms.jacobian_coefficients)

        # Dirichlet dofs and data (per experiment), free dofs
        self.bcs = tuple(bcs)
        for bc in self.bcs:
            if not isinstance(bc, DirichletBC):
                raise InvalidArgumentError(
                    f"bcs must be a sequence of bayesinv.fem.DirichletBC, got {bc!r}")
        self._bc_dofs = [boundary_dofs(V, bc, self.facet_tags) for bc in self.bcs]
        bnd = (np.unique(np.concatenate(self._bc_dofs)) if self.bcs
               else np.zeros(0, dtype=np.int64))
        mask = np.ones(self.num_dofs, dtype=bool)
        mask[bnd] = False
        self.boundary_dofs, self.free_dofs = bnd, np.flatnonzero(mask)
        guess = dolfinx.fem.Function(V)
        _fill(guess, initial_guess, "initial_guess")
        self._initial = []
        for k in range(self.num_experiments):
            self._set_experiment(k)
            u0 = guess.x.array.copy()
            for bc, dofs in zip(self.bcs, self._bc_dofs, strict=True):
                u0[dofs] = bc_values(bc, self._coef, V)[dofs]
            self._initial.append(u0)
        self._set_experiment(0)

        O, self.observation_kind, design = observation_matrix(observation, V, self.domain)
        if design is not None:
            self.design = design
        O = O.tocsr()
        self.observation_matrix = O
        self._O_free = O[:, self.free_dofs].tocsr()
        self._O_free_t = self._O_free.T.tocsr()
        self.num_observations = O.shape[0]
        self.input_dim = self._param.input_dim
        self.output_dim = self.num_experiments * self.num_observations
        self._jacobian = JacobianBlock(self.forms.jacobian, self.free_dofs, self.num_dofs,
                                       self.solver)
        self.newton_iterations = 0
        self._affine = None
        self._dof_space: DofSpace | None = None
        self._second_order_forms = None
        self.path = "assembly" if self.linear else "newton"
        if probe and self.forms.affine and self.shared_factorization:
            from .affine_probe import AffineOperator

            affine = AffineOperator(self)
            if affine.valid:
                self._affine, self.path = affine, "affine"

    def _set_experiment(self, k: int) -> None:
        """Give the known coefficients the values of experiment ``k``."""
        exp = self._experiments[k]
        for name, fn in self._coef.items():
            fn.x.array[:] = exp.get(name, self._coef_defaults[name])

    # -- the solves -------------------------------------------------------------------------

    def _set_parameter(self, theta):
        z = self._param.values(theta)
        m = self.link(z)
        if not np.isfinite(m).all():
            raise ForwardSolveError("the linked parameter field is not finite")
        self._m.x.array[:] = m
        return z, m

    def _residual_free(self, u):
        self._u.x.array[:] = u
        r = _compat.assemble_vector_array(self.forms.residual)[self.free_dofs]
        return r

    def _factor_at(self, u):
        self._u.x.array[:] = u
        return self._jacobian.factorize()

    def _forward(self, theta):
        theta = self._check_theta(theta)
        z, m = self._set_parameter(theta)
        if self._affine is not None:
            return self._forward_affine(self._affine, theta, z, m)
        states, factors = [], []
        shared = None
        for k in range(self.num_experiments):
            self._set_experiment(k)
            u = self._initial[k].copy()
            if self.linear:
                if shared is None or not self.shared_factorization:
                    shared = self._factor_at(u)
                r = self._residual_free(u)
                u[self.free_dofs] -= shared.solve(r)
                factors.append(shared)
                self.newton_iterations += 1
            else:
                u, its = newton_solve(u, self.free_dofs, self._residual_free, self._factor_at,
                                      self.newton)
                self.newton_iterations += its
                factors.append(None)
            if not np.isfinite(u).all():
                raise ForwardSolveError("the forward solution is not finite")
            states.append(u)
        self.counts.forward += self.num_experiments
        return theta, z, m, np.array(states), factors

    def _forward_affine(self, aff: AffineOperator, theta: np.ndarray, z: np.ndarray, m: Any
                        ) -> tuple[Any, ...]:
        free = self.free_dofs
        factor = self._jacobian.factorize_values(aff.ff_values(m), aff.symmetric)
        states = aff.starts.copy()
        for k in range(self.num_experiments):
            states[k, free] = -factor.solve(aff.residual(k, m))
        if not np.isfinite(states).all():
            raise ForwardSolveError("the forward solution is not finite")
        self.newton_iterations += self.num_experiments
        self.counts.forward += self.num_experiments
        return theta, z, m, states, [factor] * self.num_experiments

    def _observe(self, states):
        return np.concatenate([self.observation_matrix @ u for u in states])

    def solve_state(self, theta: ArrayLike) -> np.ndarray:
        """Dof values of u(θ) on the state space; shape (num_dofs,), or (K, num_dofs)."""
        states = self._forward(theta)[3]
        return states[0] if self.num_experiments == 1 else states

    def jacobian_matrix(self, theta: ArrayLike, experiment: int = 0) -> Any:
        """J_FF at u(θ) (free dofs) as a SciPy CSR matrix (for inspection and tests)."""
        states = self._forward(theta)[3]
        self._set_experiment(experiment)
        self._u.x.array[:] = states[experiment]
        return self._jacobian.matrix()

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        return self._observe(self._forward(theta)[3])

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        lin = VariationalLinearization(self, theta)
        return lin.y, lin.jvp, lin.pullback

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        """G(θ), jvp, pullback and ``curvature`` (w ↦ the action of Σ_i w_i ∇²G_i(θ)
        [+ c JᵀJ]) by second-order adjoints: :mod:`bayesinv.fem.variational_derivatives`."""
        lin = VariationalLinearization(self, theta)
        return lin.y, lin.jvp, lin.pullback, lin.curvature

    # -- identity -----------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A stable hash of what defines the map: the residual's UFL signature, the elements and
        mesh, the Dirichlet dofs and data, the known coefficients and experiments, the
        observation operator, the link, the parameter basis and the Newton options. Two maps
        with different residuals (or data) never share a fingerprint."""
        V, Q = self.function_space, self._param.space
        basis = self._param.basis
        return fingerprint(
                type(self).__name__, self.forms.signature, repr(V.ufl_element()),
                repr(Q.ufl_element()), self.mesh.geometry.x,
                np.asarray(_compat.geometry_dofs(self.mesh)), self.boundary_dofs,
                *self._initial, *[self._coef_defaults[k] for k in sorted(self._coef_defaults)],
                repr([sorted(e) for e in self._experiments]),
                *[e[k] for e in self._experiments for k in sorted(e)],
                self.observation_matrix, repr(self.link), repr(self.newton),
                "no basis" if basis is None else basis)

    @property
    def parameter_function_space(self) -> Any:
        """The dolfinx space of m."""
        return self._param.space

    @property
    def parameter_space(self) -> Any:
        """Where θ lives, for priors, credible sets and the samplers' output: the package's P1
        :class:`~bayesinv.fem.LagrangeSpace` when θ are P1 nodal values on a simplex
        :class:`~bayesinv.fem.Domain`, else a :class:`DofSpace` (dof coordinates of m's
        space). Not defined (AttributeError) when θ are coefficients of a ParameterBasis."""
        if self._param.basis is not None:
            raise AttributeError("θ are basis coefficients: the map has no parameter_space")
        dom = self.domain
        if dom is not None:
            p1 = dom.space(1)
            if self._param.space.ufl_element() == p1.function_space.ufl_element():
                return p1
        if self._dof_space is None:
            self._dof_space = DofSpace(self._param.space)
        return self._dof_space

    def parameter_values(self, theta: ArrayLike) -> np.ndarray:
        """The dof values m = Φ(E θ) of the parameter field."""
        return self.link(self._param.values(self._check_theta(theta)))
