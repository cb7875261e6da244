"""benchmarks/peers.py: the JAX snake as rejax sees it is the same game, cut and restarted as gymnax does."""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import peers  # noqa: E402


def test_the_snake_for_rejax_plays_the_jax_snake_and_restarts_ended_games():
    env = peers.SnakeForRejax()
    params = peers._Params(max_steps_in_episode=3)
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, params)
    game, game_obs = peers.GAME.reset(key)
    assert obs.shape == env.observation_space(params).shape and env.action_space(params).n == 5
    one_hot = np.asarray(jax.nn.one_hot(game_obs.board.astype(jnp.int32) - 1, env.spec.num_channels)).reshape(-1)
    np.testing.assert_array_equal(obs, np.concatenate([one_hot, np.asarray(game_obs.extras)]))
    for turn in range(1, 4):  # the same steps as the game's own, until the cut after 3 turns
        step_key = jax.random.PRNGKey(turn)
        obs, state, reward, done, info = env.step(step_key, state, 4, params)
        game, game_obs, game_reward, game_done = peers.GAME.step(game, 4, jax.random.split(step_key)[0])
        assert float(reward) == float(game_reward) and bool(done) == (bool(game_done) or turn == 3)
        if not done:
            np.testing.assert_array_equal(obs, env.flat(game_obs))
    assert int(state[1]) == 0  # the ended game restarted: its turn count too
    fresh, fresh_obs = peers.GAME.reset(jax.random.split(jax.random.PRNGKey(3))[1])
    np.testing.assert_array_equal(obs, env.flat(fresh_obs))
