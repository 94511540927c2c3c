r"""Generative priors: a fixed, pre-trained decoder θ = g(z), z ~ N(0, I_k).

The decoder is a fully connected network (an MLP) trained elsewhere, e.g. as the decoder of a
VAE or a GAN generator in PyTorch, whose output is the vector of nodal values of θ at the P1
vertices of the mesh. Its weights are fixed: the whitened coordinates are the latent code,
ξ = z, so T = g and J_T(ξ)ᵀ v is backpropagation with respect to the *inputs* (the same numba
kernels as :mod:`.neural`). The prior is supported on the k-dimensional manifold g(R^k); the
posterior lives on it too (Bora et al. 2017 for compressed sensing with generative models;
Patel & Oberai 2019, Holden, Pereyra & Zygalakis 2022 for Bayesian inverse problems).

File layout (``.npz``, written by :func:`save_decoder`, read by
:meth:`GenerativePrior.from_npz`)::

    W0, b0, W1, b1, ..., W{L-1}, b{L-1}   float arrays; W_l has shape (n_{l+1}, n_l) (the
                                         PyTorch ``nn.Linear`` convention y = W x + b),
                                         b_l shape (n_{l+1},)
    activation         0-d str: hidden activation, one of identity, tanh, relu, erf, sine,
                       sigmoid, softplus (applied after every layer but the last)
    output_activation  0-d str, optional (default "identity"): applied after the last layer
    latent_dim         0-d int, optional: k = n_0, checked against W0
    output_points      (n_L, d) float, optional: the point at which each output value lives;
                       if given, outputs are matched to the mesh vertices (any order)

so θ = φ_out(W_{L−1} φ(… φ(W_0 z + b_0) …) + b_{L−1}). Without ``output_points`` output j is
the value at vertex j of ``domain.parameter_space.coordinates``.
:func:`decoder_from_torch` writes this file from a PyTorch ``nn.Sequential`` of ``Linear``
layers and activations (or its ``state_dict``); it needs no torch import of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import one_of
from ..errors import InvalidArgumentError
from ._mlp import ACTIVATIONS, Network
from .base import WhitenedPrior
from .neural import coordinate_array

_KEY = re.compile(r"^([Wb])(\d+)$")
_OPTIONAL_KEYS = {"activation", "output_activation", "latent_dim", "output_points"}
# PyTorch module class name → activation name
_TORCH_ACTIVATIONS = {"Tanh": "tanh", "ReLU": "relu", "Sigmoid": "sigmoid",
                      "Softplus": "softplus"}


def _check_layers(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate (W_l, b_l) pairs: W 2-d, b of length rows(W), consecutive shapes chained.
    Errors name the layer."""
    if not isinstance(layers, Sequence) or len(layers) == 0:
        raise InvalidArgumentError("layers must be a non-empty sequence of (W, b) pairs")
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for l, pair in enumerate(layers):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidArgumentError(f"layer {l}: expected a (W{l}, b{l}) pair")
        W = np.asarray(pair[0], dtype=float)
        b = np.asarray(pair[1], dtype=float)
        if W.ndim != 2:
            raise InvalidArgumentError(
                f"layer {l}: W{l} must be 2-d (n_out, n_in), got shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise InvalidArgumentError(
                f"layer {l}: b{l} has shape {b.shape} but W{l} has shape {W.shape}; b{l} must "
                f"have shape ({W.shape[0]},)")
        if l > 0 and W.shape[1] != out[-1][0].shape[0]:
            prev = out[-1][0].shape[0]
            raise InvalidArgumentError(
                f"layer {l}: W{l} has shape {W.shape} but layer {l - 1} outputs {prev} values "
                f"(W{l - 1} has shape {out[-1][0].shape}); W{l} must have shape "
                f"({W.shape[0]}, {prev})")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise InvalidArgumentError(f"layer {l}: W{l} and b{l} must be finite")
        out.append((W, b))
    return out


