"""Checks users can run on their own forward maps and priors (Taylor and dot-product tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import integer_at_least
from ..protocols import ForwardMapProtocol, PriorProtocol, Seed


@dataclass
class TaylorReport:
    r"""Result of :func:`check_forward_map`.

    ``r0[i] = ‖G(θ+ε_i h) − G(θ)‖`` (expected rate 1) and
    ``r1[i] = |⟨w, G(θ+ε_i h) − G(θ)⟩ − ε_i ⟨Jᵀw, h⟩|`` (expected rate 2), for
    ε_i = ε₀ 2^{−i}; ``rates1`` are the observed log₂ ratios of successive r1;
    ``dot_product_error`` = |⟨Jh, w⟩ − ⟨h, Jᵀw⟩| / (|⟨Jh, w⟩| + tiny) when a tangent map exists.
    ``floor[i]`` = 10⁴ u (|⟨w, G(θ+ε_i h)⟩| + |⟨w, G(θ)⟩| + ε_i |⟨Jᵀw, h⟩|) with u the unit
    round-off: a remainder below it is zero to working precision (no rate can be read from
    it). An exactly affine map has every r1 at the floor: its second-order remainder is
    zero, which is a pass.
    """

    eps: NDArray[np.float64]
    r0: NDArray[np.float64]
    r1: NDArray[np.float64]
    rates0: NDArray[np.float64]
    rates1: NDArray[np.float64]
    dot_product_error: float | None
    floor: NDArray[np.float64] | None = None

    def passed(self, rate_tol: float = 0.2, dot_tol: float = 1e-8) -> bool:
        """Rate 2 (within ``rate_tol``) between successive remainders above round-off, at
        least one such pair unless every remainder is at round-off (an affine map), and the
        dot-product test within ``dot_tol``."""
        above = (np.ones(self.r1.shape, bool) if self.floor is None
                 else self.r1 > self.floor)
        if not above.any():
            ok = True                        # zero second-order remainder: affine
        else:
            pairs = above[:-1] & above[1:]
            ok = bool(pairs.any()) and bool(np.all(np.abs(self.rates1[pairs] - 2.0)
                                                   <= rate_tol))
            # a remainder that drops to round-off must come after the ones above it
            ok = ok and not (above[1:] & ~above[:-1]).any()
        if self.dot_product_error is not None:
            ok = ok and self.dot_product_error <= dot_tol
        return ok

    def __str__(self) -> str:
        lines = ["     eps          r0          r1   rate1"]
        for i, e in enumerate(self.eps):
            rate = "" if i == 0 else f"{self.rates1[i - 1]:7.3f}"
            lines.append(f"{e:9.3e} {self.r0[i]:11.4e} {self.r1[i]:11.4e} {rate}")
        if self.dot_product_error is not None:
            lines.append(f"adjoint dot-product relative error: {self.dot_product_error:.2e}")
        return "\n".join(lines)


def check_forward_map(forward: ForwardMapProtocol, theta: ArrayLike, rng: Seed = None, *,
                      direction: ArrayLike | None = None, weights: ArrayLike | None = None,
                      eps0: float | None = None, halvings: int = 6) -> TaylorReport:
    """Taylor test of the adjoint gradient of a forward map (and the dot-product test).

    With a random direction h and random observation weights w, the remainder
    |⟨w, G(θ+εh) − G(θ)⟩ − ε ⟨Jᵀ w, h⟩| must fall like ε² if the pullback is the transpose of
    the derivative. ``eps0`` defaults to 0.1/‖h‖_∞ (a change of 0.1 in the field).
    """
    halvings = integer_at_least("halvings", halvings, 2)
    generator = np.random.default_rng(rng)
    theta = np.asarray(theta, dtype=float)
    h = (generator.standard_normal(theta.shape) if direction is None
         else np.asarray(direction, float))
    y0, pullback = forward.value_and_pullback(theta)
    w = generator.standard_normal(y0.shape) if weights is None else np.asarray(weights, float)
    grad_h = float(pullback(w) @ h)
    eps = (0.1 / np.abs(h).max() if eps0 is None else eps0) * 0.5 ** np.arange(halvings)
    remainders0: list[float] = []
    remainders1: list[float] = []
    floor: list[float] = []
    w_y0 = abs(float(w @ y0))
    for e in eps:
        y = forward(theta + e * h)
        dy = y - y0
        remainders0.append(float(np.linalg.norm(dy)))
        remainders1.append(abs(float(w @ dy) - e * grad_h))
        floor.append(1e4 * np.finfo(float).eps * (abs(float(w @ y)) + w_y0 + e * abs(grad_h)))
    r0, r1 = np.array(remainders0), np.array(remainders1)
    dot_error = None
    if getattr(forward, "has_jvp", False):
        jh = float(forward.jvp(theta, h) @ w)
        dot_error = abs(jh - grad_h) / (abs(jh) + 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):   # exact zeros of an affine map
        rates1 = np.log2(r1[:-1] / r1[1:])
    return TaylorReport(eps, r0, r1, np.log2(r0[:-1] / r0[1:]), rates1, dot_error,
                        np.array(floor))


@dataclass
class PriorCheck:
    r"""Result of :func:`check_prior`: the prior contract, checked numerically.

    Attributes
    ----------
    shapes_ok : bool
        ``sample``/``sample_latent``/``to_physical`` return the documented shapes.
    batch_error : float
        max |T(Ξ)[i] − T(Ξ[i])| over a batch of shape (2, 3, k), relative to max |T|.
    dot_product_error : float
        |⟨J v, w⟩ − ⟨v, Jᵀ w⟩| / (|⟨J v, w⟩| + tiny) at a random ξ (transpose test).
    eps : ndarray
        Step sizes ε_i = ε₀ 2^{−i} of the Taylor test of the log-density (which uses ε_i/8).
    jvp_eps : ndarray
        Step sizes of the finite-difference test of the jvp, along a unit direction v in ξ.
    jvp_remainders : ndarray
        ‖T(ξ + εv) − T(ξ) − ε J v‖ / ‖ε J v‖: falls like ε (rate 1 in this relative form) for
        a smooth non-linear T, stays at round-off for an affine T, and for a piecewise-linear
        T (ReLU networks) falls in jumps as fewer kinks lie within ε, to round-off once none
        does; so the test asks for an overall rate log₂(r₀/r_last)/(n − 1) ≥ 1 − rate_tol,
        a remainder ≤ 10⁻⁹ counting as zero.
    logpdf_remainders, logpdf_rates : ndarray or None
        |log p(θ + εh) − log p(θ) − ε ⟨∇ log p(θ), h⟩| along h = J v (in the support) and the
        observed log₂ rates (2 for a correct gradient); None when the prior has no θ-density.
    latent_consistency : float or None
        For affine priors with a density: the spread of log p(T(ξ)) + ½|ξ|² over a few ξ
        (constant for a correct density), relative to 1 + |log p|.
    whitened_gradient_error : float or None
        For affine priors with a density: ‖J_Tᵀ ∇ log p(T(ξ)) + ξ‖ / ‖ξ‖ (0 when the density
        is the push-forward of N(0, I); valid when T is injective, i.e. latent_dim ≤ dim).
    """

    shapes_ok: bool
    batch_error: float
    dot_product_error: float
    eps: NDArray[np.float64]
    jvp_remainders: NDArray[np.float64]
    linear: bool
    jvp_eps: NDArray[np.float64] | None = None
    logpdf_remainders: NDArray[np.float64] | None = None
    logpdf_rates: NDArray[np.float64] | None = None
    latent_consistency: float | None = None
    whitened_gradient_error: float | None = None

    def passed(self, tol: float = 1e-8, rate_tol: float = 0.2) -> bool:
        """Whether every check holds: errors within ``tol`` (the density checks within
        10³ ``tol``), the jvp remainders' overall rate and the log-density Taylor rates
        within ``rate_tol`` of theirs (see the attributes)."""
        ok = self.shapes_ok and self.batch_error <= tol and self.dot_product_error <= tol
        if self.linear:
            ok = ok and bool(np.all(self.jvp_remainders <= 1e3 * tol))
        else:
            rem = self.jvp_remainders
            first, last = rem[0], max(rem[-1], _ZERO_REMAINDER)
            overall = np.log2(first / last) / (rem.size - 1) if first > _ZERO_REMAINDER else np.inf
            ok = ok and bool(overall >= 1.0 - rate_tol)
        if self.logpdf_rates is not None:
            ok = ok and bool(np.all(np.abs(self.logpdf_rates - 2.0) <= rate_tol))
        for err in (self.latent_consistency, self.whitened_gradient_error):
            if err is not None:
                ok = ok and err <= 1e3 * tol
        return ok

    def __str__(self) -> str:
        lines = [f"shapes ok: {self.shapes_ok}; batch error {self.batch_error:.1e}; "
                 f"transpose dot-product error {self.dot_product_error:.1e}",
                 "jvp vs finite differences (relative remainder): "
                 + " ".join(f"{r:.1e}" for r in self.jvp_remainders)]
        if self.logpdf_rates is not None:
            lines.append("logpdf Taylor rates: " + " ".join(f"{r:.3f}" for r in self.logpdf_rates))
        if self.latent_consistency is not None:
            lines.append(f"log p(T(ξ)) + ½|ξ|² spread: {self.latent_consistency:.1e}")
        if self.whitened_gradient_error is not None:
            lines.append(f"J_Tᵀ∇log p(T(ξ)) + ξ: {self.whitened_gradient_error:.1e}")
        return "\n".join(lines)


def _has_density(prior: PriorProtocol) -> bool:
    try:
        prior.logpdf(prior.to_physical(np.zeros(prior.latent_dim)))
    except TypeError:
        return False
    return True


#: a relative jvp remainder at or below this is zero to working precision
_ZERO_REMAINDER = 1e-9


def check_prior(prior: PriorProtocol, rng: Seed = None, *, eps0: float = 0.5,
                halvings: int = 6, jvp_eps0: float = 1e-3) -> PriorCheck:
    """Check a prior against the contract every sampler relies on.

    * shapes of ``sample``, ``sample_latent`` and batched ``to_physical``;
    * ``to_physical_vjp`` is the transpose of ``to_physical_jvp`` (dot-product test);
    * ``to_physical_jvp`` against finite differences of ``to_physical``;
    * ``grad_logpdf`` by a Taylor test of ``logpdf`` along a direction in the support;
    * for affine priors, that ``logpdf`` is the push-forward density of N(0, I):
      log p(T(ξ)) + ½|ξ|² is constant and J_Tᵀ ∇log p(T(ξ)) = −ξ.

    ``eps0`` is the first step of the log-density test (along a direction of sup-norm 1 in
    θ, divided by 8), ``jvp_eps0`` the first step of the jvp test along a unit direction in
    ξ: small enough for the asymptotic rate of the package's neural priors, whose ξ has
    thousands of coordinates (a step of norm 0.5 changes every weight noticeably).

    Returns a :class:`PriorCheck`; ``report.passed()`` says whether all hold.
    """
    halvings = integer_at_least("halvings", halvings, 2)
    generator = np.random.default_rng(rng)
    k, n = prior.latent_dim, prior.dim
    shapes_ok = (prior.sample(generator).shape == (n,)
                 and prior.sample(generator, size=3).shape == (3, n)
                 and prior.sample_latent(generator, size=2).shape == (2, k))
    batch = generator.standard_normal((2, 3, k))
    tb = np.asarray(prior.to_physical(batch))
    shapes_ok = shapes_ok and tb.shape == (2, 3, n)
    rows = np.array([[prior.to_physical(batch[i, j]) for j in range(3)] for i in range(2)])
    batch_error = float(np.abs(tb - rows).max() / (np.abs(rows).max() + 1e-300))

    xi, v, w = (generator.standard_normal(k), generator.standard_normal(k),
                generator.standard_normal(n))
    jv = np.asarray(prior.to_physical_jvp(xi, v))
    jtw = np.asarray(prior.to_physical_vjp(xi, w))
    lhs, rhs = float(jv @ w), float(v @ jtw)
    dot_error = abs(lhs - rhs) / (abs(lhs) + 1e-300)

    eps = eps0 * 0.5 ** np.arange(halvings)
    t0 = prior.to_physical(xi)
    u = v / np.linalg.norm(v)
    ju = jv / np.linalg.norm(v)
    jvp_eps = jvp_eps0 * 0.5 ** np.arange(halvings)
    jvp_rem = np.array([np.linalg.norm(prior.to_physical(xi + e * u) - t0 - e * ju)
                        / (e * np.linalg.norm(ju) + 1e-300) for e in jvp_eps])

    report = PriorCheck(shapes_ok, batch_error, dot_error, eps, jvp_rem,
                        bool(getattr(prior, "is_linear", False)), jvp_eps)
    if _has_density(prior):
        h = jv / np.abs(jv).max()
        lp0, g = prior.logpdf(t0), prior.grad_logpdf(t0)
        # smaller steps than for the jvp: a non-Gaussian log-density reaches its asymptotic
        # rate later (for a Gaussian one the rate is exactly 2 at any step)
        rem = np.array([abs(prior.logpdf(t0 + e * h) - lp0 - e * float(g @ h))
                        for e in eps / 8])
        report.logpdf_remainders = rem
        report.logpdf_rates = np.log2(rem[:-1] / rem[1:])
        if report.linear:
            xis = generator.standard_normal((3, k))
            vals = [prior.logpdf(prior.to_physical(x)) + 0.5 * x @ x for x in xis]
            report.latent_consistency = float(np.ptp(vals) / (1.0 + abs(vals[0])))
            if k <= n:
                grad = prior.to_physical_vjp(xis[0], prior.grad_logpdf(prior.to_physical(xis[0])))
                report.whitened_gradient_error = float(
                    np.linalg.norm(grad + xis[0]) / np.linalg.norm(xis[0]))
    return report
