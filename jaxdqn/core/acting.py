"""Epsilon-greedy action selection, pure and jittable."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def epsilon_greedy(key: jax.Array, q_values: jax.Array, epsilon) -> jax.Array:
    """With probability ``epsilon`` a uniformly random action, else the greedy one.

    ``q_values`` is ``[..., A]``; returns int32 actions of shape ``[...]``.
    """
    explore_key, action_key = jax.random.split(key)
    batch_shape = q_values.shape[:-1]
    greedy = jnp.argmax(q_values, axis=-1).astype(jnp.int32)
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
    """``greedy(params, obs) -> actions``, jitted: the highest-valued action for each observation
    of a batch. The one greedy path, shared by training, play and evaluation."""

    @jax.jit
    def greedy(params, obs):
        return jnp.argmax(apply_fn(params, obs), axis=-1).astype(jnp.int32)

    return greedy
