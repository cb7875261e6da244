"""The paint test game (see ``paint.py``) written in JAX."""
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.types import Observation
from jaxdqn.jaxgames.protocol import JaxGame

SIZE = 8
TURNS = 40
CURSOR, PAINT = 1, 2  # codes in character_set ["@", "#"]
DX = jnp.array([1, 0, -1, 0, 0])
DY = jnp.array([0, -1, 0, 1, 0])


class PaintState(NamedTuple):
    painted: jax.Array  # bool [64]
    cursor: jax.Array  # int32 cell
    turns: jax.Array  # int32


def observe(state):
    board = jnp.where(state.painted, PAINT, 0).astype(jnp.uint8).at[state.cursor].set(CURSOR)
    return Observation(board.reshape(SIZE, SIZE), jnp.zeros((0,), jnp.float32))


def reset(key):
    del key  # always starts at (3, 4), as create_game does
    state = PaintState(jnp.zeros((SIZE * SIZE,), bool), jnp.int32(4 * SIZE + 3), jnp.int32(0))
    return state, observe(state)


def step(state, action, key):
    del key
    x, y = state.cursor % SIZE, state.cursor // SIZE
    nx, ny = x + DX[action], y + DY[action]
    inside = (nx >= 0) & (nx < SIZE) & (ny >= 0) & (ny < SIZE)
    cursor = jnp.where(inside, ny * SIZE + nx, state.cursor).astype(jnp.int32)
    new = ~state.painted[cursor]
    state = PaintState(state.painted.at[cursor].set(True), cursor, state.turns + 1)
    return state, observe(state), new.astype(jnp.float32), state.turns >= TURNS


JAX_GAME = JaxGame(name="paint", reset=reset, step=step,
                   metadata={"actions": ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], "reward": "score",
                             "character_set": ["@", "#"], "board_size": [SIZE, SIZE]},
                   preprocessing={}, retro_module="paint")
