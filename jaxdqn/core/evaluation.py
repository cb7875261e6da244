"""Greedy evaluation on a game written in JAX: many games at once, no exploration."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdqn.core.acting import greedy_actions
from jaxdqn.core.rows import to_stored
from jaxdqn.jaxgames.protocol import JaxGame


def make_evaluate(game: JaxGame, network, rows_width: int, num_games: int, max_turns: int):
    """``evaluate(params, key) -> (rewards, lengths)``: ``num_games`` games played greedily to their end
    (or ``max_turns``), all in one jitted program."""
    spec = network.spec

    def evaluate(params, key):
        states, obs = jax.vmap(game.reset)(jax.random.split(key, num_games))

        def turn(carry, key):
            states, obs, total, length, live = carry
            stored, _ = to_stored(obs, spec, rows_width)
            actions = greedy_actions(network.apply(params, stored))
            states, obs, reward, done = jax.vmap(game.step)(states, actions, jax.random.split(key, num_games))
            total = total + jnp.where(live, reward, 0.0)
            length = length + live
            return (states, obs, total, length, live & ~done), None

        zeros = jnp.zeros((num_games,), jnp.float32)
        carry = (states, obs, zeros, jnp.zeros((num_games,), jnp.int32), jnp.ones((num_games,), bool))
        (_, _, total, length, _), _ = jax.lax.scan(turn, carry, jax.random.split(key, max_turns))
        return total, length

    return evaluate
