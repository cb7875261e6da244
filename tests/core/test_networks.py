import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdqn import native
from jaxdqn.core import learner
from jaxdqn.core.networks import count_params, layers, make_network, one_hot_board
from jaxdqn.core.networks.layers import conv3x3_xla, xla_conv3x3
from jaxdqn.core.networks.migrate import from_legacy, legacy_params_shapes
from jaxdqn.core.rows import board_rows, reading_widths
from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation
from tests.support import legacy_network
from tests.support.helpers import SMALL_SPEC, numpy_dense_input, random_observations, random_transitions

SPECS = {
    "mlp": SMALL_SPEC,
    "mlp without extras": SMALL_SPEC._replace(num_extras=0),
    "extras only": NetworkSpec.extras_only(4, (8, 6), 3),
    "cnn": SMALL_SPEC._replace(spatial=True),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_flax_modules_compute_what_the_networks_before_them_computed(name, xla_convolutions):
    """Same parameters (moved into the flax tree), same Q-values: the flax port changes no number."""
    spec = SPECS[name]
    old = legacy_network.init_params(jax.random.PRNGKey(3), spec)
    net = make_network(spec)
    params = from_legacy(old, spec)
    assert jax.tree.structure(params) == jax.tree.structure(jax.eval_shape(net.init, jax.random.PRNGKey(0)))
    obs = random_observations(np.random.default_rng(1), spec, 9) if spec.has_board else \
        Observation(jnp.zeros((9, 0, 0), jnp.uint8), jnp.asarray(np.random.default_rng(1).normal(size=(9, 4)),
                                                                  jnp.float32))
    np.testing.assert_allclose(jax.jit(net.apply)(params, obs), legacy_network.apply(old, spec, obs), rtol=1e-6,
                               atol=1e-6)


@pytest.fixture
def xla_convolutions(monkeypatch):
    """The legacy network convolves with XLA's operations: so does the flax one here, so that these
    tests see only what the port changed (oneDNN against XLA: tests/native/test_onednn.py)."""
    monkeypatch.setattr(layers.native, "load", lambda: native.Backend(False, "XLA's (test)"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_the_same_update_from_the_same_parameters(name, xla_convolutions):
    spec = SPECS[name]
    old = legacy_network.init_params(jax.random.PRNGKey(4), spec)
    net = make_network(spec)
    opt = learner.make_optimizer(1e-3)
    batch = random_transitions(np.random.default_rng(2), spec, 16)
    weights = jnp.linspace(0.5, 1.0, 16)

    def step(apply_fn, params):
        state = learner.LearnerState(params, jax.tree.map(jnp.copy, params), opt.init(params), jnp.int32(0))
        for _ in range(3):
            state, metrics = learner.update(state, batch, weights, apply_fn=apply_fn, optimizer=opt, gamma=0.99,
                                            target_update_period=None)
        return state.params, metrics.loss

    ours, loss = jax.jit(lambda p: step(net.apply, p))(from_legacy(old, spec))
    theirs, old_loss = jax.jit(lambda p: step(lambda q, o: legacy_network.apply(q, spec, o), p))(old)
    np.testing.assert_allclose(loss, old_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(from_legacy(theirs, spec))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_mlp_equals_the_dense_one_hot_computation_and_has_a_standard_flax_tree():
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(2))
    assert set(params) == {"input", "hidden_1", "q_values"}
    assert set(params["input"]) == {"board_kernel", "extras_kernel", "bias"}
    assert params["input"]["board_kernel"].shape == (4 * 5 * 3, 16) and params["q_values"]["kernel"].shape == (8, 3)
    assert count_params(params) == (4 * 5 * 3 + 2) * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3
    obs = random_observations(np.random.default_rng(1), SMALL_SPEC, 32)
    x = numpy_dense_input(SMALL_SPEC, obs)
    first = params["input"]
    layers = [(np.concatenate([first["board_kernel"], first["extras_kernel"]]), first["bias"]),
              (params["hidden_1"]["kernel"], params["hidden_1"]["bias"])]
    for w, b in layers:
        x = np.maximum(x @ np.asarray(w) + np.asarray(b), 0)
    expected = x @ np.asarray(params["q_values"]["kernel"]) + np.asarray(params["q_values"]["bias"])
    np.testing.assert_allclose(np.asarray(jax.jit(net.apply)(params, obs)), expected, atol=1e-5)


def test_cnn_layers_and_pytorch_initialisation_bounds():
    spec = SPECS["cnn"]
    params = make_network(spec).init(jax.random.PRNGKey(0))
    assert params["conv_0"]["kernel"].shape == (3, 3, 3, 32) and params["conv_1"]["kernel"].shape == (3, 3, 32, 64)
    assert params["input"]["kernel"].shape == (64 * 4 * 5 + 2, 16)
    fan_in = {"conv_0": 27, "conv_1": 288, "input": 64 * 20 + 2, "hidden_1": 16, "q_values": 8}
    for layer, n in fan_in.items():
        for leaf in params[layer].values():
            bound = 1 / np.sqrt(n)
            assert np.abs(leaf).max() <= bound and np.abs(leaf).max() > 0.5 * bound


@pytest.mark.slow
@pytest.mark.parametrize("density,width", [(0.05, 16), (0.3, 16), (1.0, 32)])
def test_row_lists_give_the_same_q_values_and_gradients_as_boards(density, width):
    """The row-gather first layer equals the one-hot product, values and gradients, at any list width."""
    obs = random_observations(np.random.default_rng(3), SMALL_SPEC, 16, density=density)
    rows = RowsObservation(jnp.asarray(board_rows(np.asarray(obs.board), SMALL_SPEC, width)), obs.extras)
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(1))
    np.testing.assert_allclose(jax.jit(net.apply)(params, rows), jax.jit(net.apply)(params, obs), atol=1e-5)
    grad = lambda o: jax.grad(lambda p: net.apply(p, o).sum())(params)["input"]["board_kernel"]
    np.testing.assert_allclose(grad(rows), grad(obs), atol=1e-5)


SNAKE_SIZED = NetworkSpec(16, 32, 6, 2, (16,), 5)  # 512 cells: lists as long as the board are read at 16, 64, 128


def exact_board(rng, occupied: int, n: int = 4) -> Observation:
    """``n`` boards with exactly ``occupied`` cells taken (codes at random)."""
    cells = SNAKE_SIZED.board_height * SNAKE_SIZED.board_width
    board = np.zeros((n, cells), np.uint8)
    for b in board:
        b[rng.choice(cells, occupied, replace=False)] = rng.integers(1, SNAKE_SIZED.num_channels + 1, occupied)
    return Observation(jnp.asarray(board.reshape(n, SNAKE_SIZED.board_height, SNAKE_SIZED.board_width)),
                       jnp.asarray(rng.normal(size=(n, 2)), jnp.float32))


def listed(obs: Observation, width: int = 512) -> RowsObservation:
    return RowsObservation(jnp.asarray(board_rows(np.asarray(obs.board), SNAKE_SIZED, width)), obs.extras)


@pytest.mark.slow
def test_lists_as_long_as_the_board_are_read_as_far_as_the_batch_needs():
    """make_train's default lists (512 entries here) give the narrow lists' values exactly while a batch fits
    16, 64 or 128 entries, and the one-hot product's past that; gradients the one-hot product's; under vmap
    all members read as far as the longest needs, which changes no member's sums while it stays within 128."""
    assert reading_widths(SNAKE_SIZED) == (16, 64, 128)
    net = make_network(SNAKE_SIZED)
    params = net.init(jax.random.PRNGKey(0))
    apply = jax.jit(net.apply)
    rng = np.random.default_rng(4)
    boards = {occupied: exact_board(rng, occupied) for occupied in (3, 16, 17, 64, 65, 128, 129, 400)}
    for occupied, obs in boards.items():
        q = apply(params, listed(obs))
        np.testing.assert_allclose(q, apply(params, obs), rtol=1e-5, atol=1e-5)
        read = next((w for w in (16, 64, 128) if occupied <= w), None)
        if read:  # the same sums as lists of just that width
            np.testing.assert_array_equal(q, apply(params, listed(obs, read)))
        grad = lambda o: jax.jit(jax.grad(lambda p: net.apply(p, o).sum()))(params)["input"]["board_kernel"]
        np.testing.assert_allclose(grad(listed(obs)), grad(obs), rtol=1e-5, atol=1e-6)

    members = [listed(boards[k]) for k in (3, 65, 400)]
    together = jax.jit(jax.vmap(net.apply, (None, 0)))(params, jax.tree.map(lambda *x: jnp.stack(x), *members))
    for i, member in enumerate(members):
        np.testing.assert_allclose(together[i], apply(params, member), rtol=1e-5, atol=1e-5)
    # a member whose lists fit 16 gets the same sums whether its neighbour makes the batch read 16 or 128 entries
    pair = jax.jit(jax.vmap(net.apply, (None, 0)))
    read_at_16 = pair(params, jax.tree.map(lambda *x: jnp.stack(x), members[0], members[0]))
    read_at_128 = pair(params, jax.tree.map(lambda *x: jnp.stack(x), members[0], members[1]))
    np.testing.assert_array_equal(read_at_128[0], read_at_16[0])


def test_the_xla_convolutions_cheaper_gradient_matches_xlas_own():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 4, 5, 3)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 3, 6)), jnp.float32)
    loss = lambda f: (lambda x, w: (f(x, w) ** 2).sum())
    ours = jax.grad(loss(conv3x3_xla), (0, 1))(x, w)
    xla = jax.grad(loss(xla_conv3x3), (0, 1))(x, w)
    for a, b in zip(ours, xla):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv3x3_xla(x, w), xla_conv3x3(x, w), rtol=1e-6)


