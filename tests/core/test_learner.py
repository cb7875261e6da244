import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core.learner import (flush, get_learning_rate, init_learner, make_optimizer, make_train_step, make_update,
                                 set_learning_rate)
from jaxdqn.core.networks import make_network
from jaxdqn.core.replay import example_transition, make_prioritized_buffer
from tests.support.helpers import SMALL_SPEC, random_transitions


def _setup(lr=1e-3):
    net = make_network(SMALL_SPEC)
    opt = make_optimizer(lr)
    state = init_learner(jax.random.PRNGKey(0), net, opt)
    return net, opt, state


def test_repeated_updates_on_fixed_batch_lower_the_loss():
    net, opt, state = _setup(lr=3e-3)
    update = make_update(net, opt, gamma=0.9, target_update_period=1000)
    batch = random_transitions(np.random.default_rng(0), SMALL_SPEC, 32)
    losses = []
    for _ in range(100):
        state, metrics = update(state, batch, None)
        losses.append(float(metrics.loss))
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0]
    assert metrics.abs_td.shape == (32,)
    assert int(state.step) == 100


def test_no_retrace_over_100_updates_while_learning_rate_changes():
    traces = []
    net = make_network(SMALL_SPEC)

    def counting_apply(params, obs):
        traces.append(1)  # runs only while tracing
        return net.apply(params, obs)

    opt = make_optimizer(1e-3)
    state = init_learner(jax.random.PRNGKey(0), net, opt)
    update = make_update(net._replace(apply=counting_apply), opt, gamma=0.9, target_update_period=7)
    batch = random_transitions(np.random.default_rng(0), SMALL_SPEC, 16)
    weights = jnp.ones(16)
    lr = 1e-3
    for _ in range(100):
        state, _ = update(state, batch, weights)
        lr *= 0.99
        state = state._replace(opt_state=set_learning_rate(state.opt_state, lr))
    assert len(traces) == 2  # one trace = online + target forward passes
    assert get_learning_rate(state.opt_state) == pytest.approx(lr, rel=1e-6)


def test_target_is_hard_copied_every_period():
    net, opt, state = _setup()
    update = make_update(net, opt, gamma=0.9, target_update_period=3)
    batch = random_transitions(np.random.default_rng(0), SMALL_SPEC, 8)
    initial_target = jax.tree.map(np.asarray, state.target_params)
    for i in range(1, 7):
        state, _ = update(state, batch, None)
        same_as_online = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(state.target_params)))
        assert same_as_online == (i % 3 == 0), i
        if i < 3:
            assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(initial_target), jax.tree.leaves(state.target_params)))


def test_gradients_are_clipped_by_global_norm_before_adam():
    import optax
    params = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
    grads = [{"a": jnp.array([30.0, 40.0]), "b": jnp.array([0.0])},  # global norm 50
             {"a": jnp.array([0.3, -0.1]), "b": jnp.array([0.2])}]

    def run(opt):
        state, out = opt.init(params), None
        for g in grads:
            out, state = opt.update(g, state, params)
        return np.concatenate([np.asarray(out["a"]), np.asarray(out["b"])])

    ours = run(make_optimizer(0.1, max_grad_norm=1.0))
    clipped = run(optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1)))
    unclipped = run(optax.adam(0.1))
    np.testing.assert_allclose(ours, clipped, rtol=1e-4)
    assert not np.allclose(ours, unclipped, rtol=1e-3)


@pytest.mark.parametrize("scale", [0.0, 0.01, 100.0])
def test_scalar_factor_clip_matches_optax_and_keeps_its_state(scale):
    import optax

    from jaxdqn.core.learner import clip_by_global_norm
    rng = np.random.default_rng(1)
    grads = {"w": jnp.asarray(rng.normal(size=(7, 3)) * scale, jnp.float32), "b": jnp.asarray(rng.normal(size=3) * scale)}
    ours, state = clip_by_global_norm(1.0).update(grads, clip_by_global_norm(1.0).init(grads))
    theirs, their_state = optax.clip_by_global_norm(1.0).update(grads, optax.clip_by_global_norm(1.0).init(grads))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert type(state) is type(their_state)


