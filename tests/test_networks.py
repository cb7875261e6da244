import jax
import numpy as np
import pytest

from helpers import SMALL_SPEC, numpy_dense_input, random_observations
from jaxdqn.networks import count_params, describe, make_network
from jaxdqn.rows import board_rows
from jaxdqn.types import NetworkSpec, RowsObservation


def test_mlp_output_shape_and_param_count():
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(0))
    obs = random_observations(np.random.default_rng(0), SMALL_SPEC, 7)
    assert net.apply(params, obs).shape == (7, SMALL_SPEC.num_actions)
    n_in = 4 * 5 * 3 + 2
    assert count_params(params) == n_in * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3


def test_cnn_output_shape_and_layers():
    spec = SMALL_SPEC._replace(spatial=True)
    net = make_network(spec)
    params = net.init(jax.random.PRNGKey(0))
    assert params["conv"][0]["w"].shape == (3, 3, 3, 32)
    assert params["conv"][1]["w"].shape == (3, 3, 32, 64)
    assert params["mlp"][0]["w"].shape == (64 * 4 * 5 + 2, 16)
    obs = random_observations(np.random.default_rng(0), spec, 3)
    assert net.apply(params, obs).shape == (3, spec.num_actions)


def test_compact_one_hot_equals_dense_float_computation():
    rng = np.random.default_rng(1)
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(2))
    obs = random_observations(rng, SMALL_SPEC, 32)
    x = numpy_dense_input(SMALL_SPEC, obs)
    first = params["mlp"][0]
    assert first["w_board"].shape == (4 * 5 * 3, 16) and first["w"].shape == (2, 16)
    dense_layers = [{"w": np.concatenate([first["w_board"], first["w"]]), "b": first["b"]}, *params["mlp"][1:]]
    for layer in dense_layers[:-1]:
        x = np.maximum(x @ np.asarray(layer["w"]) + np.asarray(layer["b"]), 0)
    expected = x @ np.asarray(dense_layers[-1]["w"]) + np.asarray(dense_layers[-1]["b"])
    np.testing.assert_allclose(np.asarray(jax.jit(net.apply)(params, obs)), expected, atol=1e-5)


def test_board_free_network_uses_extras_only():
    spec = NetworkSpec(0, 0, 0, 4, (8,), 2)
    net = make_network(spec)
    params = net.init(jax.random.PRNGKey(0))
    assert params["mlp"][0]["w"].shape == (4, 8)
    obs = spec.empty_observation((5,))
    assert net.apply(params, obs).shape == (5, 2)


@pytest.mark.parametrize("spatial", [False, True])
def test_describe_names_architecture_and_reason(spatial):
    text = describe(SMALL_SPEC._replace(spatial=spatial), ["KEY_LEFT", "KEY_RIGHT"])
    assert "Why:" in text
    assert ("Conv3x3" in text) == spatial
    assert "KEY_LEFT" in text and "no-op" in text
    assert all(line.startswith("[INIT]") for line in text.splitlines())


@pytest.mark.parametrize("density,width", [(0.05, 16), (0.3, 16), (1.0, 32)])
def test_row_lists_give_the_same_q_values_and_gradients_as_boards(density, width):
    """The row-gather first layer equals the one-hot product, values and gradients, at any list width."""
    rng = np.random.default_rng(3)
    obs = random_observations(rng, SMALL_SPEC, 16, density=density)
    rows = RowsObservation(jax.numpy.asarray(board_rows(np.asarray(obs.board), SMALL_SPEC, width)), obs.extras)
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(1))
    np.testing.assert_allclose(jax.jit(net.apply)(params, rows), jax.jit(net.apply)(params, obs), atol=1e-5)
    grad = lambda o: jax.grad(lambda p: net.apply(p, o).sum())(params)["mlp"][0]["w_board"]
    np.testing.assert_allclose(grad(rows), grad(obs), atol=1e-5)


def test_conv3x3_gradient_matches_xla_convolution():
    from jaxdqn.networks import _conv, conv3x3
    rng = np.random.default_rng(0)
    x = jax.numpy.asarray(rng.normal(size=(2, 4, 5, 3)), jax.numpy.float32)
    w = jax.numpy.asarray(rng.normal(size=(3, 3, 3, 6)), jax.numpy.float32)
    loss = lambda f: (lambda x, w: (f(x, w) ** 2).sum())
    ours = jax.grad(loss(conv3x3), (0, 1))(x, w)
    xla = jax.grad(loss(_conv), (0, 1))(x, w)
    for a, b in zip(ours, xla):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv3x3(x, w), _conv(x, w), rtol=1e-6)
