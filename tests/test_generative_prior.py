"""Generative (decoder) priors: the .npz layout, clear errors for mismatched decoders, the
transpose/tangent actions, the match to the mesh, and a PyTorch round trip (if installed)."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
import scipy.special

from bayesinv.errors import InvalidArgumentError
from bayesinv.priors.generative import GenerativePrior, decoder_from_torch, save_decoder
from bayesinv.testing import check_prior

HAVE_TORCH = importlib.util.find_spec("torch") is not None
ACT = {"tanh": np.tanh, "sigmoid": scipy.special.expit, "softplus": lambda z: np.logaddexp(0, z),
       "erf": scipy.special.erf, "identity": lambda z: z}


def random_layers(rng, sizes, scale=1.0):
    return [(scale * rng.standard_normal((m, n)) / np.sqrt(n), 0.3 * rng.standard_normal(m))
            for n, m in itertools.pairwise(sizes)]


def reference_decoder(layers, z, activation, output_activation):
    h = z
    for l, (W, b) in enumerate(layers):
        h = ACT[activation if l < len(layers) - 1 else output_activation](h @ W.T + b)
    return h


@pytest.mark.parametrize(("activation", "output_activation"),
                         [("tanh", "identity"), ("softplus", "sigmoid"), ("erf", "tanh")])
def test_npz_round_trip_matches_reference(tmp_path, rng, activation, output_activation):
    layers = random_layers(rng, [3, 10, 12, 30])
    path = tmp_path / "decoder.npz"
    save_decoder(path, layers, activation=activation, output_activation=output_activation)
    with np.load(path) as data:  # the documented layout
        assert sorted(data.files) == ["W0", "W1", "W2", "activation", "b0", "b1", "b2",
                                      "latent_dim", "output_activation"]
        assert str(data["activation"]) == activation and int(data["latent_dim"]) == 3
    prior = GenerativePrior.from_npz(path, dim=30)
    assert (prior.latent_dim, prior.dim) == (3, 30)
    z = rng.standard_normal((4, 3))
    expected = reference_decoder(layers, z, activation, output_activation)
    np.testing.assert_allclose(prior.to_physical(z), expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(prior.to_physical(z[2]), expected[2], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(prior.to_physical(z.reshape(2, 2, 3)), expected.reshape(2, 2, 30),
                               rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "sine"])
def test_decoder_transpose_taylor_and_dot_product(rng, activation):
    prior = GenerativePrior(random_layers(rng, [4, 16, 16, 25], scale=1.5),
                            activation=activation, output_activation="tanh")
    report = check_prior(prior, rng, eps0=0.01, halvings=7)
    assert report.passed(tol=1e-11, rate_tol=0.15), str(report)


def test_output_permutation_follows_the_vertices(rng):
    layers = random_layers(rng, [2, 8, 6])
    perm = np.array([2, 0, 5, 1, 3, 4])  # not an involution: perm⁻¹ ≠ perm
    plain = GenerativePrior(layers)
    permuted = GenerativePrior(layers, output_permutation=perm)
    z, v = rng.standard_normal(2), rng.standard_normal(6)
    np.testing.assert_array_equal(permuted.to_physical(z), plain.to_physical(z)[perm])
    np.testing.assert_array_equal(permuted.to_physical_jvp(z, v[:2]),
                                  plain.to_physical_jvp(z, v[:2])[perm])
    v_outputs = np.empty(6)
    v_outputs[perm] = v  # ⟨v, P g⟩ = ⟨Pᵀ v, g⟩
    np.testing.assert_allclose(permuted.to_physical_vjp(z, v), plain.to_physical_vjp(z, v_outputs),
                               rtol=1e-14)
    with pytest.raises(InvalidArgumentError, match="output_permutation must be a permutation"):
        GenerativePrior(layers, output_permutation=[0, 0, 1, 2, 3, 4])


@pytest.mark.fem
def test_decoder_output_must_match_the_mesh(tmp_path, rng):
    from bayesinv.fem import unit_square

    domain = unit_square(4)  # 25 vertices
    coords = domain.parameter_space.coordinates
    layers = random_layers(rng, [3, 8, 24])
    save_decoder(tmp_path / "short.npz", layers, activation="tanh")
    with pytest.raises(InvalidArgumentError,
                       match="decoder outputs 24 values but the mesh has 25 parameter dofs"):
        GenerativePrior.from_npz(tmp_path / "short.npz", domain=domain)
    # output_points in another order (a row-major grid) are matched to the vertices
    layers = random_layers(rng, [3, 8, 25])
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5)), -1).reshape(-1, 2)
    save_decoder(tmp_path / "grid.npz", layers, activation="tanh", output_points=grid)
    prior = GenerativePrior.from_npz(tmp_path / "grid.npz", domain=domain)
    z = rng.standard_normal(3)
    out = reference_decoder(layers, z, "tanh", "identity")
    for i in range(25):
        j = np.flatnonzero(np.abs(grid - coords[i]).max(1) < 1e-12)[0]
        assert prior.to_physical(z)[i] == pytest.approx(out[j], rel=1e-12)
    save_decoder(tmp_path / "off.npz", layers, activation="tanh", output_points=grid * 0.9)
    with pytest.raises(InvalidArgumentError, match="output_points are not the mesh vertices"):
        GenerativePrior.from_npz(tmp_path / "off.npz", domain=domain)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_mismatched_decoder_files_name_the_layer(tmp_path, rng):
    (W0, b0), (W1, b1), (W2, b2) = random_layers(rng, [3, 8, 6, 10])
    good = {"W0": W0, "b0": b0, "W1": W1, "b1": b1, "W2": W2, "b2": b2,
            "activation": np.array("tanh")}
    cases = [
        ({"W1": W1[:, :7]}, r"layer 1: W1 has shape \(6, 7\) but layer 0 outputs 8 values"),
        ({"W2": W2[:, :5]}, r"layer 2: W2 has shape \(10, 5\) but layer 1 outputs 6 values"),
        ({"b0": b0[:5]}, r"layer 0: b0 has shape \(5,\) but W0 has shape \(8, 3\)"),
        ({"W1": W1.ravel()}, r"layer 1: W1 must be 2-d"),
        ({"b2": None}, "layer 2: b2 is missing"),
        ({"W3": W2}, "layer 3: b3 is missing"),
        ({"scale": np.ones(1)}, "unexpected entry 'scale'"),
        ({"activation": np.array("gelu")}, "activation must be one of"),
        ({"latent_dim": np.array(4)}, r"latent_dim = 4 but W0 has shape \(8, 3\)"),
        ({"W1": np.where(W1 > 0, np.nan, W1)}, "layer 1: W1 and b1 must be finite"),
    ]
    for i, (change, message) in enumerate(cases):
        arrays = {k: v for k, v in {**good, **change}.items() if v is not None}
        with pytest.raises(InvalidArgumentError, match=message):
            GenerativePrior.from_npz(_write(tmp_path / f"bad{i}.npz", **arrays))
    with pytest.raises(InvalidArgumentError, match=r"bad-empty\.npz: no layers found"):
        GenerativePrior.from_npz(_write(tmp_path / "bad-empty.npz", activation=np.array("tanh")))
    with pytest.raises(InvalidArgumentError, match="decoder outputs 10 values but the mesh has 9"):
        GenerativePrior.from_npz(_write(tmp_path / "good.npz", **good), dim=9)


def test_state_dict_conversion_without_torch(tmp_path, rng):
    """A state_dict is any mapping of 'prefix.weight'/'prefix.bias' arrays, in layer order."""
    layers = random_layers(rng, [2, 5, 7])
    state = {"net.0.weight": layers[0][0], "net.0.bias": layers[0][1],
             "net.2.weight": layers[1][0], "net.2.bias": layers[1][1]}
    decoder_from_torch(state, tmp_path / "d.npz", activation="sigmoid")
    prior = GenerativePrior.from_npz(tmp_path / "d.npz")
    z = rng.standard_normal(2)
    np.testing.assert_allclose(prior.to_physical(z), reference_decoder(layers, z, "sigmoid",
                                                                       "identity"), rtol=1e-12)
    with pytest.raises(InvalidArgumentError, match="state_dict does not record activations"):
        decoder_from_torch(state, tmp_path / "e.npz")
    with pytest.raises(InvalidArgumentError, match=r"'bn\.running_mean' is not a Linear weight"):
        decoder_from_torch({**state, "bn.running_mean": np.zeros(5)}, tmp_path / "e.npz",
                           activation="tanh")


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed (optional)")
def test_pytorch_round_trip_values_and_gradients(tmp_path):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                                torch.nn.Tanh(), torch.nn.Linear(32, 40), torch.nn.Softplus())
    model = model.double()
    decoder_from_torch(model, tmp_path / "torch.npz")
    prior = GenerativePrior.from_npz(tmp_path / "torch.npz", dim=40)
    assert (prior.activation, prior.output_activation) == ("tanh", "softplus")
    z = torch.randn(4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(40, dtype=torch.float64)
    out = model(z)
    (grad,) = torch.autograd.grad(out @ v, z)
    zn = z.detach().numpy()
    np.testing.assert_allclose(prior.to_physical(zn), out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(prior.to_physical_vjp(zn, v.numpy()), grad.numpy(), rtol=1e-10)
    decoder_from_torch(model.state_dict(), tmp_path / "sd.npz", activation="tanh",
                       output_activation="softplus")
    np.testing.assert_allclose(GenerativePrior.from_npz(tmp_path / "sd.npz").to_physical(zn),
                               out.detach().numpy(), rtol=1e-12)
    bad = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LeakyReLU(), torch.nn.Linear(8, 3))
    with pytest.raises(InvalidArgumentError, match=r"module '1' \(LeakyReLU\) is not supported"):
        decoder_from_torch(bad, tmp_path / "bad.npz")
    mixed = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with pytest.raises(InvalidArgumentError, match="all hidden layers must share one activation"):
        decoder_from_torch(mixed, tmp_path / "mixed.npz")
