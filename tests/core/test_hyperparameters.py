"""Shape-free hyperparameters as traced values: a sweep in one program equals its runs one at a time."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.config.schema import SWEEP_KEYS
from jaxdqn.core import Hyperparameters, Settings, grid, make_train
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
def test_a_vmapped_sweep_equals_each_configuration_trained_alone():
    """n-step returns (2 steps) too, so the traced gamma reaches the sampled returns."""
    settings = [SMALL._replace(n_step=2, **c) for c in CONFIGURATIONS]
    hp = jax.tree.map(lambda *x: jnp.stack(x), *[Hyperparameters.from_settings(s) for s in settings])
    key = jax.random.PRNGKey(3)
    train = make_train(small(n_step=2))
    states, together = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key, hp)
    for i, s in enumerate(settings):
        state, alone = jax.jit(make_train(small()._replace(settings=s)))(key)
        for name in ("episode_reward", "episode_length", "episodes"):
            np.testing.assert_array_equal(together[name][i], alone[name])
        np.testing.assert_allclose(together["episode_loss"][i], alone["episode_loss"], rtol=1e-5)
        np.testing.assert_allclose(states.epsilon[i], state.epsilon, rtol=1e-6)
        np.testing.assert_allclose(states.learning_rate[i], state.learning_rate, rtol=1e-6)
        for a, b in zip(jax.tree.leaves(states.learner.params), jax.tree.leaves(state.learner.params)):
            np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6)
    rewards = np.asarray(together["episode_reward"])
    assert not np.array_equal(rewards[0], rewards[1]) and not np.array_equal(rewards[1], rewards[2])
