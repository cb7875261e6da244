"""The JaxGame contract is checked before anything compiles, naming the function, field, shape and dtype."""
import jax.numpy as jnp
import pytest

from jaxdqn.config import ConfigError, load_config
from jaxdqn.core.types import Observation
from jaxdqn.jaxgames import snake
from jaxdqn.jaxgames.protocol import contract_problems
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
