import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core.acting import epsilon_greedy


def test_epsilon_zero_is_greedy_and_one_is_uniform():
    q = jnp.array([[0.0, 5.0, 1.0]] * 3000)
    assert np.all(np.asarray(epsilon_greedy(jax.random.PRNGKey(0), q, 0.0)) == 1)
    actions = np.asarray(jax.jit(epsilon_greedy)(jax.random.PRNGKey(1), q, 1.0))
    freq = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(freq, [1 / 3] * 3, atol=0.04)


def test_epsilon_greedy_vmaps_over_keys():
    q = jnp.array([0.0, 1.0])
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    actions = jax.vmap(epsilon_greedy, in_axes=(0, None, None))(keys, q, 0.0)
    assert actions.shape == (8,) and np.all(np.asarray(actions) == 1)


@pytest.mark.slow
def test_make_actor_batches_and_explores():
    from jaxdqn.core.acting import make_actor
    from jaxdqn.core.networks import make_network
    from tests.support.helpers import SMALL_SPEC, random_observations
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(0))
    obs = random_observations(np.random.default_rng(0), SMALL_SPEC, 5)
    act = make_actor(net.apply)
    greedy = act(params, obs, jax.random.PRNGKey(1), 0.0)
    np.testing.assert_array_equal(greedy, np.argmax(np.asarray(net.apply(params, obs)), -1))
    explored = np.stack([np.asarray(act(params, obs, jax.random.PRNGKey(k), 1.0)) for k in range(40)])
    assert set(np.unique(explored)) == set(range(SMALL_SPEC.num_actions))


def test_make_greedy_is_the_argmax_of_the_q_values():
    from jaxdqn.core.acting import make_greedy
    from jaxdqn.core.networks import make_network
    from tests.support.helpers import SMALL_SPEC, random_observations
    net = make_network(SMALL_SPEC)
    params = net.init(jax.random.PRNGKey(0))
    obs = random_observations(np.random.default_rng(3), SMALL_SPEC, 7)
    actions = make_greedy(net.apply)(params, obs)
    assert actions.dtype == jnp.int32
    np.testing.assert_array_equal(actions, np.argmax(np.asarray(net.apply(params, obs)), -1))
