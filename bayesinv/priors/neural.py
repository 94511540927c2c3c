r"""Random neural-network field priors: θ(x) = a · f_W(x) with Gaussian weights, in whitened form.

A fully connected network of depth L (hidden layers) and width n maps a point x ∈ O to a
scalar,

.. math:: u = γ(x),\quad h^1 = φ\big(\tfrac{σ_w}{\sqrt{n_0}} W^1 u + σ_b b^1\big),\quad
          h^{l+1} = φ\big(\tfrac{σ_w}{\sqrt{n}} W^{l+1} h^l + σ_b b^{l+1}\big),\quad
          θ(x) = m(x) + a\big(\tfrac{σ_w}{\sqrt{n}} W^{L+1} h^L + σ_b b^{L+1}\big),

with every entry of every W^l, b^l an independent N(0, 1) variable, i.e. weights
N(0, σ_w²/fan-in) and biases N(0, σ_b²) (Neal 1996; Lee et al. 2018), written as scaled
standard normals. These standard normal weights *are* the whitened
coordinates ξ, so θ = T(ξ), ξ ~ N(0, I_k) as for every prior in the package: pCN proposes new
weights, and Langevin samplers use J_T(ξ)ᵀ v, computed by backpropagation (:mod:`._mlp`).
θ is evaluated at the P1 vertices of the mesh, where the forward maps read it.

The input γ(x) is either the centred, scaled point (x − c)/ℓ (n₀ = d), or random Fourier
features (Rahimi & Recht 2007; Tancik et al. 2020) γ(x) = [cos 2πB(x − c), sin 2πB(x − c)]
with B ∈ R^{m×d}, B_ij ~ N(0, s²) drawn once from ``seed`` and then fixed (n₀ = 2m; they are
part of the prior's definition, not of ξ). With Fourier features the first-layer covariance
⟨γ(x), γ(x')⟩/n₀ → ½ exp(−2π²s²|x − x'|²) as m grows: the prior becomes (nearly) stationary.

**Infinite width.** As n → ∞ the field converges to a centred Gaussian process (Neal 1996;
Matthews et al. 2018; Lee et al. 2018) whose covariance follows the recursion

.. math:: K^1(x, x') = σ_b^2 + σ_w^2 ⟨γ(x), γ(x')⟩ / n_0,\qquad
          K^{l+1} = σ_b^2 + σ_w^2\, \mathbb E_{(u,v) \sim N(0, K^l)}[φ(u) φ(v)],

and Cov θ = a² K^{L+1}. The expectation is closed-form for erf (Williams 1997),
(2/π) arcsin(2k₁₂/√((1+2k₁₁)(1+2k₂₂))); for ReLU (the arc-cosine kernel of order 1, Cho &
Saul 2009), √(k₁₁k₂₂)(sin t + (π − t) cos t)/(2π) with cos t = k₁₂/√(k₁₁k₂₂); and for sine,
e^{−(k₁₁+k₂₂)/2} sinh k₁₂. :meth:`NeuralFieldPrior.nngp_covariance` evaluates it.

*Finite width.* With one hidden layer the covariance equals the NNGP kernel at every width
(the first-layer pre-activations are exactly Gaussian and the output is a sum of n
uncorrelated terms), but the law is not Gaussian: given the hidden layer, θ(x) is Gaussian
with random variance a²(σ_b² + σ_w² Σ_j φ(z_j)²/n), so its fourth cumulant is
3 a⁴σ_w⁴ Var φ(z)²/n, which vanishes like 1/n. With two or more hidden layers the covariance
itself has an O(1/n) bias (the second layer's covariance is a random, O(n^{−1/2})-accurate
estimate of K², pushed through the non-linear expectation); it is ≈ 2% at width 4 and
below Monte Carlo resolution at width 64. ``tests/test_neural_priors.py`` checks the
one-layer statements at widths 16 and 4096 and the depth-2 recursion at width 64.

Cost: one forward and one transpose pass are a few dense GEMMs of size (#vertices × width ×
width) plus one activation (and derivative) per vertex and hidden unit; for tanh, erf and sine
the latter (libm exp/erf/sin, not vectorised) dominates. ``benchmarks/neural_prior.py``
compares it with a PDE solve.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import integer_at_least, one_of, positive_float
from ..errors import InvalidArgumentError
from ..protocols import Seed
from ._mlp import ACTIVATIONS, Network
from .base import WhitenedPrior

#: activations offered for random field priors
FIELD_ACTIVATIONS = ("tanh", "relu", "erf", "sine")
#: activations with a closed-form infinite-width (NNGP) covariance
NNGP_ACTIVATIONS = ("erf", "relu", "sine")

_MAX_NORMALS_PER_CHUNK = 1 << 23  # batched sampling: at most 64 MB of ξ at a time


def coordinate_array(name: str, value) -> np.ndarray:
    """Points as a float array of shape (n, d), n ≥ 1, d ≥ 1, all finite."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidArgumentError(
            f"{name} must be a 2-d array of shape (num_points, spatial_dim), got shape "
            f"{arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name} must be finite")
    return np.ascontiguousarray(arr)


