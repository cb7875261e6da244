import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdqn.core import sum_tree
from jaxdqn.core.replay import bytes_per_transition, example_transition, make_prioritized_buffer, make_uniform_buffer
from tests.support.helpers import SMALL_SPEC, random_transitions

EXAMPLE = example_transition(SMALL_SPEC.empty_observation())


def _numbered(n, start=0):
    rng = np.random.default_rng(start)
    t = random_transitions(rng, SMALL_SPEC, n)
    return t._replace(reward=jnp.arange(start, start + n, dtype=jnp.float32))


def test_ring_wraparound_keeps_exactly_the_newest_capacity_items():
    buffer = make_uniform_buffer(10)
    state = buffer.init(EXAMPLE)
    add = jax.jit(buffer.add)
    total = 0
    for n in (4, 4, 4, 4, 7):  # 23 items through a 10-slot ring
        state = add(state, _numbered(n, total))
        total += n
    assert int(state.size) == 10 and int(state.position) == 23 % 10
    assert sorted(np.asarray(state.data.reward).tolist()) == list(range(13, 23))


def test_uniform_sample_only_returns_stored_items():
    buffer = make_uniform_buffer(100)
    state = buffer.add(buffer.init(EXAMPLE), _numbered(5))
    batch, indices, weights = jax.jit(buffer.sample, static_argnums=2)(state, jax.random.PRNGKey(0), 64)
    assert set(np.asarray(indices).tolist()) <= set(range(5))
    np.testing.assert_array_equal(batch.reward, indices.astype(np.float32))
    np.testing.assert_array_equal(weights, 1.0)


def test_prioritized_sampling_frequencies_match_p_alpha():
    alpha = 0.6
    buffer = make_prioritized_buffer(8, alpha=alpha, beta=0.4)
    state = buffer.add(buffer.init(EXAMPLE), _numbered(6))
    td = jnp.array([0.1, 1.0, 2.0, 4.0, 0.5, 3.0])
    state = buffer.update(state, jnp.arange(6), td)
    sample = jax.jit(buffer.sample, static_argnums=2)
    counts = np.zeros(6)
    n_draws = 0
    for i in range(40):
        _, idx, _ = sample(state, jax.random.PRNGKey(i), 1000)
        counts += np.bincount(np.asarray(idx), minlength=6)
        n_draws += 1000
    p = (np.asarray(td) + 1e-6) ** alpha
    expected = p / p.sum() * n_draws
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.5  # 99.9% quantile of chi-square with 5 degrees of freedom


@pytest.mark.slow
def test_importance_weights_follow_the_formula():
    alpha, beta = 0.6, 0.4
    buffer = make_prioritized_buffer(16, alpha=alpha, beta=beta)
    state = buffer.add(buffer.init(EXAMPLE), _numbered(5))
    td = np.array([0.3, 1.5, 2.0, 0.01, 7.0], np.float32)
    state = buffer.update(state, jnp.arange(5), jnp.asarray(td))
    _, idx, weights = buffer.sample(state, jax.random.PRNGKey(0), 32)
    p = (td.astype(np.float64) + 1e-6) ** alpha
    probs = p / p.sum()
    w = (5 * probs[np.asarray(idx)]) ** -beta
    np.testing.assert_allclose(weights, w / w.max(), rtol=1e-4)


def test_new_items_get_exact_current_max_priority():
    buffer = make_prioritized_buffer(16)
    state = buffer.add(buffer.init(EXAMPLE), _numbered(3))
    assert float(sum_tree.total(state.maxima, jnp.max)) == 1.0  # empty buffer: 1.0
    state = buffer.update(state, jnp.arange(3), jnp.array([0.2, 2.7182817, 0.4]))
    state = buffer.add(state, _numbered(2, 3))
    np.testing.assert_allclose(sum_tree.leaves(state.maxima, jnp.array([3, 4])), 2.7182817 + 1e-6, rtol=1e-7)
    # when the maximum goes down, the next new item gets the new (lower) maximum
    state = buffer.update(state, jnp.arange(5), jnp.array([0.1, 0.2, 0.3, 0.4, 0.5]))
    state = buffer.add(state, _numbered(1, 5))
    np.testing.assert_allclose(sum_tree.leaves(state.maxima, jnp.array([5])), 0.5 + 1e-6, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    capacity=st.sampled_from([1, 5, 64, 65, 300, 4097]),
    updates=st.lists(st.tuples(st.integers(0, 5000), st.just(0.0) | st.floats(1e-6, 1e3)), min_size=1, max_size=40),
    reduce=st.sampled_from(["sum", "max"]),
)
def test_tree_nodes_always_hold_the_sum_or_max_of_their_children(capacity, updates, reduce):
    fn = {"sum": jnp.sum, "max": jnp.max}[reduce]
    tree = sum_tree.init(capacity)
    assert isinstance(tree, sum_tree.Tree)
    assert [len(level) for level in tree.levels] == list(sum_tree.level_sizes(capacity))
    leaves = np.zeros(capacity, np.float32)
    set_leaves = jax.jit(sum_tree.set_leaves, static_argnums=3)
    for i, v in updates:
        i = i % capacity
        tree = set_leaves(tree, jnp.array([i]), jnp.array([v], jnp.float32), fn)
        leaves[i] = v
    np.testing.assert_array_equal(np.asarray(tree.levels[0])[:capacity], leaves)
    for child, parent in zip(tree.levels[:-1], tree.levels[1:]):
        blocks = np.asarray(child).reshape(-1, sum_tree.BRANCHING)
        expected = blocks.sum(1) if reduce == "sum" else blocks.max(1)
        np.testing.assert_allclose(np.asarray(parent)[:len(expected)], expected, rtol=1e-6)
    whole = leaves.astype(np.float64).sum() if reduce == "sum" else leaves.max()
    np.testing.assert_allclose(float(sum_tree.total(tree, fn)), whole, rtol=1e-5)


