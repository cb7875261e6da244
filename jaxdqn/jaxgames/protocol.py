"""Games written in JAX: pure functions plus the metadata a run needs.

A JAX game is a :class:`JaxGame`:

- ``reset(key) -> (state, obs)`` and ``step(state, action, key) -> (state, obs, reward, done)``,
  pure and jittable, ``state`` a pytree of fixed-shape arrays, so ``jax.vmap`` runs many games
  and ``lax.scan`` runs many steps inside one compiled program.
- ``obs`` is jaxdqn's compact :class:`~jaxdqn.core.types.Observation` (``uint8`` board codes in the
  order of ``metadata["character_set"]``, ``float32`` extras), exactly what the host encoder
  produces from the retro game it ports (``retro_module``) with ``preprocessing``, so a
  network trained on one plays the other unchanged.
- ``step`` never resets: when ``done`` it returns the final observation, the one a TD target
  needs. :func:`step_and_reset` (what training uses) replaces a finished game by a fresh one
  in the same call and hands back both observations. Under ``vmap`` that fresh game is made
  on every step for every game (a select keeps it only where a game ended), so a game may
  offer ``restart(state, key)``: a reset that reuses the old state's arrays where a new game
  does not care what they hold, which saves writing them. A game whose ``reset`` is costly (a
  shuffled board), or whose state is large next to a turn's work, sets ``reset_pool``:
  :func:`step_and_reset_games` then makes fresh games only for the games that ended, that share
  of the batch at a time, with the same keys and so the same results.

A module that defines ``JAX_GAME = JaxGame(...)`` can be named in a run's ``[game] module``
and is then trained by the compiled loop.
"""
from __future__ import annotations

import importlib
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.member_loops import any_member
from jaxdqn.core.types import Observation


class JaxGame(NamedTuple):
    name: str
    reset: Callable  # key -> (state, obs)
    step: Callable  # (state, action, key) -> (state, obs, reward, done)
    metadata: dict  # retro-gamer form: actions, reward, character_set, board_size
    preprocessing: dict  # what obs holds, as [preprocessing]: observe_state and their sizes
    retro_module: str  # the retro game this one ports, for play and evaluation in the terminal
    restart: Callable | None = None  # (state, key) -> (state, obs): reset, free to reuse the old state's buffers
    reset_pool: float | None = None  # fresh games made only for the ended ones, ceil(N * reset_pool) at a time


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


def step_and_reset_games(game: JaxGame, states, actions, keys, cut=False) -> Stepped:
    """:func:`step_and_reset` for a batch of games (a leading axis on every argument; ``cut`` may be one
    bool for all). Equal to ``jax.vmap(step_and_reset)``; for a game with ``reset_pool`` the fresh games
    are made only for the games that ended, ``ceil(N * reset_pool)`` at a time."""
    n = actions.shape[0]
    pool = n if game.reset_pool is None else max(1, math.ceil(n * game.reset_pool))
    if pool >= n:
        return jax.vmap(step_and_reset, in_axes=(None, 0, 0, 0, 0 if jnp.ndim(cut) else None))(
            game, states, actions, keys, cut)
    step_keys, reset_keys = jnp.moveaxis(jax.vmap(jax.random.split)(keys), 1, 0)
    stepped, final_obs, reward, done = jax.vmap(game.step)(states, actions, step_keys)

    def fresh(take):
        old = jax.tree.map(lambda x: x[take], stepped)
        return jax.vmap(game.restart)(old, reset_keys[take]) if game.restart else jax.vmap(game.reset)(reset_keys[take])

    new_states, obs = replace_marked(done | cut, pool, fresh, (stepped, final_obs))
    return Stepped(new_states, obs, reward, done, final_obs)


def replace_marked(marked, pool: int, make, into):
    """``into`` (leaves with a leading axis of N entries) with each entry where ``marked`` replaced by what
    ``make(take)`` gives for it, where ``take`` indexes ``pool`` of the marked entries at a time (padded with
    the last entry, whose made values are not written). Only the marked entries are made, so the work
    follows how many there are, not N; under ``vmap`` one loop serves every member (``any_member``)."""
    n = marked.shape[0]
    rank, total = jnp.cumsum(marked) - 1, jnp.sum(marked)  # rank among the marked entries

    def next_pool(carry):
        start, into = carry
        index = jnp.nonzero(marked & (rank >= start) & (rank < start + pool), size=pool, fill_value=n)[0]
        made = make(jnp.minimum(index, n - 1))
        return start + pool, jax.tree.map(lambda current, new: current.at[index].set(new, mode="drop"), into, made)

    return jax.lax.while_loop(lambda carry: any_member(carry[0] < total), next_pool, (jnp.int32(0), into))[1]


def contract_problems(game: JaxGame) -> list[str]:
    """What ``reset`` and ``step`` return that breaks the contract, each naming the function, the field and
    the shape and dtype found and expected (traced only: nothing runs). Empty when the game keeps it."""
    width, height = game.metadata["board_size"]
    sizes = game.preprocessing.get("observe_state_sizes", {})
    extras = sum(sizes.get(k, 1) for k in game.preprocessing.get("observe_state", []))
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    try:
        reset = jax.eval_shape(game.reset, key)
        stepped = jax.eval_shape(game.step, reset[0], jax.ShapeDtypeStruct((), jnp.int32), key)
    except Exception as exc:  # noqa: BLE001 - the game's own code failed to trace: say so
        return [f"tracing its reset and step failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"]

    def found(x) -> str:
        return f"{tuple(x.shape)} {x.dtype}" if hasattr(x, "shape") else type(x).__name__

    problems = []
    expected = {"obs.board": ((height, width), (jnp.uint8,)), "obs.extras": ((extras,), (jnp.float32,))}
    for where, (state, obs) in (("reset", reset), ("step", stepped[:2])):
        if not isinstance(obs, Observation):
            problems.append(f"{where} returns obs as {type(obs).__name__}, not an Observation(board, extras)")
            continue
        for field, value in (("obs.board", obs.board), ("obs.extras", obs.extras)):
            shape, dtypes = expected[field]
            if not hasattr(value, "shape") or tuple(value.shape) != shape or value.dtype not in dtypes:
                problems.append(f"{where} returns {field} as {found(value)}; expected {shape} "
                                f"{jnp.dtype(dtypes[0])}")
    _, _, reward, done = stepped
    if not hasattr(reward, "shape") or reward.shape != () or not jnp.issubdtype(reward.dtype, jnp.number):
        problems.append(f"step returns reward as {found(reward)}; expected one number (shape ())")
    if not hasattr(done, "shape") or done.shape != () or done.dtype != jnp.bool_:
        problems.append(f"step returns done as {found(done)}; expected one bool (shape ())")
    before, after = (jax.tree.map(found, s) for s in (reset[0], stepped[0]))
    if jax.tree.structure(reset[0]) != jax.tree.structure(stepped[0]) or before != after:
        problems.append(f"step returns a state of another form than reset's ({after} against {before}); the "
                        "state must keep its structure, shapes and dtypes")
    return problems


def find_jax_game(module_name: str) -> JaxGame | None:
    """The ``JAX_GAME`` a module defines, or None (a retro game, or not importable here)."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - not a JAX game; the caller reports import problems its own way
        return None
    game = getattr(module, "JAX_GAME", None)
    return game if isinstance(game, JaxGame) else None