@pytest.mark.slow
def test_fused_train_step_updates_priorities_and_does_not_retrace():
    net, opt, state = _setup()
    buffer = make_prioritized_buffer(64)
    rng = np.random.default_rng(3)
    buf = buffer.init(example_transition(SMALL_SPEC.empty_observation()))
    buf = buffer.add(buf, random_transitions(rng, SMALL_SPEC, 40))
    step = make_train_step(net, opt, buffer, batch_size=16, gamma=0.9, target_update_period=5)
    chunk = random_transitions(rng, SMALL_SPEC, 4)
    pending = None
    for i in range(20):
        state, buf, metrics, pending = step(state, buf, jax.random.PRNGKey(i), chunk, pending)
    assert step._cache_size() == 2  # the first call has no pending priorities, the rest do
    buf = flush(buffer, buf, pending)
    assert int(buf.ring.size) == 64
    assert np.isfinite(float(metrics.loss))
    # priorities moved away from the initial 1.0 for sampled items
    leaves = np.asarray(buf.maxima.levels[0])[:64]
    assert np.any(np.abs(leaves - 1.0) > 1e-3)


@pytest.mark.slow
def test_pending_priorities_match_immediate_writes():
    """Writing priorities one call late samples exactly what an immediate write would."""
    net, opt, state = _setup()
    buffer = make_prioritized_buffer(32)
    rng = np.random.default_rng(5)
    buf = buffer.add(buffer.init(example_transition(SMALL_SPEC.empty_observation())),
                     random_transitions(rng, SMALL_SPEC, 32))
    update = make_update(net, opt, gamma=0.9, target_update_period=5)
    step = make_train_step(net, opt, buffer, batch_size=8, gamma=0.9, target_update_period=5)
    ref_state, ref_buf = state, buf
    state = jax.tree.map(jnp.copy, state)
    buf = jax.tree.map(jnp.copy, buf)
    pending = None
    for i in range(6):
        key = jax.random.PRNGKey(i)
        batch, idx, w = buffer.sample(ref_buf, key, 8)
        ref_state, m = update(ref_state, batch, w)
        ref_buf = buffer.update(ref_buf, idx, m.abs_td)
        state, buf, metrics, pending = step(state, buf, key, None, pending)
        np.testing.assert_allclose(metrics.loss, m.loss, rtol=1e-5)
    buf = flush(buffer, buf, pending)
    for level, ref_level in zip(buf.sums.levels, ref_buf.sums.levels):
        np.testing.assert_allclose(level, ref_level, rtol=1e-5)


def test_sync_target_copies_into_fresh_buffers():
    from jaxdqn.core.learner import sync_target
    net, opt, state = _setup()
    update = make_update(net, opt, gamma=0.9, target_update_period=None)
    batch = random_transitions(np.random.default_rng(0), SMALL_SPEC, 8)
    state, _ = update(state, batch, None)
    synced = sync_target(state)
    for a, b in zip(jax.tree.leaves(synced.params), jax.tree.leaves(synced.target_params)):
        np.testing.assert_array_equal(a, b)
    state, _ = update(synced, batch, None)  # donating the synced state works
    assert not np.array_equal(jax.tree.leaves(state.params)[0], jax.tree.leaves(state.target_params)[0])


def test_all_finite_checks_every_leaf():
    from jaxdqn.core.learner import all_finite
    tree = {"a": jnp.ones((3, 2)), "b": [jnp.zeros(4), jnp.arange(3.0)]}
    assert bool(all_finite(tree))
    for bad in (jnp.nan, jnp.inf, -jnp.inf):
        assert not bool(all_finite({**tree, "b": [jnp.zeros(4), jnp.array([0.0, bad, 1.0])]}))


def test_make_update_has_defaults_and_can_keep_the_callers_state():
    net = make_network(SMALL_SPEC)
    opt = make_optimizer(1e-3)
    batch = random_transitions(np.random.default_rng(0), SMALL_SPEC, 8)
    state = init_learner(jax.random.PRNGKey(0), net, opt)
    kept = make_update(net, opt, donate=False)  # gamma 0.99, the target left to the caller
    new, _ = kept(state, batch, None)
    assert float(jnp.sum(jax.tree.leaves(state.params)[0])) == float(jnp.sum(jax.tree.leaves(state.params)[0]))
    donating = make_update(net, opt)
    donating(state, batch, None)
    with pytest.raises(RuntimeError, match="deleted"):
        jax.tree.leaves(state.params)[0] + 1  # donated: the caller's arrays are gone, as documented
    assert int(new.step) == 1
