"""Segment trees in a flat device array: sums for O(log N) proportional sampling, maxima for max priority.

Layout: ``nodes`` has ``2 * P`` entries with ``P`` the capacity rounded up to a power of two;
the root is ``nodes[1]`` and leaf ``i`` is ``nodes[P + i]``. Parents are always recomputed
from their two children (never adjusted by deltas), so float error cannot accumulate.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def leaf_count(capacity: int) -> int:
    return 1 << max(0, (capacity - 1).bit_length())


def depth(nodes: jax.Array) -> int:
    return (nodes.shape[0] // 2).bit_length() - 1


def init(capacity: int) -> jax.Array:
    return jnp.zeros((2 * leaf_count(capacity),), jnp.float32)


def total(nodes: jax.Array) -> jax.Array:
    """The sum (or maximum) of all leaves."""
    return nodes[1]


def leaves(nodes: jax.Array, indices: jax.Array) -> jax.Array:
    return nodes[nodes.shape[0] // 2 + indices]


def set_leaves(nodes: jax.Array, indices: jax.Array, values: jax.Array, combine=jnp.add) -> jax.Array:
    """Write ``values`` at leaf ``indices`` (a batch) and recompute every ancestor with ``combine``."""
    num_leaves = nodes.shape[0] // 2
    node = num_leaves + indices.astype(jnp.int32)
    nodes = nodes.at[node].set(values.astype(nodes.dtype))
    for _ in range(depth(nodes)):
        node = node // 2
        nodes = nodes.at[node].set(combine(nodes[2 * node], nodes[2 * node + 1]))
    return nodes


def find(nodes: jax.Array, targets: jax.Array) -> jax.Array:
    """Leaf indices where the prefix sum first exceeds each of ``targets`` (batched descent)."""
    node = jnp.ones(targets.shape, jnp.int32)
    for _ in range(depth(nodes)):
        left_sum = nodes[2 * node]
        right_sum = nodes[2 * node + 1]
        # Rounding can leave a target just above the left sum with nothing to the right.
        go_right = (targets >= left_sum) & (right_sum > 0)
        targets = jnp.where(go_right, targets - left_sum, targets)
        node = 2 * node + go_right.astype(jnp.int32)
    return node - nodes.shape[0] // 2


def sample(nodes: jax.Array, key: jax.Array, batch_size: int) -> jax.Array:
    """``batch_size`` leaf indices drawn i.i.d. with probability ``leaf / total``."""
    targets = jax.random.uniform(key, (batch_size,)) * total(nodes)
    return find(nodes, targets)
