"""A gymnax environment as a JaxGame: it keeps the protocol, steps as gymnax steps, and trains with make_train."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core import Settings, TrainConfig, make_train
from jaxdqn.jaxgames import from_gymnax
from jaxdqn.jaxgames.protocol import contract_problems

gymnax = pytest.importorskip("gymnax")


@pytest.fixture(scope="module")
def cartpole():
    env, params = gymnax.make("CartPole-v1")
    return env, params, from_gymnax(env, params)


def test_the_game_keeps_the_protocol_and_has_the_environments_actions(cartpole):
    _, _, game = cartpole
    assert contract_problems(game) == []
    assert len(game.metadata["actions"]) + 1 == 2  # the no-op slot is the environment's last action
    assert game.preprocessing["observe_state_sizes"] == {"observation": 4} and game.name == "CartPole-v1"


def test_its_steps_are_gymnaxs_own_for_the_same_keys(cartpole):
    env, params, game = cartpole

    def both(key):
        reset_key, steps_key = jax.random.split(key)
        state, obs = game.reset(reset_key)
        their_obs, theirs = env.reset_env(reset_key, params)

        def step(carry, xs):
            state, theirs = carry
            step_key, action = xs
            state, obs, reward, done = game.step(state, action, step_key)
            their_obs, theirs, their_reward, their_done, _ = env.step_env(step_key, theirs, action, params)
            return (state, theirs), (jnp.concatenate([obs.extras, reward[None], done[None].astype(jnp.float32)]),
                                     jnp.concatenate([their_obs, jnp.float32(their_reward)[None],
                                                      jnp.float32(their_done)[None]]))

        xs = (jax.random.split(steps_key, 40), (jnp.arange(40) // 20) % 2)  # push one way, then the other
        _, (ours, rows) = jax.lax.scan(step, (state, theirs), xs)
        return obs.extras, their_obs, ours, rows

    first, their_first, ours, theirs = jax.jit(both)(jax.random.PRNGKey(3))
    np.testing.assert_array_equal(first, their_first)
    np.testing.assert_array_equal(ours, theirs)
    assert np.asarray(ours)[:, -1].any()  # the pole fell at least once: done is compared too


def test_a_discrete_action_space_is_required():
    env, params = gymnax.make("Pendulum-v1")
    with pytest.raises(ValueError, match="discrete actions"):
        from_gymnax(env, params)


@pytest.mark.slow
def test_make_train_trains_it(cartpole):
    _, _, game = cartpole
    settings = Settings(batch_size=32, memory_capacity=2_000, target_update_freq=100, learning_rate=1e-3,
                        epsilon_decay=0.9)
    _, metrics = jax.jit(make_train(TrainConfig(game, settings, episodes=40, hidden_sizes=(32,))))(
        jax.random.PRNGKey(0))
    lengths = np.asarray(metrics["episode_length"])
    assert lengths.shape == (40,) and lengths.min() >= 8 and np.all(np.isfinite(metrics["episode_loss"]))
    assert np.array_equal(np.asarray(metrics["episode_reward"]), lengths.astype(np.float32))  # +1 a step
