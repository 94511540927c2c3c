r"""Fully connected networks over flat parameter vectors: numba forward pass, transpose
(hand-written backpropagation) and tangent (forward-mode) actions.

A network with L affine layers maps a batch of inputs H⁰ (B × n₀) to outputs H^L (B × n_L):

.. math:: Z^l = s_l\, H^{l-1} (W^l)^T + t_l\, 1 (b^l)^T, \qquad H^l = φ_l(Z^l),
          \qquad l = 1..L,

where W^l (n_l × n_{l−1}) and b^l (n_l) are read from one flat vector ``params`` (for each
layer, W^l row-major then b^l), s_l, t_l are per-layer scales (σ_w/√n_{l−1} and σ_b for a
prior with whitened weights; 1 and 1 for a decoder with fixed weights) and φ_l is an
activation given by an integer code (:data:`ACTIVATIONS`). Layer widths come as an int64
array ``sizes = [n₀, …, n_L]``, so one compiled function serves every architecture (one
compilation per dtype; everything is float64).

The forward pass stores H^l and D^l = φ_l'(Z^l) in a preallocated :class:`Workspace`; the
transpose and tangent actions reuse them:

* transpose, for a cotangent V on the outputs: G^L = V ⊙ D^L, and for l = L..1
  ∂/∂W^l = s_l (G^l)ᵀ H^{l−1}, ∂/∂b^l = t_l 1ᵀ G^l, G^{l−1} = s_l (G^l W^l) ⊙ D^{l−1}
  (and ∂/∂H⁰ = s_1 G¹ W¹ for the gradient with respect to the inputs);
* tangent, for a direction (dparams, dH⁰): dZ^l = s_l dH^{l−1} (W^l)ᵀ + s_l H^{l−1}(dW^l)ᵀ
  + t_l 1 (db^l)ᵀ, dH^l = D^l ⊙ dZ^l.

Matrix products are BLAS calls (``np.dot`` with ``out``) on contiguous blocks of the
workspace, so a pass allocates nothing of size B. tanh is computed through ``exp`` (faster
than libm's ``tanh``, benchmarks/results/design_notes.md; ``expm1`` near 0 keeps full
precision). Kernels never raise:
non-finite values propagate to the caller, which checks them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: activation name → integer code used by the kernels
ACTIVATIONS = {"identity": 0, "tanh": 1, "relu": 2, "erf": 3, "sine": 4, "sigmoid": 5,
               "softplus": 6}

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def num_params(sizes) -> int:
    """Σ_l (n_l n_{l−1} + n_l): the length of the flat parameter vector."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return int(np.sum(sizes[1:] * sizes[:-1] + sizes[1:]))


# -- activations --------------------------------------------------------------------------------

@numba.njit(cache=True)
def _tanh(z):
    a = abs(z)
    if a < 0.25:
        e = math.expm1(-2.0 * a)
        t = -e / (2.0 + e)
    else:
        e = math.exp(-2.0 * a)
        t = (1.0 - e) / (1.0 + e)
    return t if z >= 0.0 else -t


@numba.njit(cache=True)
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@numba.njit(cache=True)
def _affine_activate(code, Z, scale, bias, bias_scale, D):
    """In place: Z ← φ(scale·Z + bias_scale·bias), D ← φ'(·), for Z, D of shape (B, n)."""
    rows, cols = Z.shape
    for i in range(rows):
        for j in range(cols):
            x = scale * Z[i, j] + bias_scale * bias[j]
            if code == 0:
                h, d = x, 1.0
            elif code == 1:
                h = _tanh(x)
                d = 1.0 - h * h
            elif code == 2:
                h, d = (x, 1.0) if x > 0.0 else (0.0, 0.0)
            elif code == 3:
                h = math.erf(x)
                d = _TWO_OVER_SQRT_PI * math.exp(-x * x)
            elif code == 4:
                h, d = math.sin(x), math.cos(x)
            elif code == 5:
                h = _sigmoid(x)
                d = h * (1.0 - h)
            else:  # softplus log(1 + e^x), stable for large |x|
                h = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
                d = _sigmoid(x)
            Z[i, j] = h
            D[i, j] = d


# -- layout -------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _offsets(sizes, batch):
    """Start of each layer's W in ``params`` and of its (B × n_l) block in the buffers."""
    L = sizes.shape[0] - 1
    param_off = np.zeros(L + 1, dtype=np.int64)
    buf_off = np.zeros(L + 1, dtype=np.int64)
    for l in range(L):
        param_off[l + 1] = param_off[l] + sizes[l + 1] * sizes[l] + sizes[l + 1]
        buf_off[l + 1] = buf_off[l] + batch * sizes[l + 1]
    return param_off, buf_off


@numba.njit(cache=True)
def _block(buf, start, rows, cols):
    return buf[start:start + rows * cols].reshape((rows, cols))


@numba.njit(cache=True)
def _layer_input(inputs, H_buf, buf_off, l, B, n_in):
    if l == 0:
        return inputs
    return _block(H_buf, buf_off[l - 1], B, n_in)


