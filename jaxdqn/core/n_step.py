"""n-step returns, made when a batch is sampled from a ring of one-step transitions.

Replay stores one-step transitions, each with ``ended`` (its episode ended there: a game over, the
turn limit or a stop). The loops add them in play order, one per game per step, so a game's next
transition lies ``stride`` slots (the number of games) later. A sampled slot becomes an n-step
transition by following its game forward: the rewards of up to ``n`` steps, discounted, stopping
after a transition that ended its episode or at the newest one stored; the bootstrap comes from the
last step's ``next_obs`` with discount ``gamma ** steps`` (none after a game over). Made at sample
time, a transition's return grows to ``n`` steps as its successors arrive, and priorities stay
those of the sampled slots.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdqn.core.replay import ReplayBuffer, RingState, ring_gather, ring_of
from jaxdqn.core.types import Transition


def n_step_transitions(ring: RingState, indices: jax.Array, n: int, gamma: float, stride: int = 1) -> Transition:
    """The n-step transitions starting at ring slots ``indices`` (``[B]``).

    Args:
      ring: the buffer's ring; its transitions must carry ``ended``.
      indices: slots of the first step of each transition.
      n: the most steps a return sums (static).
      gamma: the discount per step.
      stride: slots between a game's consecutive transitions (the games played side by side).

    Returns:
      A batch of ``Transition``: the first step's ``obs`` and ``action``; ``reward`` the sum of
      ``gamma ** k * r_k`` over the ``m`` steps taken; ``next_obs`` and ``done`` of the last of them;
      ``discount`` ``gamma ** m``.
    """
    if ring.data.ended is None:
        raise ValueError("n-step returns need transitions stored with `ended` (example_transition(obs, ended=True))")
    capacity = ring.data.done.shape[0]
    steps = jnp.arange(n, dtype=jnp.int32)
    slots = (indices[:, None] + steps * stride) % capacity  # [B, n]
    age = (indices - ring.position + ring.size) % capacity  # 0: the oldest stored
    stored = age[:, None] + steps * stride < ring.size
    ended = ring.data.ended[slots]
    ended_before = jnp.cumsum(ended, axis=1) - ended
    taken = stored & (ended_before == 0)  # a prefix of the n steps, never empty
    m = jnp.maximum(jnp.sum(taken, axis=1), 1)
    powers = jnp.float32(gamma) ** steps.astype(jnp.float32)
    reward = jnp.sum(jnp.where(taken, ring.data.reward[slots] * powers, 0.0), axis=1)
    last = (indices + (m - 1) * stride) % capacity
    first, final = ring_gather(ring, indices), ring_gather(ring, last)
    return first._replace(reward=reward, next_obs=final.next_obs, done=final.done,
                          discount=jnp.float32(gamma) ** m.astype(jnp.float32))


def with_n_step(buffer: ReplayBuffer, n: int, gamma: float, stride: int = 1) -> ReplayBuffer:
    """``buffer`` sampling n-step transitions (the same slots, weights and priorities); itself when ``n`` is 1."""
    if n == 1:
        return buffer

    def sample(state, key, batch_size: int):
        _, indices, weights = buffer.sample(state, key, batch_size)
        return n_step_transitions(ring_of(state), indices, n, gamma, stride), indices, weights

    return buffer._replace(sample=sample)
