r"""First- and second-order derivatives of :class:`~bayesinv.fem.VariationalForwardMap`.

With the converged state u (F_F(u, m) = 0 on the free dofs, u = g on the Dirichlet dofs),
J_FF = ∂F_F/∂u and dm = Φ'(z) ⊙ E v (z = E θ, m = Φ(z); :mod:`bayesinv.fem.parameters`):

    tangent:  J_FF δu_F = −∂F_F/∂m [dm],                     J v = O_F δu_F,
    adjoint:  J_FFᵀ λ = O_Fᵀ w,                               Jᵀ w = −Eᵀ(Φ'(z) ⊙ g_m),
              g_m(q) = ∂F/∂m [q](λ).

Second order (the θ-derivative of v ↦ Jᵀ w(θ) with w(θ) = w + c (G(θ) − G(θ₀)), i.e. the
action of Σ_i w_i ∇²G_i(θ) + c JᵀJ): with ⟨F, λ⟩ the residual tested with λ, its directional
derivative D = ∂⟨F, λ⟩/∂u [δu] + ∂⟨F, λ⟩/∂m [dm], and the incremental adjoint

    J_FFᵀ δλ = c O_Fᵀ O_F δu_F − (∂D/∂u [p])_F,

the m-space action is h_m(q) = −∂D/∂m [q] − ∂F/∂m [q](δλ), and in θ

    H v = Eᵀ(Φ'(z) ⊙ h_m + Φ''(z) ⊙ (E v) ⊙ (−g_m)),

the last term being the link's second derivative (Petra & Stadler 2011, "Model variational
inverse problems governed by PDEs", ICES report 11-05; Villa, Petra & Ghattas 2021, hIPPYlib,
ACM TOMS 47, ``ReducedHessian``). The forms ∂D/∂u and ∂D/∂m + ∂F/∂m[q](δλ) come from
``ufl.derivative`` applied twice to the user's residual, with its quadrature degree (so they are
the exact derivatives of the discrete map), compiled on the first second-order request and
cached on the map. Cost per action: one incremental forward and one incremental adjoint solve
(with the forward factorisation, or the one made at the converged state for nonlinear
residuals) and two assemblies; one adjoint solve per w.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import ufl
from numpy.typing import ArrayLike

from . import _compat

if TYPE_CHECKING:
    from ..protocols import Pushforward
    from .jacobian import Factor
    from .variational import VariationalForwardMap


class SecondOrderForms:
    """The compiled second-order forms of a map's residual (see the module docstring).

    Attributes: ``du``, ``dlam`` (dolfinx Functions holding δu and δλ), ``adjoint`` (the
    linear form ∂D/∂u [p] in p ∈ V, or None when it vanishes identically), ``hessian`` (the
    linear form ∂D/∂m [q] + ∂F/∂m [q](δλ) in q ∈ Q).
    """

    def __init__(self, fmap: VariationalForwardMap) -> None:
        import dolfinx.fem

        forms = fmap.forms
        F, v = forms.ufl_residual, forms.test_function
        u, m, lam, dm = fmap._u, fmap._m, fmap._lam, fmap._dm
        V, Q = u.function_space, m.function_space
        self.du, self.dlam = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        p, q = ufl.TestFunction(V), ufl.TestFunction(Q)
        tested = ufl.replace(F, {v: lam})
        D = ufl.derivative(tested, u, self.du) + ufl.derivative(tested, m, dm)
        adjoint = ufl.algorithms.expand_derivatives(ufl.derivative(D, u, p))
        self.adjoint = None if adjoint.empty() else _compat.form(adjoint)
        hessian = ufl.derivative(D, m, q) + ufl.derivative(ufl.replace(F, {v: self.dlam}), m, q)
        self.hessian = _compat.form(hessian)


def second_order_forms(fmap: VariationalForwardMap) -> SecondOrderForms:
    """The map's :class:`SecondOrderForms`, compiled once (cached as the map's
    ``_second_order_forms``, which the map sets to None at construction)."""
    cache = vars(fmap)
    forms = cache.get("_second_order_forms")
    if forms is None:
        forms = cache["_second_order_forms"] = SecondOrderForms(fmap)
    return forms


class VariationalLinearization:
    """One forward solve of a VariationalForwardMap at θ and the derivative actions there.

    ``y`` = G(θ); ``jvp``, ``pullback`` and ``curvature`` as in
    :class:`~bayesinv.forward.ForwardMap`. Nonlinear residuals factorise J at the converged
    state of each experiment on the first derivative request, once.
    """

    def __init__(self, fmap: VariationalForwardMap, theta: ArrayLike) -> None:
        self.fmap = fmap
        self.theta, self.z, self.m, self.states, self.factors = fmap._forward(theta)
        self.y = fmap._observe(self.states)

    def restore(self, k: int) -> None:
        """Set the map's UFL coefficients (m, experiment k's data, u) to this θ's values."""
        fmap = self.fmap
        fmap._m.x.array[:] = self.m
        fmap._set_experiment(k)
        fmap._u.x.array[:] = self.states[k]

    def factor(self, k: int) -> Factor:
        """The factorised free Jacobian block of experiment k."""
        if self.factors[k] is None:  # nonlinear: J at the converged state, made once
            self.restore(k)
            self.factors[k] = self.fmap._jacobian.factorize()
        return self.factors[k]

    def _tangent_rhs(self, k: int, dm: np.ndarray) -> np.ndarray:
        """(∂F/∂m [dm])_F for experiment k (``fmap._dm`` must hold dm)."""
        fmap, aff = self.fmap, self.fmap._affine
        if aff is not None:
            return aff.apply_derivative(k, dm, self.states[k, fmap.free_dofs])
        self.restore(k)
        return _compat.assemble_vector_array(fmap.forms.tangent)[fmap.free_dofs]

    def jvp(self, v: ArrayLike) -> np.ndarray:
        """J(θ) v."""
        fmap = self.fmap
        v = fmap._check_tangent(v)
        dm = fmap._param.push(self.z, v)
        fmap._dm.x.array[:] = dm
        out = []
        for k in range(fmap.num_experiments):
            fk = self.factor(k)
            t = self._tangent_rhs(k, dm)
            out.append(-(fmap._O_free @ fk.solve(t)))
        fmap.counts.tangent += fmap.num_experiments
        return np.concatenate(out)

    def _adjoint_gradient(self, w):
        """(λ_k full vectors, g_m = Σ_k ∂F/∂m [·](λ_k)) for output weights w."""
        fmap = self.fmap
        K, free, aff = fmap.num_experiments, fmap.free_dofs, fmap._affine
        w = fmap._check_output(w).reshape(K, -1)
        grad = np.zeros(fmap._param.num_dofs)
        lams = np.zeros((K, fmap.num_dofs))
        lam = np.zeros(fmap.num_dofs)
        for k in range(K):
            fk = self.factor(k)
            lam[free] = fk.solve_transpose(fmap._O_free_t @ w[k])
            lams[k] = lam
            if aff is not None:
                grad -= aff.contract(k, lam[free], self.states[k, free])
                continue
            self.restore(k)
            fmap._lam.x.array[:] = lam
            grad -= _compat.assemble_vector_array(fmap.forms.gradient)
        fmap.counts.adjoint += K
        return lams, grad

    def pullback(self, w: ArrayLike) -> np.ndarray:
        """J(θ)ᵀ w."""
        _, grad = self._adjoint_gradient(w)
        return self.fmap._param.pull(self.z, grad)

    def curvature(self, w: ArrayLike, gn_scale: float = 0.0) -> Pushforward:
        """v ↦ Σ_i w_i ∇²G_i(θ) v + gn_scale · Jᵀ J v (see the module docstring)."""
        fmap = self.fmap
        param, free, K = fmap._param, fmap.free_dofs, fmap.num_experiments
        gn_scale = float(gn_scale)
        d2link = fmap.link.second_derivative(self.z)
        forms = second_order_forms(fmap)
        lams, minus_g = self._adjoint_gradient(w)

        def apply(v):
            v = fmap._check_tangent(v)
            ev = param.values(v)
            dm = fmap.link.derivative(self.z) * ev
            fmap._dm.x.array[:] = dm
            h_m = np.zeros(param.num_dofs)
            du = np.zeros(fmap.num_dofs)
            dlam = np.zeros(fmap.num_dofs)
            for k in range(K):
                fk = self.factor(k)
                du[free] = -fk.solve(self._tangent_rhs(k, dm))
                self.restore(k)
                fmap._lam.x.array[:] = lams[k]
                forms.du.x.array[:] = du
                rhs = gn_scale * (fmap._O_free_t @ (fmap._O_free @ du[free]))
                if forms.adjoint is not None:
                    rhs -= _compat.assemble_vector_array(forms.adjoint)[free]
                dlam[free] = fk.solve_transpose(rhs)
                forms.dlam.x.array[:] = dlam
                h_m -= _compat.assemble_vector_array(forms.hessian)
            fmap.counts.tangent += K
            fmap.counts.adjoint += K
            out = param.pull(self.z, h_m)
            second = d2link * ev * minus_g
            return out + (second if param.basis is None else np.asarray(param.basis.T @ second))

        return apply
