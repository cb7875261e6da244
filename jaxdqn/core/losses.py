"""TD errors and the DQN loss, as pure per-transition functions vmapped over a batch (rlax style)."""
from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp


def huber(x: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss, quadratic inside ``|x| <= delta`` and linear outside (PyTorch's ``huber_loss``)."""
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * quadratic**2 + delta * (abs_x - quadratic)


def q_learning_td(q_tm1, a_tm1, r_t, discount_t, q_t) -> jax.Array:
    """One transition's TD error: ``r + discount * max_a q_t[a] - q_tm1[a_tm1]``."""
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t], [1, 0, 0, 0, 1])
    target = jax.lax.stop_gradient(r_t + discount_t * jnp.max(q_t))
    return target - q_tm1[a_tm1]


def double_q_learning_td(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector) -> jax.Array:
    """Double DQN TD error: the online net picks the next action, the target net values it."""
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector], [1, 0, 0, 0, 1, 1])
    best = jnp.argmax(q_t_selector)
    target = jax.lax.stop_gradient(r_t + discount_t * q_t_value[best])
    return target - q_tm1[a_tm1]


def td_loss(
    params,
    target_params,
    apply_fn: Callable,
    batch,
    gamma: float,
    weights: jax.Array | None = None,
    double_dqn: bool = False,
    huber_delta: float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """Mean (importance-weighted) Huber TD loss over a batch of ``Transition``s.

    ``gamma`` and ``huber_delta`` may be traced values (a hyperparameter sweep vmaps over them).

    Returns ``(loss, abs_td)`` where ``abs_td`` holds one ``|TD error|`` per sample,
    ready to become new replay priorities.
    """
    q_tm1 = apply_fn(params, batch.obs)
    q_t = apply_fn(target_params, batch.next_obs)
    bootstrap = gamma if batch.discount is None else batch.discount  # n-step samples carry their own
    discount = bootstrap * (1.0 - batch.done.astype(jnp.float32))
    reward = batch.reward.astype(jnp.float32)
    if double_dqn:
        q_t_selector = apply_fn(params, batch.next_obs)
        td = jax.vmap(double_q_learning_td)(q_tm1, batch.action, reward, discount, q_t, q_t_selector)
    else:
        td = jax.vmap(q_learning_td)(q_tm1, batch.action, reward, discount, q_t)
    per_sample = huber(td, huber_delta)
    if weights is not None:
        per_sample = per_sample * weights
    return jnp.mean(per_sample), jnp.abs(td)
