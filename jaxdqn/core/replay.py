"""Replay buffers as pure functions over pytrees of device arrays (flashbax style).

Both buffers share one interface, so a training step can be written once::

    buffer = make_prioritized_buffer(capacity=50_000)   # or make_uniform_buffer(...)
    state = buffer.init(example_transition(obs))         # obs: one observation, no batch axis
    state = buffer.add(state, transitions)               # a batch: every leaf has a leading axis
    state = buffer.add(state, transitions, valid)        # ... only where the traced flag ``valid`` holds
    state = buffer.add_one(state, transition)            # or a single transition
    batch, indices, weights = buffer.sample(state, key, batch_size)
    state = buffer.update(state, indices, abs_td)        # no-op for the uniform buffer

Every function is pure and jittable; ``batch_size`` fixes a shape, so under ``jax.jit`` it
must be static (``jax.jit(buffer.sample, static_argnames="batch_size")``, or bind it with
``functools.partial``). Transitions keep observations in their compact form.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core import sum_tree
from jaxdqn.core.types import Transition, example_transition

PRIORITY_EPSILON = 1e-6


class RingState(NamedTuple):
    data: Transition  # every leaf has a leading ``capacity`` axis
    position: jax.Array  # next slot to write (int32)
    size: jax.Array  # items stored (int32)


class PrioritizedState(NamedTuple):
    ring: RingState
    sums: sum_tree.Tree  # sum tree over priority ** alpha
    maxima: sum_tree.Tree  # max tree over raw priorities (exact current maximum)


class ReplayBuffer(NamedTuple):
    init: Callable
    add: Callable
    add_one: Callable
    sample: Callable
    update: Callable
    capacity: int


def ring_init(example: Transition, capacity: int) -> RingState:
    data = jax.tree.map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example)
    return RingState(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def check_batch(state: RingState, batch: Transition) -> int:
    """The number of transitions in ``batch``, after checking its shapes against the buffer's (at trace time)."""
    stores, new = jax.tree.leaves(state.data), jax.tree.leaves(batch)
    if len(stores) != len(new):
        raise ValueError(f"the transitions have {len(new)} arrays, the buffer holds {len(stores)}: add "
                         "transitions shaped like the example the buffer was made from")
    n = jnp.shape(new[0])[0] if jnp.ndim(new[0]) else None
    for store, x in zip(stores, new):
        shape = jnp.shape(x)
        if len(shape) != store.ndim or tuple(shape[1:]) != store.shape[1:] or shape[0] != n:
            single = len(shape) == store.ndim - 1 and tuple(shape) == store.shape[1:]
            raise ValueError(
                f"add takes a batch of transitions (every array with the same leading batch axis); got an array of "
                f"shape {tuple(shape)} where the buffer stores {store.shape[1:]} per transition"
                + (". For one transition use buffer.add_one(state, transition)" if single else ""))
    return n


def ring_add(state: RingState, batch: Transition, valid=True) -> tuple[RingState, jax.Array]:
    """Write a batch of transitions at the ring's head; returns the new state and their slots. Where the
    scalar flag ``valid`` is False the slots get their own contents back and the head stays: nothing changes,
    and the buffer is still written in place (a ``jnp.where`` over it would copy all of it)."""
    capacity = jax.tree.leaves(state.data)[0].shape[0]
    n = check_batch(state, batch)
    slots = (state.position + jnp.arange(n, dtype=jnp.int32)) % capacity

    def write(store, new):
        new = jnp.asarray(new).astype(store.dtype)
        return store.at[slots].set(new if valid is True else jnp.where(valid, new, store[slots]))

    data = jax.tree.map(write, state.data, batch)
    position = jnp.where(valid, (state.position + n) % capacity, state.position)
    size = jnp.where(valid, jnp.minimum(state.size + n, capacity), state.size)
    return RingState(data, position, size), slots


def ring_gather(state: RingState, indices: jax.Array) -> Transition:
    return jax.tree.map(lambda store: store[indices], state.data)


def _check_sample(size: jax.Array, batch_size) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be a Python int (it fixes the batch's shape), got {batch_size!r}: under "
                        "jax.jit pass static_argnames='batch_size', or bind it with functools.partial")
    if not isinstance(size, jax.core.Tracer) and int(size) == 0:
        raise ValueError("the buffer is empty: add transitions before sampling (inside jax.jit an empty buffer "
                         "samples index 0 with weight 0)")


def _single(add):
    def add_one(state, transition: Transition):
        """Add one transition (no batch axis)."""
        return add(state, jax.tree.map(lambda x: jnp.asarray(x)[None], transition))
    return add_one