def test_the_one_hot_layers_gradient_is_the_matmuls_alone_and_vmapped():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.integers(0, 2, size=(3, 6, 20)), jnp.float32)  # 3 members, a batch of 6 inputs each
    w = jnp.asarray(rng.normal(size=(3, 20, 4)), jnp.float32)
    g = jnp.asarray(rng.normal(size=(3, 6, 4)), jnp.float32)
    loss = lambda f: (lambda x, w, g: (f(x, w) * g).sum())
    ours = jax.vmap(jax.grad(loss(layers.one_hot_dense), 1))(x, w, g)
    plain = jax.vmap(jax.grad(loss(jnp.matmul), 1))(x, w, g)
    np.testing.assert_allclose(ours, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.grad(loss(layers.one_hot_dense), 1)(x[0], w[0], g[0]), plain[0], rtol=1e-5)
    np.testing.assert_allclose(layers.one_hot_dense(x[0], w[0]), x[0] @ w[0], rtol=1e-6)


def test_wrong_observations_are_explained_at_trace_time():
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(0))
    one = random_observations(np.random.default_rng(0), SMALL_SPEC, 1)
    with pytest.raises(ValueError, match=r"board must be \[batch, height, width\].*obs.board\[None\]"):
        net.apply(params, Observation(one.board[0], one.extras))
    with pytest.raises(ValueError, match=r"extras must be \[batch, 2\].*obs.extras\[None\]"):
        net.apply(params, Observation(one.board, one.extras[0]))
    with pytest.raises(TypeError, match="takes an Observation.*jaxdqn.Observation"):
        net.apply(params, jnp.zeros((1, 62)))
    with pytest.raises(TypeError, match="cell codes"):
        net.apply(params, Observation(one.board.astype(jnp.float32), one.extras))
    extras_only = make_network(SPECS["extras only"])
    p = extras_only.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"extras must be \[batch, 4\]"):
        extras_only.apply(p, Observation(jnp.zeros((0, 0), jnp.uint8), jnp.zeros(4)))


