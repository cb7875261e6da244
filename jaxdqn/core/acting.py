"""Action selection, pure and jittable: :func:`greedy_actions` is the one greedy rule, used by
epsilon-greedy training (both loops), play and evaluation."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def greedy_actions(q_values: jax.Array) -> jax.Array:
    """The highest-valued action (the first of equal ones) for each row of ``[..., A]`` Q-values, int32."""
    return jnp.argmax(q_values, axis=-1).astype(jnp.int32)


def epsilon_greedy(key: jax.Array, q_values: jax.Array, epsilon) -> jax.Array:
    """With probability ``epsilon`` a uniformly random action, else the greedy one.

    ``q_values`` is ``[..., A]``; returns int32 actions of shape ``[...]``.
    """
    explore_key, action_key = jax.random.split(key)
    batch_shape = q_values.shape[:-1]
    greedy = greedy_actions(q_values)
    random_actions = jax.random.randint(action_key, batch_shape, 0, q_values.shape[-1], jnp.int32)
    explore = jax.random.uniform(explore_key, batch_shape) < epsilon
    return jnp.where(explore, random_actions, greedy)


def make_actor(apply_fn):
    """``act(params, obs, key, epsilon) -> actions``, jitted; ``obs`` is a batch."""

    @jax.jit
    def act(params, obs, key, epsilon):
        return epsilon_greedy(key, apply_fn(params, obs), epsilon)

    return act


def make_greedy(apply_fn):
    """``greedy(params, obs) -> actions``, jitted: :func:`greedy_actions` for each observation of a batch."""

    @jax.jit
    def greedy(params, obs):
        return greedy_actions(apply_fn(params, obs))

    return greedy