# -- kernels ------------------------------------------------------------------------------------

@numba.njit(cache=True)
def forward(inputs, params, sizes, w_scale, b_scale, acts, H_buf, D_buf):
    """Forward pass; fills H_buf, D_buf and returns the output block H^L (a view of H_buf)."""
    B = inputs.shape[0]
    L = sizes.shape[0] - 1
    param_off, buf_off = _offsets(sizes, B)
    for l in range(L):
        n_in, n_out = sizes[l], sizes[l + 1]
        H_in = _layer_input(inputs, H_buf, buf_off, l, B, n_in)
        W = _block(params, param_off[l], n_out, n_in)
        bias = params[param_off[l] + n_out * n_in:param_off[l + 1]]
        Z = _block(H_buf, buf_off[l], B, n_out)
        np.dot(H_in, W.T, Z)
        _affine_activate(acts[l], Z, w_scale[l], bias, b_scale[l],
                         _block(D_buf, buf_off[l], B, n_out))
    return _block(H_buf, buf_off[L - 1], B, sizes[L])


@numba.njit(cache=True)
def forward_many(inputs, params_batch, sizes, w_scale, b_scale, acts, H_buf, D_buf):
    """Outputs (S × B × n_L) for S parameter vectors (rows of ``params_batch``), same inputs."""
    S = params_batch.shape[0]
    out = np.empty((S, inputs.shape[0], sizes[sizes.shape[0] - 1]))
    for s in range(S):
        out[s] = forward(inputs, params_batch[s], sizes, w_scale, b_scale, acts, H_buf, D_buf)
    return out


@numba.njit(cache=True)
def transpose(inputs, params, sizes, w_scale, b_scale, D_buf, H_buf, cotangent, scratch_a,
              scratch_b, want_params, want_inputs):
    """Reverse mode after :func:`forward`: (J_paramsᵀ V, J_inputsᵀ V) for a cotangent V
    (B × n_L). A gradient that is not wanted is returned as an empty array."""
    B = inputs.shape[0]
    L = sizes.shape[0] - 1
    param_off, buf_off = _offsets(sizes, B)
    grad_params = np.zeros(param_off[L] if want_params else 0)
    grad_inputs = np.zeros((B, sizes[0]) if want_inputs else (0, 0))
    n_last = sizes[L]
    G = _block(scratch_a, 0, B, n_last)
    D = _block(D_buf, buf_off[L - 1], B, n_last)
    for i in range(B):
        for j in range(n_last):
            G[i, j] = cotangent[i, j] * D[i, j]
    use_a = True
    for l in range(L - 1, -1, -1):
        n_in, n_out = sizes[l], sizes[l + 1]
        H_in = _layer_input(inputs, H_buf, buf_off, l, B, n_in)
        if want_params:
            off = param_off[l]
            gW = _block(grad_params, off, n_out, n_in)
            np.dot(G.T, H_in, gW)
            gW *= w_scale[l]
            for i in range(B):
                for j in range(n_out):
                    grad_params[off + n_out * n_in + j] += G[i, j]
            for j in range(n_out):
                grad_params[off + n_out * n_in + j] *= b_scale[l]
        if l == 0 and not want_inputs:
            break
        W = _block(params, param_off[l], n_out, n_in)
        G_in = grad_inputs if l == 0 else _block(scratch_b if use_a else scratch_a, 0, B, n_in)
        np.dot(G, W, G_in)
        if l > 0:
            D = _block(D_buf, buf_off[l - 1], B, n_in)
            for i in range(B):
                for j in range(n_in):
                    G_in[i, j] *= w_scale[l] * D[i, j]
            G = G_in
            use_a = not use_a
        else:
            G_in *= w_scale[l]
    return grad_params, grad_inputs


@numba.njit(cache=True)
def tangent(inputs, params, sizes, w_scale, b_scale, D_buf, H_buf, dparams, dinputs,
            scratch_a, scratch_b, scratch_c, with_params, with_inputs):
    """Forward mode after :func:`forward`: J_params dparams + J_inputs dinputs (B × n_L).
    A direction that is not used is ignored (pass an empty array)."""
    B = inputs.shape[0]
    L = sizes.shape[0] - 1
    param_off, buf_off = _offsets(sizes, B)
    T = dinputs
    use_a = True
    for l in range(L):
        n_in, n_out = sizes[l], sizes[l + 1]
        dZ = _block(scratch_a if use_a else scratch_b, 0, B, n_out)
        dZ[:, :] = 0.0
        if l > 0 or with_inputs:
            np.dot(T, _block(params, param_off[l], n_out, n_in).T, dZ)
        if with_params:
            tmp = _block(scratch_c, 0, B, n_out)
            H_in = _layer_input(inputs, H_buf, buf_off, l, B, n_in)
            np.dot(H_in, _block(dparams, param_off[l], n_out, n_in).T, tmp)
            dZ += tmp
        db = dparams[param_off[l] + n_out * n_in:param_off[l + 1]]  # empty without params
        D = _block(D_buf, buf_off[l], B, n_out)
        for i in range(B):
            for j in range(n_out):
                x = w_scale[l] * dZ[i, j]
                if with_params:
                    x += b_scale[l] * db[j]
                dZ[i, j] = x * D[i, j]
        T = dZ
        use_a = not use_a
    return T.copy()