def test_a_network_of_your_own_behind_the_same_adapter():
    class Tiny(nn.Module):
        @nn.compact
        def __call__(self, obs):
            x = one_hot_board(obs.board, 3).reshape(obs.board.shape[0], -1)
            return nn.Dense(3, name="head")(jnp.concatenate([x, obs.extras], -1))

    net = make_network(SMALL_SPEC, Tiny())
    params = net.init(jax.random.PRNGKey(0))
    assert set(params) == {"head"} and not net.builtin and make_network(SMALL_SPEC).builtin
    obs = random_observations(np.random.default_rng(0), SMALL_SPEC, 5)
    assert net.apply(params, obs).shape == (5, 3)
    opt = learner.make_optimizer(1e-2)
    state = learner.init_learner(jax.random.PRNGKey(1), net, opt)
    update = learner.make_update(net, opt)
    state, metrics = update(state, random_transitions(np.random.default_rng(1), SMALL_SPEC, 8), None)
    assert np.isfinite(float(metrics.loss)) and int(state.step) == 1


def test_legacy_shapes_template_matches_the_old_initialiser():
    for spec in SPECS.values():
        old = legacy_network.init_params(jax.random.PRNGKey(0), spec)
        assert jax.tree.map(jnp.shape, old) == jax.tree.map(jnp.shape, legacy_params_shapes(spec))
    assert optax.tree_utils.tree_get(learner.make_optimizer(0.5).init({"w": jnp.ones(2)}), "learning_rate") == 0.5


def test_a_dueling_head_is_the_standard_one():
    """Q = V + A - mean(A) (Wang et al., 2016), computed here from the head's own parameters."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxdqn import NetworkSpec, make_network
    spec = NetworkSpec(4, 5, 3, 2, (8, 6), 4, False, True)
    net = make_network(spec)
    params = net.init(jax.random.PRNGKey(0))
    assert {"value", "advantage"} <= set(params) and "q_values" not in params
    obs = spec.empty_observation((7,))
    obs = obs._replace(board=jax.random.randint(jax.random.PRNGKey(1), obs.board.shape, 0, 4).astype(jnp.uint8),
                       extras=jax.random.normal(jax.random.PRNGKey(2), obs.extras.shape))
    plain = make_network(spec._replace(dueling=False))
    trunk = {k: v for k, v in params.items() if k not in ("value", "advantage")}
    # the last hidden layer, computed from the trunk's parameters (board codes 1..C are the one-hot channels)
    onehot = jax.nn.one_hot(obs.board, 4)[..., 1:].reshape(7, -1)
    h = jax.nn.relu(onehot @ trunk["input"]["board_kernel"] + obs.extras @ trunk["input"]["extras_kernel"]
                    + trunk["input"]["bias"])
    h = jax.nn.relu(h @ trunk["hidden_1"]["kernel"] + trunk["hidden_1"]["bias"])
    value = h @ params["value"]["kernel"] + params["value"]["bias"]
    advantage = h @ params["advantage"]["kernel"] + params["advantage"]["bias"]
    expected = value + advantage - advantage.mean(-1, keepdims=True)
    np.testing.assert_allclose(net.apply(params, obs), expected, rtol=1e-5, atol=1e-6)
    assert set(plain.init(jax.random.PRNGKey(0))) == {"input", "hidden_1", "q_values"}
