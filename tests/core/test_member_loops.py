"""Loops whose vmapped members stop on their own: each member's result is its own, and the loop's condition
is one flag for all of them (so JAX selects nothing over the carry)."""
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np

from jaxdqn.core.member_loops import any_member, keep_where, member_runs


def doubling(limit, big):
    """Doubles ``x`` and adds 1 to every entry of ``big`` (a stand-in for a buffer) ``limit`` times."""
    def body(carry):
        i, x, big = carry
        runs = member_runs(i < limit)
        i, x = keep_where(runs, (i + 1, x * 2), (i, x))
        return i, x, big.at[i % big.shape[0]].add(jnp.where(runs, 1.0, 0.0))  # written in place, never selected
    return jax.lax.while_loop(lambda carry: any_member(carry[0] < limit), body, (0, 1.0, big))


def test_vmapped_members_stop_on_their_own_at_every_level_of_nesting():
    big = jnp.zeros((4,))
    limits = jnp.array([[1, 6], [3, 0]])
    i, x, b = jax.jit(jax.vmap(jax.vmap(doubling, (0, None)), (0, None)))(limits, big)
    for r in range(2):
        for c in range(2):
            alone = jax.jit(doubling)(limits[r, c], big)
            np.testing.assert_array_equal(i[r, c], alone[0])
            np.testing.assert_array_equal(x[r, c], alone[1])
            np.testing.assert_array_equal(b[r, c], alone[2])
    assert float(x[0, 1]) == 64.0 and float(b[0, 1].sum()) == 6.0
    # members whose inner level runs alike (one limit for several buffers): the outer level decides
    bigs = jnp.stack([big, big + 1])
    i, x, b = jax.jit(jax.vmap(jax.vmap(doubling, (None, 0)), (0, None)))(limits[0], bigs)
    for r in range(2):
        for c in range(2):
            alone = jax.jit(doubling)(limits[0, r], bigs[c])
            np.testing.assert_array_equal(x[r, c], alone[1])
            np.testing.assert_array_equal(b[r, c], alone[2])


def test_keeping_selects_only_under_vmap():
    def keep(runs, new, old):
        return keep_where(runs, {"w": new}, {"w": old})
    assert selected_shapes(jax.make_jaxpr(keep)(True, jnp.ones(3), jnp.zeros(3)).jaxpr) == []
    batched = jax.make_jaxpr(jax.vmap(keep, (0, 0, None)))(jnp.array([True, False]), jnp.ones((2, 3)), jnp.zeros(3))
    assert selected_shapes(batched.jaxpr) == [(2, 3)]
    kept = jax.vmap(keep, (0, 0, None))(jnp.array([True, False]), jnp.ones((2, 3)), jnp.zeros(3))["w"]
    np.testing.assert_array_equal(kept, [[1, 1, 1], [0, 0, 0]])


def selected_shapes(jaxpr) -> list[tuple]:
    """The shapes of every select in a jaxpr, nested ones included."""
    shapes = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "select_n":
            shapes.append(eqn.outvars[0].aval.shape)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            shapes += selected_shapes(sub)
    return shapes


def test_the_vmapped_condition_is_one_flag_so_no_select_copies_the_carry():
    limits, big = jnp.array([1, 5]), jnp.zeros((4,))
    jaxpr = jax.make_jaxpr(jax.vmap(doubling, (0, None)))(limits, big)
    [loop] = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "while"]
    assert loop.params["cond_jaxpr"].out_avals[0].shape == ()
    assert (2,) in selected_shapes(jaxpr.jaxpr) and (2, 4) not in selected_shapes(jaxpr.jaxpr)

    def plain(limit, big):  # the same loop written plainly: its condition stays one flag per member, and the
        # while is lowered with a select of the whole carry, the "buffer" too, after every step
        return jax.lax.while_loop(lambda c: c[0] < limit, lambda c: (c[0] + 1, c[1] * 2, c[2] + 1), (0, 1.0, big))
    [loop] = [e for e in jax.make_jaxpr(jax.vmap(plain, (0, None)))(limits, big).jaxpr.eqns
              if e.primitive.name == "while"]
    assert loop.params["cond_jaxpr"].out_avals[0].shape == (2,)
    # alone, the body's flag is the constant True: no member ever runs a step it should not
    alone = jax.make_jaxpr(doubling)(1, jnp.zeros((4,)))
    assert "custom_vmap_call" in str(alone)
