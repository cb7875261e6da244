"""Shape-free hyperparameters as traced values: a sweep in one program equals its runs one at a time."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.config.schema import SWEEP_KEYS
from jaxdqn.core import Hyperparameters, Settings, grid, make_sweep, make_train
from tests.core.test_runner import SMALL, small

# three configurations, each differing from the others in every shape-free hyperparameter
CONFIGURATIONS = [
    dict(learning_rate=1e-3, learning_rate_decay=0.999, gamma=0.99, epsilon=1.0, epsilon_decay=0.95,
         epsilon_min=0.05, target_update_freq=20, huber_delta=1.0, max_grad_norm=10.0),
    dict(learning_rate=3e-3, learning_rate_decay=0.99, gamma=0.9, epsilon=0.8, epsilon_decay=0.9,
         epsilon_min=0.2, target_update_freq=7, huber_delta=0.5, max_grad_norm=0.5),
    dict(learning_rate=3e-4, learning_rate_decay=1.0, gamma=0.95, epsilon=0.5, epsilon_decay=0.99,
         epsilon_min=0.1, target_update_freq=50, huber_delta=2.0, max_grad_norm=1.0),
]


def test_grid_is_every_combination_in_product_order_with_the_rest_from_settings():
    hp = grid(Settings(gamma=0.9), learning_rate=[1e-3, 1e-4], target_update_freq=[10, 20, 30])
    assert hp.learning_rate.shape == (6,) and hp.learning_rate.dtype == jnp.float32
    np.testing.assert_allclose(hp.learning_rate, [1e-3] * 3 + [1e-4] * 3)
    np.testing.assert_array_equal(hp.target_update_freq, [10, 20, 30] * 2)
    assert hp.target_update_freq.dtype == jnp.int32
    np.testing.assert_allclose(hp.gamma, [0.9] * 6)
    assert Hyperparameters.from_settings(Settings()).max_grad_norm == 10.0
    assert SWEEP_KEYS == Hyperparameters._fields  # config.toml's [sweep] may vary exactly these
    with pytest.raises(ValueError, match="batch_size: not a shape-free hyperparameter"):
        grid(batch_size=[32, 64])
    with pytest.raises(ValueError, match="gamma: an empty list"):
        grid(gamma=[])


@pytest.mark.slow
def test_a_sweep_equals_each_configuration_trained_alone_all_together_or_one_at_a_time():
    """n-step returns (2 steps) too, so the traced gamma reaches the sampled returns. ``make_sweep``
    vmaps all three agents, or runs them one at a time (``"auto"`` on a CPU); groups are checked below."""
    settings = [SMALL._replace(n_step=2, **c) for c in CONFIGURATIONS]
    hp = jax.tree.map(lambda *x: jnp.stack(x), *[Hyperparameters.from_settings(s) for s in settings])
    key = jax.random.PRNGKey(3)
    train = make_train(small(n_step=2))
    alone = [jax.jit(make_train(small()._replace(settings=s)))(key) for s in settings]
    for at_once in ("all", 1):
        states, together = jax.jit(make_sweep(train, at_once))(key[None], hp)
        states, together = jax.tree.map(lambda x: x[:, 0], (states, together))  # [configurations, 1 key]
        for i, (state, one) in enumerate(alone):
            for name in ("episode_reward", "episode_length", "episodes"):
                np.testing.assert_array_equal(together[name][i], one[name])
            np.testing.assert_allclose(together["episode_loss"][i], one["episode_loss"], rtol=1e-5)
            np.testing.assert_allclose(states.epsilon[i], state.epsilon, rtol=1e-6)
            np.testing.assert_allclose(states.learning_rate[i], state.learning_rate, rtol=1e-6)
            for a, b in zip(jax.tree.leaves(states.learner.params), jax.tree.leaves(state.learner.params)):
                np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6)
    rewards = np.asarray(together["episode_reward"])
    assert not np.array_equal(rewards[0], rewards[1]) and not np.array_equal(rewards[1], rewards[2])


@pytest.mark.parametrize("at_once", ["all", "auto", 1, 2, 4, 6, 9])
def test_a_sweep_gives_every_configuration_every_key_in_its_place(at_once):
    def train(key, hyper):  # what a run would return, made of the agent's own inputs (and, as a game
        # without extras gives a run's state, a zero-size array)
        return {"key": key, "extras": jnp.zeros((3, 0))}, {"rate": hyper.learning_rate * jnp.ones(2)}

    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hp = grid(learning_rate=[1e-4, 1e-3, 1e-2])
    state, metrics = jax.jit(make_sweep(train, at_once))(keys, hp)
    assert metrics["rate"].shape == (3, 2, 2) and state["key"].shape == (3, 2) + keys.shape[1:]
    assert state["extras"].shape == (3, 2, 3, 0)
    for c in range(3):
        for s in range(2):
            np.testing.assert_array_equal(state["key"][c, s], keys[s])
            np.testing.assert_allclose(metrics["rate"][c, s], hp.learning_rate[c])


@pytest.mark.parametrize("at_once", [0, -1, 1.5, True, "2", None])
def test_a_sweep_takes_a_positive_number_of_agents_at_once(at_once):
    with pytest.raises(ValueError, match="at_once: .* positive int, 'all' or 'auto'"):
        make_sweep(lambda key, hyper: None, at_once)


def test_auto_trains_one_agent_at_a_time_for_a_cpu():
    def train(key, hyper):
        return jnp.sum(key), hyper.learning_rate

    keys, hp = jax.random.split(jax.random.PRNGKey(0), 2), grid(learning_rate=[1e-4, 1e-3])
    text = str(jax.make_jaxpr(make_sweep(train))(keys, hp))
    assert jax.default_backend() == "cpu" and "scan" in text
    assert "scan" not in str(jax.make_jaxpr(make_sweep(train, "all"))(keys, hp))
