"""Games written in JAX: pure functions plus the metadata a run needs.

A JAX game is a :class:`JaxGame`:

- ``reset(key) -> (state, obs)`` and ``step(state, action, key) -> (state, obs, reward, done)``,
  pure and jittable, ``state`` a pytree of fixed-shape arrays, so ``jax.vmap`` runs many games
  and ``lax.scan`` runs many steps inside one compiled program.
- ``obs`` is jaxdqn's compact :class:`~jaxdqn.types.Observation` (``uint8`` board codes in the
  order of ``metadata["character_set"]``, ``float32`` extras), exactly what the host encoder
  produces from the retro game it ports (``retro_module``) with ``preprocessing``, so a
  network trained on one plays the other unchanged.
- ``step`` never resets: when ``done`` it returns the final observation, the one a TD target
  needs. :func:`step_and_reset` (what training uses) replaces a finished game by a fresh one
  in the same call and hands back both observations. Under ``vmap`` that fresh game is made
  on every step for every game (a select keeps it only where a game ended), so a game may
  offer ``restart(state, key)``: a reset that reuses the old state's arrays where a new game
  does not care what they hold, which saves writing them.

A module that defines ``JAX_GAME = JaxGame(...)`` can be named in a run's ``[game] module``
and is then trained by the compiled loop.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.types import Observation


class JaxGame(NamedTuple):
    name: str
    reset: Callable  # key -> (state, obs)
    step: Callable  # (state, action, key) -> (state, obs, reward, done)
    metadata: dict  # retro-gamer form: actions, reward, character_set, board_size
    preprocessing: dict  # what obs holds, as [preprocessing]: observe_state and their sizes
    retro_module: str  # the retro game this one ports, for play and evaluation in the terminal
    restart: Callable | None = None  # (state, key) -> (state, obs): reset, free to reuse the old state's buffers


class Stepped(NamedTuple):
    """What :func:`step_and_reset` returns for one game."""

    state: Any  # the game to play on: a fresh one when ``done``
    obs: Observation  # its observation
    reward: jax.Array
    done: jax.Array
    final_obs: Observation  # the observation the step ended in (equals ``obs`` unless ``done``)


def step_and_reset(game: JaxGame, state, action, key, cut=False) -> Stepped:
    """One step; a game that ends, or that ``cut`` ends without a terminal state (a turn limit), is
    replaced by a fresh one (``reset`` with a key split from ``key``)."""
    step_key, reset_key = jax.random.split(key)
    state, final_obs, reward, done = game.step(state, action, step_key)
    fresh_state, fresh_obs = game.restart(state, reset_key) if game.restart else game.reset(reset_key)
    ended = done | cut
    state = jax.tree.map(lambda fresh, old: jnp.where(ended, fresh, old), fresh_state, state)
    obs = jax.tree.map(lambda fresh, old: jnp.where(ended, fresh, old), fresh_obs, final_obs)
    return Stepped(state, obs, reward, done, final_obs)


def find_jax_game(module_name: str) -> JaxGame | None:
    """The ``JAX_GAME`` a module defines, or None (a retro game, or not importable here)."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - not a JAX game; the caller reports import problems its own way
        return None
    game = getattr(module, "JAX_GAME", None)
    return game if isinstance(game, JaxGame) else None
