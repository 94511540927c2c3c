r"""A user's UFL residual F(u, m; v) and the forms derived from it, compiled once per map.

Given the state u ∈ V (a dolfinx Function), the parameter field m ∈ Q and a test function v,
the residual is a UFL 1-form in v. From it, with ``ufl.derivative``/``ufl.replace``:

* the Jacobian  J(u, m)[δu, v] = ∂F/∂u [δu]           (a bilinear form, Newton and adjoint);
* the tangent   ∂F/∂m [δm] (v)                         (a linear form in v, for J v);
* the gradient  g(q) = ∂F/∂m [q] (v = λ)               (a linear form in q ∈ Q, for Jᵀ w),

all compiled by FFCx here, once. The residual is *linear* when J does not depend on u (then
one Newton step from any initial guess is exact). Checks: F is a 1-form in a test function of
V (not bilinear, not a functional), depends on u and on m, and all its functions live on the
state mesh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ufl

from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from dolfinx.fem import Function


def _with_common_quadrature(F: ufl.Form, derived: list[ufl.Form]) -> ufl.Form:
    """F with one quadrature degree on every integral (unless the user set one): the largest
    degree UFL estimates for F and its derived forms. The derivatives are then those of the
    discrete (quadrature) residual, exactly; with per-form estimates, ∂F/∂m of a term such as
    e^m ∇u·∇v would be integrated by another rule than F and the gradient would be off by the
    quadrature error."""
    from ufl.algorithms import estimate_total_polynomial_degree, expand_derivatives

    degree = 0
    for form in [F, *derived]:
        for itg in expand_derivatives(form).integrals():
            degree = max(degree, estimate_total_polynomial_degree(itg.integrand()))
    integrals = []
    for itg in F.integrals():
        meta = dict(itg.metadata())
        meta.setdefault("quadrature_degree", degree)
        integrals.append(itg.reconstruct(metadata=meta))
    return ufl.Form(integrals)


def _coefficient_set(form: ufl.Form) -> set[ufl.Coefficient]:
    return set(form.coefficients())


class ResidualForms:
    """The compiled forms of a residual (see the module docstring).

    Attributes
    ----------
    residual, jacobian, tangent, gradient : compiled dolfinx forms
    ufl_residual, test_function : the UFL residual F (quadrature degree set) and its v
    linear : bool
        Whether the Jacobian is independent of u.
    affine : bool
        Linear in u and affine in m (see :mod:`bayesinv.fem.affine_probe`).
    jacobian_coefficients : set
        UFL coefficients the Jacobian depends on.
    signature : str
        UFL signature of the residual (structure, elements; not coefficient values).
    """

    def __init__(self, residual_form: ufl.Form, u: Function, m: Function, v: ufl.Argument,
                 lam: Function, dm: Function) -> None:
        F = residual_form
        if not isinstance(F, ufl.Form):
            raise InvalidArgumentError(
                f"the residual must return a UFL Form (an integral such as ... * ufl.dx), got "
                f"{type(F).__name__}")
        args = F.arguments()
        if len(args) != 1 or args[0] != v:
            if len(args) == 2:
                what = "a bilinear form (it has a TrialFunction)"
            elif len(args) == 0:
                what = "a functional (it does not contain the test function v)"
            else:
                what = f"a form in other arguments ({args})"
            raise InvalidArgumentError(
                f"the residual must be a linear form in the test function v and nonlinear in "
                f"the state Function u, F(u, m; v); got {what}. Write the unknown as the "
                f"Function u passed to the residual, not as a TrialFunction")
        coefficients = _coefficient_set(F)
        if u not in coefficients:
            raise InvalidArgumentError(
                "the residual does not depend on the state u: write F(u, m; v) in terms of the "
                "u passed to the residual")
        if m not in coefficients:
            raise InvalidArgumentError(
                "the residual does not depend on the parameter field m: the map θ ↦ u would be "
                "constant; write F(u, m; v) in terms of the m passed to the residual")
        domains = F.ufl_domains()
        mesh_domain = u.function_space.mesh.ufl_domain()
        if len(domains) != 1 or domains[0] != mesh_domain:
            raise InvalidArgumentError(
                "the residual integrates over (or uses functions of) a different mesh than the "
                "state space's; every Function in F must live on the state mesh")
        for c in coefficients:
            space = getattr(c, "function_space", None)
            if space is not None and space.mesh is not u.function_space.mesh:
                raise InvalidArgumentError(
                    f"the coefficient {c!r} of the residual lives on a different mesh than the "
                    f"state space; interpolate it onto the state mesh")
        V, Q = u.function_space, m.function_space
        du, q = ufl.TrialFunction(V), ufl.TestFunction(Q)
        F = _with_common_quadrature(F, [
            ufl.derivative(F, u, du), ufl.derivative(F, m, dm),
            ufl.derivative(ufl.replace(F, {v: lam}), m, q)])
        J = ufl.algorithms.expand_derivatives(ufl.derivative(F, u, du))
        if J.empty():
            raise InvalidArgumentError("the residual's derivative in u vanishes")
        self.jacobian_coefficients = _coefficient_set(J)
        self.linear = u not in self.jacobian_coefficients
        tangent = ufl.derivative(F, m, dm)
        #: linear in u and affine in m: ∂F/∂m[δm] does not depend on m
        self.affine = self.linear and m not in _coefficient_set(
            ufl.algorithms.expand_derivatives(tangent))
        gradient = ufl.derivative(ufl.replace(F, {v: lam}), m, q)
        self.signature = F.signature()
        #: the UFL residual (with its quadrature degree) and test function, for the
        #: second-order forms of :mod:`bayesinv.fem.variational_derivatives`
        self.ufl_residual, self.test_function = F, v
        self.residual = _compat.form(F)
        self.jacobian = _compat.form(J)
        self.tangent = _compat.form(tangent)
        self.gradient = _compat.form(gradient)
