"""Deliberately wrong ports of nav, each missing or changing one thing, for the port checker's tests."""
import jax.numpy as jnp

from jaxdqn.jaxgames import nav


def _with_step(advance):
    """nav's step with another turn function."""
    def step(state, action, key):
        return advance(state, action, *nav.draws(key))
    return step


def _half_points(state, action, roll, spawn_x):
    """A wrong reward: the turn's point only on odd turns."""
    new, obs, reward, done = nav.advance(state, action, roll, spawn_x)
    return new, obs, reward - (new.turn % 2 == 0), done


def _ship_passes_through(state, action, roll, spawn_x):
    """A missing rule: the ship may move into an asteroid on the bottom row (it passes under it)."""
    clear = state.board.at[nav.HEIGHT - 1].set(jnp.where(state.board[nav.HEIGHT - 1] == nav.ASTEROID, 0,
                                                         state.board[nav.HEIGHT - 1]))
    return nav.advance(state._replace(board=clear), action, roll, spawn_x)


def _ship_one_off_reset(key):
    """An off-by-one board: the ship starts one column right of the centre."""
    state = nav.new_game()
    x = jnp.int32(nav.WIDTH // 2 + 1)
    state = state._replace(ship_x=x, board=nav._draw(x, state.x, state.y, state.alive, False))
    return state, nav.observe(state)


WRONG_REWARD = nav.JAX_GAME._replace(name="nav, half points", step=_with_step(_half_points))
MISSING_RULE = nav.JAX_GAME._replace(name="nav, no crash moving", step=_with_step(_ship_passes_through))
OFF_BY_ONE = nav.JAX_GAME._replace(name="nav, ship one off", reset=_ship_one_off_reset)
