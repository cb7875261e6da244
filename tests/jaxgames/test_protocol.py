"""The JaxGame contract is checked before anything compiles, naming the function, field, shape and dtype; games
stepped as a batch with pooled resets equal games reset one by one."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.config import ConfigError, load_config
from jaxdqn.core.types import Observation
from jaxdqn.jaxgames import snake
from jaxdqn.jaxgames.protocol import contract_problems, step_and_reset_games
from tests.support.runs import PAINT, paint_variant_run


def test_the_shipped_games_keep_the_contract():
    assert contract_problems(snake.JAX_GAME) == []


def broken(step_body: str):
    """Paint with ``step`` rewritten: ``step_body`` turns (state, obs, reward, done) into what it returns."""
    import paint_jax

    namespace = {"jnp": jnp, "Observation": Observation, "PAINT": paint_jax.JAX_GAME}
    exec("def step(state, action, key):\n    state, obs, reward, done = PAINT.step(state, action, key)\n"
         f"    return {step_body}\n", namespace)
    return paint_jax.JAX_GAME._replace(step=namespace["step"])


@pytest.fixture(autouse=True)
def paint_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(PAINT))


@pytest.mark.parametrize("body, words", [
    ("state, Observation(obs.board.astype(jnp.int32), obs.extras), reward, done",
     "step returns obs.board as (8, 8) int32; expected (8, 8) uint8"),
    ("state, Observation(obs.board[:, :7], obs.extras), reward, done",
     "step returns obs.board as (8, 7) uint8; expected (8, 8) uint8"),
    ("state, obs, reward[None], done", "step returns reward as (1,) float32; expected one number"),
    ("state, obs, reward, done.astype(jnp.int32)", "step returns done as () int32; expected one bool"),
    ("state._replace(turns=state.turns.astype(jnp.float32)), obs, reward, done",
     "step returns a state of another form than reset's"),
    ("state, (obs.board, obs.extras), reward, done", "step returns obs as tuple, not an Observation"),
])
def test_each_broken_return_is_named(body, words):
    problems = contract_problems(broken(body))
    assert len(problems) == 1 and words in problems[0], problems


def test_a_run_of_a_broken_game_is_refused_before_it_compiles(tmp_path):
    run = paint_variant_run(tmp_path, "wrong_jax", (
        "from paint_jax import JAX_GAME as PAINT\n\n"
        "def step(state, action, key):\n"
        "    state, obs, reward, done = PAINT.step(state, action, key)\n"
        "    return state, obs._replace(board=obs.board.astype('int32')), reward, done\n\n"
        "JAX_GAME = PAINT._replace(name='wrong paint', step=step)\n"))
    with pytest.raises(ConfigError, match=r"game.module: wrong paint: step returns obs.board as \(8, 8\) int32"):
        load_config(run)


@pytest.mark.slow
def test_pooled_resets_equal_a_fresh_game_for_every_ended_game():
    """step_and_reset_games with a reset pool gives what a reset of every ended game gives, on steps where
    fewer games ended than the pool holds and on steps where more did (several pools in turn)."""
    n = 64
    states, _ = jax.vmap(snake.reset)(jax.random.split(jax.random.PRNGKey(5), n))

    def run(game):
        def turn(states, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (n,), 0, 5)
            out = step_and_reset_games(game, states, actions, jax.random.split(step_key, n))
            return out.state, (out.obs.board, out.reward, out.done)
        return jax.jit(lambda s: jax.lax.scan(turn, s, jax.random.split(jax.random.PRNGKey(7), 200))[1])(states)
    pooled, every = run(snake.JAX_GAME._replace(reset_pool=1 / 64)), run(snake.JAX_GAME)
    ended = np.asarray(pooled[2]).sum(1)
    assert ended.max() >= 3 and (ended == 1).any()  # one pool of 1 a step, and three or more in turn
    for a, b in zip(pooled, every):
        np.testing.assert_array_equal(a, b)