def test_tree_find_matches_a_prefix_sum_search_across_blocks():
    rng = np.random.default_rng(0)
    values = rng.random(5000).astype(np.float32) * (rng.random(5000) < 0.5)  # many empty leaves
    tree = sum_tree.set_leaves(sum_tree.init(5000), jnp.arange(5000), jnp.asarray(values))
    targets = rng.random(512).astype(np.float32) * float(sum_tree.total(tree))
    found = np.asarray(jax.jit(sum_tree.find)(tree, jnp.asarray(targets)))
    prefix = np.cumsum(values.astype(np.float64))
    expected = np.searchsorted(prefix, targets, side="right")
    # float32 block sums may move a target that sits within rounding of a boundary by one leaf
    assert np.mean(found == expected) > 0.99
    assert np.all(values[found] > 0)


def test_sum_tree_find_never_returns_an_empty_leaf():
    nodes = sum_tree.set_leaves(sum_tree.init(5), jnp.arange(5), jnp.array([1.0, 0.0, 2.0, 0.0, 1e-7]))
    idx = sum_tree.find(nodes, jnp.array([0.0, 0.999, 1.0, 2.9999, 3.0, 3.0000001, 1e9]))
    assert np.asarray(idx).tolist() == [0, 0, 2, 2, 4, 4, 4]


def test_sum_tree_sampling_vmaps_over_independent_trees():
    trees = jax.vmap(lambda v: sum_tree.set_leaves(sum_tree.init(4), jnp.arange(4), v))(
        jnp.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
    idx = jax.jit(jax.vmap(sum_tree.sample, in_axes=(0, 0, None)), static_argnums=2)(
        trees, jax.random.split(jax.random.PRNGKey(0), 2), 10)
    assert np.asarray(idx[0]).tolist() == [0] * 10 and np.asarray(idx[1]).tolist() == [3] * 10


def test_stored_bytes_per_transition_is_twentieth_of_reference():
    from jaxdqn.core.networks import NetworkSpec
    snake = NetworkSpec(16, 32, 6, 2, (128, 64), 5)
    reference_bytes = 2 * 4 * (16 * 32 * 6 + 2)  # two float32 observation vectors
    buffer = make_prioritized_buffer(1000)
    state = buffer.init(example_transition(snake.empty_observation()))
    assert bytes_per_transition(state) <= reference_bytes / 20
    # as the trainer stores an MLP's boards: lists of 16 occupied rows
    from jaxdqn.core.types import RowsObservation
    rows = RowsObservation(jnp.zeros((16,), jnp.int16), jnp.zeros((2,), jnp.float32))
    assert bytes_per_transition(buffer.init(example_transition(rows))) <= reference_bytes / 200


def test_add_checks_shapes_and_add_one_takes_a_single_transition():
    from tests.support.helpers import SMALL_SPEC
    buffer = make_prioritized_buffer(10)
    one = jax.tree.map(lambda x: x[0], random_transitions(np.random.default_rng(0), SMALL_SPEC, 1))
    state = buffer.init(example_transition(one.obs))
    with pytest.raises(ValueError, match="batch of transitions.*buffer.add_one"):
        buffer.add(state, one)  # used to store several copies, or nothing
    state = buffer.add_one(state, one)
    assert int(state.ring.size) == 1
    np.testing.assert_array_equal(state.ring.data.reward[0], one.reward)
    with pytest.raises(ValueError, match="shape"):
        buffer.add(state, random_transitions(np.random.default_rng(0), SMALL_SPEC._replace(num_extras=5), 2))
    state = jax.jit(buffer.add_one)(state, one)
    assert int(state.ring.size) == 2


@pytest.mark.parametrize("make", [make_uniform_buffer, make_prioritized_buffer])
def test_sampling_an_empty_buffer_is_an_error_or_weightless(make):
    from tests.support.helpers import SMALL_SPEC
    buffer = make(10)
    one = jax.tree.map(lambda x: x[0], random_transitions(np.random.default_rng(0), SMALL_SPEC, 1))
    state = buffer.init(example_transition(one.obs))
    with pytest.raises(ValueError, match="the buffer is empty"):
        buffer.sample(state, jax.random.PRNGKey(0), 4)
    _, _, weights = jax.jit(buffer.sample, static_argnames="batch_size")(state, jax.random.PRNGKey(0), batch_size=4)
    np.testing.assert_array_equal(weights, np.zeros(4))  # never NaN
    with pytest.raises(TypeError, match="static_argnames='batch_size'"):
        jax.jit(buffer.sample)(state, jax.random.PRNGKey(0), 4)


@pytest.mark.parametrize("make", [make_uniform_buffer, make_prioritized_buffer])
def test_add_where_not_valid_changes_nothing_and_where_valid_is_a_plain_add(make):
    buffer = make(8)
    state = buffer.add(buffer.init(EXAMPLE), _numbered(6))
    if make is make_prioritized_buffer:  # priorities other than the maximum, so writing them back shows
        state = buffer.update(state, jnp.arange(6), jnp.arange(6, dtype=jnp.float32) / 10)
    add = jax.jit(buffer.add)
    skipped = add(state, _numbered(4, 100), jnp.bool_(False))
    for a, b in zip(jax.tree.leaves(skipped), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(add(state, _numbered(4, 100), jnp.bool_(True))),
                    jax.tree.leaves(buffer.add(state, _numbered(4, 100)))):
        np.testing.assert_array_equal(a, b)
