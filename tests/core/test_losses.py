import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core.losses import double_q_learning_td, huber, q_learning_td, td_loss
from jaxdqn.core.types import Observation, Transition


def test_huber_matches_definition():
    x = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.25, 2.0])
    expected = [2.5, 0.5, 0.125, 0.0, 0.03125, 1.5]
    np.testing.assert_allclose(huber(x), expected, rtol=1e-6)


def test_single_transition_td_by_hand():
    td = q_learning_td(jnp.array([1.0, 2.0]), jnp.array(1), jnp.array(0.5), jnp.array(0.9), jnp.array([3.0, -1.0]))
    assert float(td) == pytest.approx(0.5 + 0.9 * 3.0 - 2.0)
    dtd = double_q_learning_td(jnp.array([1.0, 2.0]), jnp.array(0), jnp.array(0.0), jnp.array(1.0),
                               jnp.array([3.0, -1.0]), jnp.array([0.0, 5.0]))
    assert float(dtd) == pytest.approx(-1.0 - 1.0)


def _table_batch():
    # A "network" that is a lookup table: obs.extras[:, 0] is the row index.
    obs = Observation(jnp.zeros((3, 0, 0), jnp.uint8), jnp.array([[0.0], [1.0], [2.0]]))
    nxt = Observation(jnp.zeros((3, 0, 0), jnp.uint8), jnp.array([[1.0], [2.0], [0.0]]))
    return Transition(obs, jnp.array([0, 1, 1]), jnp.array([1.0, -2.0, 0.5]), nxt, jnp.array([False, False, True]))


def _table_apply(table, obs):
    return table[obs.extras[:, 0].astype(jnp.int32)]


def test_td_loss_equals_hand_computed_example():
    online = jnp.array([[0.0, 1.0], [2.0, 0.5], [1.0, 3.0]])
    target = jnp.array([[1.0, 4.0], [0.0, -1.0], [2.0, 2.5]])
    gamma = 0.5
    # targets: 1 + .5*max(target[1]) = 1.0 ; -2 + .5*max(target[2]) = -0.75 ; done -> 0.5
    # q(s,a):  0.0 ; 0.5 ; 3.0  -> td = 1.0, -1.25, -2.5
    loss, abs_td = td_loss(online, target, _table_apply, _table_batch(), gamma)
    np.testing.assert_allclose(abs_td, [1.0, 1.25, 2.5], rtol=1e-6)
    expected = np.mean([0.5, 0.75, 2.0])
    assert float(loss) == pytest.approx(expected)
    weights = jnp.array([1.0, 0.5, 0.0])
    wloss, _ = td_loss(online, target, _table_apply, _table_batch(), gamma, weights)
    assert float(wloss) == pytest.approx((0.5 + 0.375) / 3)
    # huber_delta 2: |td| 1.0 and 1.25 stay quadratic, 2.5 turns linear at 2 (2 * (2.5 - 1) = 3.0)
    wide, _ = td_loss(online, target, _table_apply, _table_batch(), gamma, huber_delta=2.0)
    assert float(wide) == pytest.approx(np.mean([0.5, 0.78125, 3.0]))


def test_double_dqn_uses_online_argmax():
    online = jnp.array([[0.0, 1.0], [2.0, 0.5], [5.0, 3.0]])
    target = jnp.array([[1.0, 4.0], [0.0, -1.0], [2.0, 2.5]])
    _, abs_td = td_loss(online, target, _table_apply, _table_batch(), 0.5, double_dqn=True)
    # s'=1: online argmax 0 -> target 0.0 ; s'=2: online argmax 0 -> target 2.0
    np.testing.assert_allclose(abs_td, [abs(1.0 + 0.0 - 0.0), abs(-2.0 + 1.0 - 0.5), abs(0.5 - 3.0)], rtol=1e-6)


def test_td_loss_gradients_are_finite_and_stop_at_target():
    online = jnp.array([[0.0, 1.0], [2.0, 0.5], [1.0, 3.0]])
    target = jnp.array([[1.0, 4.0], [0.0, -1.0], [2.0, 2.5]])
    g_online, g_target = jax.grad(lambda o, t: td_loss(o, t, _table_apply, _table_batch(), 0.9)[0], (0, 1))(online, target)
    assert np.all(np.isfinite(g_online))
    assert np.all(np.asarray(g_target) == 0)


def test_td_functions_vmap_and_jit():
    q = jnp.ones((4, 3))
    out = jax.jit(jax.vmap(q_learning_td))(q, jnp.zeros(4, jnp.int32), jnp.ones(4), jnp.full(4, 0.5), q)
    np.testing.assert_allclose(out, np.full(4, 0.5))
