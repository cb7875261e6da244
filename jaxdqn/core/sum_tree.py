"""Wide segment trees on the device: sums for proportional sampling, maxima for the max priority.

A tree is a tuple of levels, leaves first. Each level is cut into blocks of ``BRANCHING``
entries, and entry ``j`` of level ``k + 1`` holds the sum (or maximum) of block ``j`` of
level ``k``; the last level is a single block. With 16-way nodes, 50k leaves need four
levels and 1M leaves five, so writing or finding a batch of leaves takes a few vectorised
steps over ``[batch, 16]`` blocks instead of seventeen to twenty small gathers down a
binary tree (each of which has a fixed cost on XLA:CPU); wider nodes make the prefix sums
inside a block cost more than the levels they save (docs/benchmarks.md). Parents are always
recomputed from their children, never adjusted by deltas, so float error cannot accumulate.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

BRANCHING = 16


class Tree(NamedTuple):
    """A wide segment tree: ``levels[0]`` holds the leaves, ``levels[-1]`` a single block."""

    levels: tuple  # of float32 arrays, leaves first


def level_sizes(capacity: int) -> tuple[int, ...]:
    """Lengths of the levels for ``capacity`` leaves, each a whole number of blocks."""
    sizes = []
    n = max(capacity, 1)
    while True:
        blocks = -(-n // BRANCHING)
        sizes.append(blocks * BRANCHING)
        if blocks == 1:
            return tuple(sizes)
        n = blocks


def init(capacity: int) -> Tree:
    return Tree(tuple(jnp.zeros((size,), jnp.float32) for size in level_sizes(capacity)))


def total(tree: Tree, reduce=jnp.sum) -> jax.Array:
    """The sum (or, with ``reduce=jnp.max``, the maximum) of all leaves."""
    return reduce(tree.levels[-1])


def leaves(tree: Tree, indices: jax.Array) -> jax.Array:
    return tree.levels[0][indices]


def _blocks(level: jax.Array, block_indices: jax.Array) -> jax.Array:
    """``[len(block_indices), BRANCHING]``: the children of the given parents."""
    return level.reshape(-1, BRANCHING)[block_indices]


def set_leaves(tree: Tree, indices: jax.Array, values: jax.Array, reduce=jnp.sum) -> Tree:
    """Write ``values`` at leaf ``indices`` (a batch) and recompute every ancestor with ``reduce``."""
    index = indices.astype(jnp.int32)
    bottom = tree.levels[0]
    levels = [bottom.at[index].set(values.astype(bottom.dtype))]
    for parent_level in tree.levels[1:]:
        parent = index // BRANCHING
        levels.append(parent_level.at[parent].set(reduce(_blocks(levels[-1], parent), axis=1)))
        index = parent
    return Tree(tuple(levels))


def find(tree: Tree, targets: jax.Array) -> jax.Array:
    """Leaf indices where the running sum of leaves first exceeds each of ``targets``.

    Descends one level per step: within the current block, the child is the number of
    children whose inclusive prefix sum is <= the target. Rounding can leave a target at
    or past a block's sum; the last positive child is taken then, so an empty leaf is
    never returned while any leaf is positive.
    """
    block = jnp.zeros(targets.shape, jnp.int32)
    for level in reversed(tree.levels):
        children = _blocks(level, block)
        prefix = jnp.cumsum(children, axis=1)
        child = jnp.sum(prefix <= targets[:, None], axis=1, dtype=jnp.int32)
        last_positive = BRANCHING - 1 - jnp.argmax(children[:, ::-1] > 0, axis=1).astype(jnp.int32)
        child = jnp.minimum(child, last_positive)
        before = jnp.take_along_axis(prefix, jnp.maximum(child - 1, 0)[:, None], axis=1)[:, 0]
        targets = targets - jnp.where(child > 0, before, 0.0)
        block = block * BRANCHING + child
    return block


def sample(tree: Tree, key: jax.Array, batch_size: int) -> jax.Array:
    """``batch_size`` leaf indices drawn i.i.d. with probability ``leaf / total``."""
    targets = jax.random.uniform(key, (batch_size,)) * total(tree)
    return find(tree, targets)