def make_uniform_buffer(capacity: int) -> ReplayBuffer:
    """A ring buffer sampled uniformly with replacement; weights are all ones (zeros while empty)."""

    def init(example: Transition) -> RingState:
        return ring_init(example, capacity)

    def add(state: RingState, batch: Transition, valid=True) -> RingState:
        return ring_add(state, batch, valid)[0]

    def sample(state: RingState, key: jax.Array, batch_size: int):
        _check_sample(state.size, batch_size)
        indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
        weights = jnp.full((batch_size,), jnp.where(state.size > 0, 1.0, 0.0), jnp.float32)
        return ring_gather(state, indices), indices, weights

    def update(state: RingState, indices, abs_td, valid=True) -> RingState:
        del indices, abs_td, valid
        return state

    return ReplayBuffer(init, add, _single(add), sample, update, capacity)


def make_prioritized_buffer(capacity: int, alpha: float = 0.6, beta: float = 0.4) -> ReplayBuffer:
    """Proportional prioritized replay (Schaul et al. 2016) with the reference's semantics.

    A new transition gets the current maximum priority (1.0 when empty); an update sets
    priority ``|TD| + 1e-6``; sampling probability is ``p**alpha / sum(p**alpha)``; weights
    are ``(N * P(i)) ** -beta`` divided by the batch maximum.
    """

    def init(example: Transition) -> PrioritizedState:
        return PrioritizedState(ring_init(example, capacity), sum_tree.init(capacity), sum_tree.init(capacity))

    def add(state: PrioritizedState, batch: Transition, valid=True) -> PrioritizedState:
        """``batch`` at the current maximum priority (only where ``valid``, as ``ring_add`` says)."""
        max_priority = jnp.where(state.ring.size > 0, sum_tree.total(state.maxima, jnp.max), 1.0)
        ring, slots = ring_add(state.ring, batch, valid)
        priority = jnp.full(slots.shape, max_priority, jnp.float32)
        sums, maxima = priority**alpha, priority
        if valid is not True:
            sums = jnp.where(valid, sums, sum_tree.leaves(state.sums, slots))
            maxima = jnp.where(valid, maxima, sum_tree.leaves(state.maxima, slots))
        return PrioritizedState(
            ring,
            sum_tree.set_leaves(state.sums, slots, sums),
            sum_tree.set_leaves(state.maxima, slots, maxima, jnp.max),
        )

    def sample(state: PrioritizedState, key: jax.Array, batch_size: int):
        _check_sample(state.ring.size, batch_size)
        indices = jnp.minimum(sum_tree.sample(state.sums, key, batch_size), jnp.maximum(state.ring.size - 1, 0))
        probs = sum_tree.leaves(state.sums, indices) / sum_tree.total(state.sums)
        weights = (state.ring.size.astype(jnp.float32) * probs) ** -beta
        weights = jnp.where(state.ring.size > 0, weights / jnp.max(weights), 0.0)
        return ring_gather(state.ring, indices), indices, weights

    def update(state: PrioritizedState, indices: jax.Array, abs_td: jax.Array, valid=True) -> PrioritizedState:
        """New priorities ``|TD| + 1e-6`` for ``indices`` (only where ``valid``: elsewhere the stored
        priorities are written back unchanged, so a traced flag can switch the update off)."""
        priority = jnp.abs(abs_td).astype(jnp.float32) + PRIORITY_EPSILON
        keep = jnp.logical_not(valid)
        sums = jnp.where(keep, sum_tree.leaves(state.sums, indices), priority**alpha)
        maxima = jnp.where(keep, sum_tree.leaves(state.maxima, indices), priority)
        return state._replace(
            sums=sum_tree.set_leaves(state.sums, indices, sums),
            maxima=sum_tree.set_leaves(state.maxima, indices, maxima, jnp.max),
        )

    return ReplayBuffer(init, add, _single(add), sample, update, capacity)


def ring_of(state) -> RingState:
    """The ring of stored transitions inside either buffer's state."""
    return state.ring if isinstance(state, PrioritizedState) else state


def with_ring(state, ring: RingState):
    """``state`` with its ring replaced (for either buffer)."""
    return state._replace(ring=ring) if isinstance(state, PrioritizedState) else ring


def bytes_per_transition(state) -> float:
    """Device bytes the buffer holds per stored slot (data plus any trees)."""
    ring = ring_of(state)
    capacity = jax.tree.leaves(ring.data)[0].shape[0]
    return sum(x.nbytes for x in jax.tree.leaves(state)) / capacity


__all__ = ["PrioritizedState", "ReplayBuffer", "RingState", "Transition", "bytes_per_transition", "example_transition",
           "make_prioritized_buffer", "make_uniform_buffer", "ring_of", "with_ring"]