def _expected_product(activation: str, k11, k12, k22):
    """E[φ(u) φ(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]) (closed forms)."""
    if activation == "erf":
        r = 2.0 * k12 / np.sqrt((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22))
        return 2.0 / np.pi * np.arcsin(np.clip(r, -1.0, 1.0))
    if activation == "relu":
        norm = np.sqrt(k11 * k22)
        t = np.arccos(np.clip(k12 / norm, -1.0, 1.0))
        return norm * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2.0 * np.pi)
    return np.exp(-0.5 * (k11 + k22)) * np.sinh(k12)  # sine


class NeuralFieldPrior(WhitenedPrior):
    """Random fully connected network field θ(x) at given points, with whitened weights ξ.

    Parameters
    ----------
    coordinates : array_like, shape (n, d)
        Where θ is evaluated: the P1 vertex coordinates of the mesh (see :meth:`on_domain`).
    width : int
        Neurons per hidden layer (≥ 1).
    depth : int
        Number of hidden layers (≥ 1).
    activation : {"tanh", "relu", "erf", "sine"}
    weight_variance, bias_variance : float
        σ_w² and σ_b² (> 0); weights are scaled by σ_w/√fan_in.
    output_scale : float
        a > 0, multiplying the network output (the prior sd is a·√K^{L+1}(x, x)).
    length_scale : float or None
        ℓ > 0: the network sees (x − c)/ℓ (ignored with Fourier features, set the
        frequencies with ``fourier_scale`` instead). None (default): a quarter of the
        largest side of the bounding box of ``coordinates`` (0.25 on the unit square), so
        that the inputs span [−2, 2] and the activations' non-linearity is reached: with
        ℓ = 1 on the unit square the inputs stay in [−½, ½], where tanh is nearly linear,
        and draws are nearly affine fields.
    center : array_like, shape (d,), optional
        c; default the centre of the bounding box of ``coordinates``, so that no corner of the
        domain is singled out.
    fourier_features : int
        m ≥ 0 random Fourier features (0: feed the coordinates directly).
    fourier_scale : float
        s > 0, the standard deviation of the frequencies B_ij (cycles per unit length).
    seed : int
        Seed of the (fixed) Fourier frequencies.
    mean : float or array_like, shape (n,)
        m, added to the network output.

    Notes
    -----
    ξ is laid out layer by layer: for l = 1..L+1 the entries of W^l (row-major, shape
    (n_l, n_{l−1})) and then b^l; ``latent_dim`` = Σ_l (n_l n_{l−1} + n_l).
    """

    is_linear = False

    def __init__(self, coordinates: ArrayLike, *, width: int = 32, depth: int = 2,
                 activation: str = "tanh", weight_variance: float = 1.0,
                 bias_variance: float = 1.0, output_scale: float = 1.0,
                 length_scale: float | None = None, center: ArrayLike | None = None,
                 fourier_features: int = 0, fourier_scale: float = 1.0, seed: int = 0,
                 mean: ArrayLike = 0.0) -> None:
        self.coordinates = coordinate_array("coordinates", coordinates)
        self.width = integer_at_least("width", width, 1)
        self.depth = integer_at_least("depth", depth, 1)
        self.activation = one_of("activation", activation, FIELD_ACTIVATIONS)
        self.weight_variance = positive_float("weight_variance", weight_variance)
        self.bias_variance = positive_float("bias_variance", bias_variance)
        self.output_scale = positive_float("output_scale", output_scale)
        if length_scale is None:
            extent = float(np.ptp(self.coordinates, axis=0).max())
            length_scale = extent / 4 if extent > 0 else 1.0
        self.length_scale = positive_float("length_scale", length_scale)
        self.fourier_features = integer_at_least("fourier_features", fourier_features, 0)
        self.fourier_scale = positive_float("fourier_scale", fourier_scale)
        n, d = self.coordinates.shape
        if center is None:
            center = 0.5 * (self.coordinates.min(axis=0) + self.coordinates.max(axis=0))
        self.center = np.asarray(center, dtype=float)
        if self.center.shape != (d,) or not np.isfinite(self.center).all():
            raise InvalidArgumentError(
                f"center must be a finite point of shape ({d},) (the coordinates are {d}-d), "
                f"got {np.shape(center)}")
        self.frequencies = None
        if self.fourier_features:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise InvalidArgumentError(f"seed must be a non-negative int, got {seed!r}")
            self.frequencies = self.fourier_scale * np.random.default_rng(seed).standard_normal(
                (self.fourier_features, d))
        self.dim = n
        self.mean = (np.full(n, float(np.asarray(mean, dtype=float))) if np.ndim(mean) == 0
                     else np.asarray(mean, dtype=float))
        if self.mean.shape != (n,) or not np.isfinite(self.mean).all():
            raise InvalidArgumentError(
                f"mean must be a finite scalar or an array of shape ({n},) (one value per "
                f"point), got shape {np.shape(mean)}")
        inputs = self.embed(self.coordinates)
        sizes = [inputs.shape[1], *[self.width] * self.depth, 1]
        fan_in = np.asarray(sizes[:-1], dtype=float)
        sigma_w, sigma_b = np.sqrt(self.weight_variance), np.sqrt(self.bias_variance)
        w_scale = sigma_w / np.sqrt(fan_in)
        b_scale = np.full(len(fan_in), sigma_b)
        w_scale[-1] *= self.output_scale
        b_scale[-1] *= self.output_scale
        acts = [ACTIVATIONS[self.activation]] * self.depth + [ACTIVATIONS["identity"]]
        self.network = Network(sizes, acts, w_scale, b_scale)
        # the embedded points, fixed (the network cache keys on them by identity); public as
        # a read-only view
        self._inputs = self.network.fix(inputs)
        self.inputs = self._inputs.view()
        self.inputs.flags.writeable = False
        self.latent_dim = self.network.num_params

    @classmethod
    def on_domain(cls, domain: Any, **kwargs: Any) -> NeuralFieldPrior:
        """The prior on a domain's parameter space (θ at the P1 vertices); ``mean`` may be a
        constant, a callable ``mean(x)`` or nodal values."""
        space = domain.parameter_space
        if "mean" in kwargs:
            kwargs["mean"] = space.interpolate(kwargs["mean"])
        return cls(space.coordinates, **kwargs)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(n₀, n, …, n, 1): input features, hidden widths, output."""
        return tuple(int(s) for s in self.network.sizes)

    def embed(self, points: ArrayLike) -> np.ndarray:
        """γ(x): the network input for points of shape (n, d)."""
        pts = coordinate_array("points", points)
        if pts.shape[1] != self.coordinates.shape[1]:
            raise InvalidArgumentError(
                f"points must have shape (n, {self.coordinates.shape[1]}), got {pts.shape}")
        shifted = pts - self.center
        if self.frequencies is None:
            return np.ascontiguousarray(shifted / self.length_scale)
        phase = 2.0 * np.pi * shifted @ self.frequencies.T
        return np.ascontiguousarray(np.hstack([np.cos(phase), np.sin(phase)]))

    # -- the transport θ = T(ξ) and its derivatives ----------------------------------------------

    def _weights(self, xi) -> np.ndarray:
        return self.check_single_latent(xi)

    def map_start(self) -> np.ndarray:
        """A fixed prior draw of the weights: ξ = 0 is a saddle point of the posterior for odd
        activations (every hidden unit is 0, so only the output bias has a gradient)."""
        return np.random.default_rng(0).standard_normal(self.latent_dim)

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        xi = self.check_latent(xi)
        if xi.ndim == 1:
            return self.mean + self.network.forward(self._inputs, np.ascontiguousarray(xi))[:, 0]
        flat = np.ascontiguousarray(xi.reshape(-1, self.latent_dim))
        out = self.network.forward_many(self._inputs, flat)[:, :, 0]
        return (self.mean + out).reshape((*xi.shape[:-1], self.dim))

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if v.shape != (self.dim,):
            raise InvalidArgumentError(f"v must have shape ({self.dim},), got {v.shape}")
        grad, _ = self.network.transpose(self._inputs, self._weights(xi),
                                         np.ascontiguousarray(v[:, None]), want_params=True,
                                         want_inputs=False)
        return grad

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        v = np.ascontiguousarray(v, dtype=float)
        if v.shape != (self.latent_dim,):
            raise InvalidArgumentError(f"v must have shape ({self.latent_dim},), got {v.shape}")
        return self.network.tangent(self._inputs, self._weights(xi), dparams=v)[:, 0]

    def sample(self, rng: Seed = None, size: int | None = None) -> np.ndarray:
        """Draws θ = T(ξ), generated in chunks (the same stream as one big ξ array)."""
        if size is None:
            return super().sample(rng)
        rng = np.random.default_rng(rng)
        size = integer_at_least("size", size, 1)
        chunk = max(1, _MAX_NORMALS_PER_CHUNK // self.latent_dim)
        out = np.empty((size, self.dim))
        for start in range(0, size, chunk):
            stop = min(size, start + chunk)
            out[start:stop] = self.to_physical(rng.standard_normal((stop - start,
                                                                    self.latent_dim)))
        return out

    # -- the infinite-width limit -----------------------------------------------------------------

    def nngp_covariance(self, points: ArrayLike | None = None,
                        other: ArrayLike | None = None) -> np.ndarray:
        """The infinite-width (NNGP) covariance a² K^{L+1}(x, x') of the field.

        ``points`` default to the prior's coordinates; ``other`` to ``points``. Closed forms
        exist for erf, relu and sine (see the module docstring).
        """
        if self.activation not in NNGP_ACTIVATIONS:
            raise InvalidArgumentError(
                f"the NNGP covariance has a closed form for activation in "
                f"{list(NNGP_ACTIVATIONS)}, not {self.activation!r}")
        ua = self._inputs if points is None else self.embed(points)
        ub = ua if other is None else self.embed(other)
        n0 = ua.shape[1]
        sw2, sb2 = self.weight_variance, self.bias_variance
        kaa = sb2 + sw2 * np.einsum("ij,ij->i", ua, ua) / n0
        kbb = sb2 + sw2 * np.einsum("ij,ij->i", ub, ub) / n0
        kab = sb2 + sw2 * (ua @ ub.T) / n0
        for _ in range(self.depth):
            new_ab = sb2 + sw2 * _expected_product(self.activation, kaa[:, None], kab,
                                                   kbb[None, :])
            kaa = sb2 + sw2 * _expected_product(self.activation, kaa, kaa, kaa)
            kbb = sb2 + sw2 * _expected_product(self.activation, kbb, kbb, kbb)
            kab = new_ab
        return self.output_scale**2 * kab
