"""While loops whose members stop on their own, and stay cheap under ``jax.vmap``.

A ``lax.while_loop`` whose condition differs between vmapped members (runs that finish their
episodes at different steps) is batched by JAX as: loop while any member goes on, and after each
step keep every member's old carry where it has stopped, a select over the whole carry. With a
replay buffer in the carry, that select copies every buffer on every iteration.

Written with these two functions instead, the loop's condition is one flag for all members
(:func:`any_member`), and the body learns whether its own member still runs (:func:`member_runs`):
it then keeps its small state with ``jnp.where`` and leaves its large buffers alone by writing
back what they hold (see the buffers' ``valid`` arguments). Outside ``vmap`` both are the plain
loop: the condition is the member's own, and the body runs only while it holds, so
:func:`member_runs` is True. Each member's result is exactly what it is alone.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


@custom_vmap
def any_member(goes_on: jax.Array) -> jax.Array:
    """A loop condition: ``goes_on`` alone; under ``vmap``, whether any member goes on (one flag, not
    batched, at every level of nested ``vmap``)."""
    return goes_on


@any_member.def_vmap
def _any_member_vmap(axis_size, in_batched, goes_on):
    del axis_size
    [batched] = in_batched
    return (any_member(jnp.any(goes_on, axis=0)) if batched else goes_on), False


@custom_vmap
def member_runs(goes_on: jax.Array) -> jax.Array:
    """Inside a loop's body: True alone (the body runs only while the condition holds); under ``vmap``,
    ``goes_on``, each member's own condition."""
    return jnp.ones_like(goes_on)


@member_runs.def_vmap
def _member_runs_vmap(axis_size, in_batched, goes_on):
    del axis_size
    [batched] = in_batched
    return (goes_on if batched else jnp.ones_like(goes_on)), batched


@custom_vmap
def keep_where(runs: jax.Array, new, old):
    """``new`` where the member ``runs`` (a scalar flag from :func:`member_runs`), else ``old``, for every
    leaf. Alone, ``new`` (the body runs only while its member runs): no select is written, so a program
    compiled without ``vmap`` is the plain loop's."""
    del runs, old
    return new


@keep_where.def_vmap
def _keep_where_vmap(axis_size, in_batched, runs, new, old):
    runs_batched, new_batched, old_batched = in_batched
    if not runs_batched:  # every member of this level runs alike: the levels outside decide
        return keep_where(runs, new, old), new_batched

    def select(a, a_batched, b, b_batched):
        a, b = (x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
                for x, batched in ((a, a_batched), (b, b_batched)))
        return jnp.where(runs.reshape((axis_size,) + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(select, new, new_batched, old, old_batched), jax.tree.map(lambda _: True, new)