# -- Python wrapper -----------------------------------------------------------------------------

class Workspace:
    """Buffers for one batch size: activations H, derivatives D and three scratch blocks."""

    def __init__(self, sizes: np.ndarray, batch: int):
        total = batch * int(np.sum(sizes[1:]))
        widest = batch * int(np.max(sizes))
        self.batch = batch
        self.H = np.empty(total)
        self.D = np.empty(total)
        self.scratch = [np.empty(widest) for _ in range(3)]
        #: (inputs, params) of the forward pass held in H, D
        self.key: tuple[np.ndarray, np.ndarray] | None = None


def _same(cached: np.ndarray, new: np.ndarray) -> bool:
    return cached is new or np.array_equal(cached, new)


class Network:
    """A fully connected network ``sizes[0] → … → sizes[-1]`` with per-layer activation codes
    and scales (see the module docstring), evaluated by the numba kernels.

    The last forward pass is kept (a one-entry cache keyed by the inputs and parameters), so a
    transpose or tangent action at the point just evaluated costs no second forward pass: the
    whitened posterior evaluates θ = T(ξ) and then J_T(ξ)ᵀ v at the same ξ. The workspace is
    per object, so one network must not be evaluated from several threads at once (processes,
    as used for parallel chains and replicates, are fine).
    """

    def __init__(self, sizes, activations, w_scale, b_scale):
        self.sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        self.activations = np.ascontiguousarray(activations, dtype=np.int64)
        self.w_scale = np.ascontiguousarray(w_scale, dtype=float)
        self.b_scale = np.ascontiguousarray(b_scale, dtype=float)
        self.num_params = num_params(self.sizes)
        self._workspace: Workspace | None = None
        self._fixed: list[np.ndarray] = []

    def fix(self, array: np.ndarray) -> np.ndarray:
        """Declare ``array`` (a prior's inputs or decoder weights) fixed: the cache then keys
        on it by identity, without copying or comparing it per call. The caller must never
        change it (priors expose it as a read-only view). Returns ``array``."""
        self._fixed.append(array)
        return array

    def _key(self, a: np.ndarray) -> np.ndarray:
        return a if any(a is f for f in self._fixed) else a.copy()

    @property
    def output_dim(self) -> int:
        return int(self.sizes[-1])

    def _args(self):
        return self.sizes, self.w_scale, self.b_scale

    def _evaluated(self, inputs: np.ndarray, params: np.ndarray) -> Workspace:
        """The workspace holding the forward pass at (inputs, params), computing it if needed."""
        ws = self._workspace
        if ws is None or ws.batch != inputs.shape[0]:
            ws = self._workspace = Workspace(self.sizes, inputs.shape[0])
        if ws.key is not None and _same(ws.key[1], params) and _same(ws.key[0], inputs):
            return ws
        ws.key = None
        forward(inputs, params, self.sizes, self.w_scale, self.b_scale, self.activations,
                ws.H, ws.D)
        ws.key = (self._key(inputs), self._key(params))
        return ws

    def output_block(self, ws: Workspace) -> np.ndarray:
        start = ws.H.shape[0] - ws.batch * self.output_dim
        return ws.H[start:].reshape(ws.batch, self.output_dim)

    def forward(self, inputs: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Outputs (B, n_L) for inputs (B, n₀) (float64, C order) and parameters (P,)."""
        return self.output_block(self._evaluated(inputs, params)).copy()

    def forward_many(self, inputs: np.ndarray, params_batch: np.ndarray) -> np.ndarray:
        """Outputs (S, B, n_L) for S parameter vectors and the same inputs."""
        ws = Workspace(self.sizes, inputs.shape[0])
        return forward_many(inputs, params_batch, self.sizes, self.w_scale, self.b_scale,
                            self.activations, ws.H, ws.D)

    def transpose(self, inputs, params, cotangent, *, want_params: bool, want_inputs: bool):
        """(J_paramsᵀ V, J_inputsᵀ V) at (inputs, params) for V of shape (B, n_L)."""
        ws = self._evaluated(inputs, params)
        return transpose(inputs, params, *self._args(), ws.D, ws.H, cotangent,
                         ws.scratch[0], ws.scratch[1], want_params, want_inputs)

    def tangent(self, inputs, params, dparams=None, dinputs=None) -> np.ndarray:
        """J_params dparams + J_inputs dinputs at (inputs, params), shape (B, n_L)."""
        ws = self._evaluated(inputs, params)
        with_params, with_inputs = dparams is not None, dinputs is not None
        dp = dparams if with_params else np.zeros(0)
        di = dinputs if with_inputs else np.zeros((0, 0))
        return tangent(inputs, params, *self._args(), ws.D, ws.H, dp, di, *ws.scratch,
                       with_params, with_inputs)