def _match_points(output_points: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """perm with output_points[perm[i]] = coordinates[i] (to 1e-8 relative), or an error."""
    from scipy.spatial import cKDTree

    if output_points.shape != coordinates.shape:
        raise InvalidArgumentError(
            f"the decoder's output_points have shape {output_points.shape} but the mesh has "
            f"{coordinates.shape[0]} vertices in {coordinates.shape[1]}-d: the decoder output "
            f"does not match the mesh")
    scale = float(np.abs(coordinates).max()) + 1.0
    dist, perm = cKDTree(output_points).query(coordinates)
    far = np.flatnonzero(dist > 1e-8 * scale)
    if far.size or np.unique(perm).size != perm.size:
        shown = far[:3].tolist()
        raise InvalidArgumentError(
            f"the decoder's output_points are not the mesh vertices: {far.size} vertices have "
            f"no matching output point (e.g. vertex indices {shown}); the decoder output does "
            f"not match the mesh")
    return perm


class GenerativePrior(WhitenedPrior):
    """θ = g(z), z ~ N(0, I_k), for a fixed fully connected decoder g.

    Parameters
    ----------
    layers : sequence of (W, b)
        W_l of shape (n_{l+1}, n_l), b_l of shape (n_{l+1},); k = n_0 is the latent
        dimension, n_L the output length.
    activation : str
        Hidden activation (after every layer but the last); see :data:`ACTIVATIONS`.
    output_activation : str
        Activation after the last layer (default "identity").
    dim : int, optional
        The expected output length (the number of mesh vertices); a mismatch is an error.
    output_permutation : array_like of int, optional
        θ_i = g(z)[perm[i]]: how decoder outputs map to the mesh vertices.
    """

    is_linear = False

    def __init__(self, layers: Sequence[tuple[ArrayLike, ArrayLike]], *, activation: str = "tanh",
                 output_activation: str = "identity", dim: int | None = None,
                 output_permutation: ArrayLike | None = None) -> None:
        layers = _check_layers(layers)
        self.activation = one_of("activation", activation, ACTIVATIONS)
        self.output_activation = one_of("output_activation", output_activation, ACTIVATIONS)
        sizes = [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]
        L = len(layers)
        acts = [ACTIVATIONS[self.activation]] * (L - 1) + [ACTIVATIONS[self.output_activation]]
        self.network = Network(sizes, acts, np.ones(L), np.ones(L))
        # the decoder's flat weights, fixed (the network cache keys on them by identity);
        # public as a read-only view
        self._params = self.network.fix(
            np.concatenate([np.concatenate([W.ravel(), b]) for W, b in layers]))
        self.params = self._params.view()
        self.params.flags.writeable = False
        self.latent_dim = sizes[0]
        self.dim = sizes[-1]
        if dim is not None and dim != self.dim:
            raise InvalidArgumentError(
                f"the decoder outputs {self.dim} values but the mesh has {dim} parameter dofs "
                f"(P1 vertices): the decoder output does not match the mesh")
        self.permutation = None
        if output_permutation is not None:
            perm = np.asarray(output_permutation)
            if (perm.shape != (self.dim,) or not np.issubdtype(perm.dtype, np.integer)
                    or not np.array_equal(np.sort(perm), np.arange(self.dim))):
                raise InvalidArgumentError(
                    f"output_permutation must be a permutation of 0..{self.dim - 1}")
            self.permutation = perm

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str], *, domain: Any = None,
                 dim: int | None = None) -> GenerativePrior:
        """Load a decoder saved in the documented ``.npz`` layout (see the module docstring).

        With ``domain``, the output must match its parameter space: by ``output_points`` when
        the file has them (any order), else by length. ``dim`` checks the length only.
        """
        with np.load(os.fspath(path), allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        layers = _layers_from_arrays(arrays, path)
        activation = str(arrays.get("activation", np.array("tanh")))
        output_activation = str(arrays.get("output_activation", np.array("identity")))
        if "latent_dim" in arrays and int(arrays["latent_dim"]) != layers[0][0].shape[1]:
            raise InvalidArgumentError(
                f"{os.fspath(path)}: latent_dim = {int(arrays['latent_dim'])} but W0 has shape "
                f"{layers[0][0].shape} (input dimension {layers[0][0].shape[1]})")
        perm = None
        if domain is not None:
            coords = domain.parameter_space.coordinates
            dim = coords.shape[0]
            if "output_points" in arrays:
                pts = coordinate_array("output_points", arrays["output_points"])
                if pts.shape[0] != layers[-1][0].shape[0]:
                    raise InvalidArgumentError(
                        f"{os.fspath(path)}: output_points has {pts.shape[0]} points but the "
                        f"decoder outputs {layers[-1][0].shape[0]} values")
                perm = _match_points(pts, coords)
        return cls(layers, activation=activation, output_activation=output_activation,
                   dim=dim, output_permutation=perm)

    # -- the transport θ = g(z) and its derivatives -----------------------------------------------

    def _latent(self, xi) -> np.ndarray:
        return self.check_single_latent(xi)[None, :]

    def _to_mesh(self, out: np.ndarray) -> np.ndarray:
        return out if self.permutation is None else out[..., self.permutation]

    def _from_mesh(self, v: np.ndarray) -> np.ndarray:
        if self.permutation is None:
            return v
        w = np.empty_like(v)
        w[self.permutation] = v
        return w

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        xi = self.check_latent(xi)
        flat = np.ascontiguousarray(xi.reshape(-1, self.latent_dim))
        if xi.ndim == 1:
            out = self.network.forward(flat, self._params)
        else:  # a batch: one forward pass with the batch as GEMM rows (no cache)
            out = self.network.forward_many(flat, self._params[None, :])[0]
        return self._to_mesh(out).reshape((*xi.shape[:-1], self.dim))

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if v.shape != (self.dim,):
            raise InvalidArgumentError(f"v must have shape ({self.dim},), got {v.shape}")
        cot = np.ascontiguousarray(self._from_mesh(v)[None, :])
        _, grad = self.network.transpose(self._latent(xi), self._params, cot, want_params=False,
                                         want_inputs=True)
        return grad[0]

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if v.shape != (self.latent_dim,):
            raise InvalidArgumentError(f"v must have shape ({self.latent_dim},), got {v.shape}")
        out = self.network.tangent(self._latent(xi), self._params,
                                   dinputs=np.ascontiguousarray(v[None, :]))
        return self._to_mesh(out[0])


def _layers_from_arrays(arrays: Mapping, path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (W_l, b_l) pairs of a decoder file, with errors naming the file and the key."""
    name = os.fspath(path)
    indices: dict[str, set[int]] = {"W": set(), "b": set()}
    for key in arrays:
        match = _KEY.match(key)
        if match:
            indices[match.group(1)].add(int(match.group(2)))
        elif key not in _OPTIONAL_KEYS:
            raise InvalidArgumentError(
                f"{name}: unexpected entry {key!r}; a decoder file holds W0, b0, W1, b1, ... "
                f"and optionally {sorted(_OPTIONAL_KEYS)}")
    if not indices["W"]:
        raise InvalidArgumentError(f"{name}: no layers found (expected W0, b0, W1, b1, ...)")
    num = max(indices["W"] | indices["b"]) + 1
    for l in range(num):
        for kind in ("W", "b"):
            if l not in indices[kind]:
                raise InvalidArgumentError(
                    f"{name}: layer {l}: {kind}{l} is missing (found "
                    f"{sorted(k for k in arrays if _KEY.match(k))})")
    return _check_layers([(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(num)])


def save_decoder(path: str | os.PathLike[str], layers: Sequence[tuple[ArrayLike, ArrayLike]], *,
                 activation: str, output_activation: str = "identity",
                 output_points: ArrayLike | None = None) -> None:
    """Write a decoder in the documented ``.npz`` layout (see the module docstring)."""
    layers = _check_layers(layers)
    one_of("activation", activation, ACTIVATIONS)
    one_of("output_activation", output_activation, ACTIVATIONS)
    arrays: dict[str, Any] = {}  # (np.savez's keywords: Any, not bool for allow_pickle)
    for l, (W, b) in enumerate(layers):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
    arrays["activation"] = np.array(activation)
    arrays["output_activation"] = np.array(output_activation)
    arrays["latent_dim"] = np.array(layers[0][0].shape[1])
    if output_points is not None:
        pts = coordinate_array("output_points", output_points)
        if pts.shape[0] != layers[-1][0].shape[0]:
            raise InvalidArgumentError(
                f"output_points has {pts.shape[0]} points but the decoder outputs "
                f"{layers[-1][0].shape[0]} values")
        arrays["output_points"] = pts
    np.savez(os.fspath(path), **arrays)


def _to_numpy(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):  # a torch.Tensor, without importing torch
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor, dtype=float)


def _torch_sequence(model) -> tuple[list, str, str]:
    """(layers, hidden activation, output activation) from an nn.Sequential-like module."""
    linear, acts_after = [], []
    for name, module in model.named_children():
        kind = type(module).__name__
        if kind == "Linear":
            if module.bias is None:
                raise InvalidArgumentError(f"module {name!r}: Linear layers need a bias")
            linear.append((_to_numpy(module.weight), _to_numpy(module.bias)))
            acts_after.append("identity")
        elif kind in _TORCH_ACTIVATIONS:
            if not linear or acts_after[-1] != "identity":
                raise InvalidArgumentError(
                    f"module {name!r} ({kind}): activations must follow a Linear layer, one each")
            if kind == "Softplus" and getattr(module, "beta", 1.0) != 1.0:
                raise InvalidArgumentError(f"module {name!r}: only Softplus(beta=1) is supported")
            acts_after[-1] = _TORCH_ACTIVATIONS[kind]
        elif kind not in ("Identity", "Dropout"):
            raise InvalidArgumentError(
                f"module {name!r} ({kind}) is not supported; a decoder is a Sequential of "
                f"Linear layers and {sorted(_TORCH_ACTIVATIONS)} activations")
    if not linear:
        raise InvalidArgumentError("the model has no Linear layers")
    hidden = set(acts_after[:-1])
    if len(hidden) > 1:
        raise InvalidArgumentError(
            f"all hidden layers must share one activation, got {acts_after[:-1]}")
    return linear, (hidden.pop() if hidden else "identity"), acts_after[-1]


def _state_dict_layers(state_dict: Mapping) -> list:
    """(W, b) pairs from a state_dict of Linear layers, in registration order."""
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    order: list[str] = []
    for key, value in state_dict.items():
        prefix, _, kind = key.rpartition(".")
        if kind not in ("weight", "bias"):
            raise InvalidArgumentError(
                f"state_dict entry {key!r} is not a Linear weight or bias; only MLPs of "
                f"Linear layers are supported")
        if prefix not in order:
            order.append(prefix)
        (weights if kind == "weight" else biases)[prefix] = _to_numpy(value)
    layers = []
    for prefix in order:
        if prefix not in weights or prefix not in biases:
            raise InvalidArgumentError(f"state_dict layer {prefix!r} needs a weight and a bias")
        layers.append((weights[prefix], biases[prefix]))
    return layers


def decoder_from_torch(model: Any, path: str | os.PathLike[str], *,
                       activation: str | None = None, output_activation: str | None = None,
                       output_points: ArrayLike | None = None) -> None:
    """Convert a PyTorch MLP decoder to the ``.npz`` layout read by
    :meth:`GenerativePrior.from_npz`.

    ``model`` is an ``nn.Sequential`` of ``Linear`` layers and ``Tanh``/``ReLU``/``Sigmoid``/
    ``Softplus`` activations (activations are read from the modules), or its ``state_dict``
    (then ``activation`` is required, and ``output_activation`` defaults to "identity").
    Explicit ``activation``/``output_activation`` must agree with a module's.
    """
    if hasattr(model, "named_children"):
        layers, hidden, last = _torch_sequence(model)
        for given, found, what in ((activation, hidden, "activation"),
                                   (output_activation, last, "output_activation")):
            if given is not None and given != found:
                raise InvalidArgumentError(f"{what}={given!r} but the model uses {found!r}")
        activation, output_activation = hidden, last
    elif isinstance(model, Mapping):
        if activation is None:
            raise InvalidArgumentError(
                "a state_dict does not record activations: pass activation= (and "
                "output_activation= if the last layer has one)")
        layers = _state_dict_layers(model)
        output_activation = output_activation or "identity"
    else:
        raise InvalidArgumentError(
            f"model must be a torch nn.Sequential or its state_dict, got {type(model).__name__}")
    save_decoder(path, layers, activation=activation, output_activation=output_activation,
                 output_points=output_points)
