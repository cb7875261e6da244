"""The compiled loop's core: a whole run as a pure function, seeds side by side, the host's schedules."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core import Settings, TrainConfig, game_spec, make_runner, make_train
from jaxdqn.core.networks import make_network
from jaxdqn.core.rows import board_rows, to_stored
from tests.support.games.paint import paint_jax

SMALL = Settings(batch_size=8, memory_capacity=300, target_update_freq=20, learning_rate=1e-3, epsilon_decay=0.95,
                 rows_width=64)


def small(**changes) -> TrainConfig:
    return TrainConfig(paint_jax.JAX_GAME, SMALL._replace(**changes), episodes=12, hidden_sizes=(16,))


@pytest.mark.slow
def test_a_run_is_a_pure_function_and_vmapped_seeds_equal_seeds_one_at_a_time():
    """The same episodes; losses agree to float rounding (XLA may add a batched sum in another order)."""
    train = jax.jit(make_train(small()))
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    _, together = jax.jit(jax.vmap(make_train(small())))(keys)
    for i, key in enumerate(keys):
        _, alone = train(key)
        for name in ("episode_reward", "episode_length"):
            np.testing.assert_array_equal(together[name][i], alone[name])
        np.testing.assert_allclose(together["episode_loss"][i], alone["episode_loss"], rtol=1e-5)
    _, again = train(keys[0])
    np.testing.assert_array_equal(again["episode_reward"], together["episode_reward"][0])
    assert not np.array_equal(together["episode_reward"][0], together["episode_reward"][1])
    assert not bool(np.any(together["overflow"])) and np.all(np.asarray(together["episodes"]) >= 12)


@pytest.mark.slow
def test_schedules_per_episode_and_one_update_per_train_every_transitions():
    state, metrics = jax.jit(make_train(small(num_envs=3, train_every=2)))(jax.random.PRNGKey(1))
    episodes = int(state.episodes)
    assert float(state.epsilon) == pytest.approx(max(0.05, 0.95 ** episodes), rel=1e-5)
    trained = int(np.sum(np.asarray(metrics["episode_loss"]) > 0))
    assert 0 < trained <= 12
    # 3 games, one update per 2 transitions: 2 game steps then 3 updates per iteration, once replay holds a batch
    assert Settings(num_envs=3, train_every=2).steps_per_iteration == 2
    assert Settings(num_envs=3, train_every=2).updates_per_iteration == 3
    steps = episodes * 40  # every paint game lasts 40 turns, and all three run in lockstep
    iterations = steps // (2 * 3)
    assert int(state.learner.step) == 3 * (iterations - 1)  # the first iteration's 6 transitions are < a batch of 8
    np.testing.assert_array_equal(metrics["episode_length"], 40)


@pytest.mark.slow
def test_stored_rows_equal_the_host_row_lists_and_report_overflow():
    spec = game_spec(paint_jax.JAX_GAME, (16,))
    boards = np.zeros((3, 8, 8), np.uint8)
    boards[0, 0, :5] = 2
    boards[1, 3, 4] = 1
    boards[2] = 2  # 64 occupied cells
    obs = paint_jax.observe(paint_jax.reset(None)[0])
    batch = obs._replace(board=jnp.asarray(boards), extras=jnp.zeros((3, 0)))
    rows, overflow = to_stored(batch, spec, 16)
    assert bool(overflow)
    np.testing.assert_array_equal(rows.rows[:2], board_rows(boards[:2], spec, 16))
    _, fits = to_stored(batch, spec, 64)
    assert not bool(fits)


@pytest.mark.slow
def test_stacked_agents_one_at_a_time_run_the_iterations_of_lockstep():
    """Each chunk ends where lockstep ends (the agent with fewest episodes at its target, or the iteration
    budget), with the same clock and episodes; target periods of each agent's own too. Paint's episodes
    also end at random here, so the agents' episodes differ in length."""
    def step(state, action, key):
        state, obs, reward, done = paint_jax.JAX_GAME.step(state, action, key)
        return state, obs, reward, done | (jax.random.uniform(jax.random.fold_in(key, 7)) < 0.05)

    game = paint_jax.JAX_GAME._replace(name="paint, ending at random", step=step)
    network = make_network(game_spec(game, (16,)))
    runner = make_runner(game, network, SMALL, records=60)
    agents = jax.vmap(runner.init)(jax.random.split(jax.random.PRNGKey(1), 3))
    clock = runner.init_clock(np.array([20, 7, 50], np.int32))
    chunk = {apart: jax.jit(functools.partial(runner.run_chunk, one_at_a_time=apart)) for apart in (False, True)}
    runs = {apart: (agents, clock) for apart in chunk}
    for target, budget in ((4, 1000), (9, 3), (9, 1000)):
        out = {apart: chunk[apart](*runs[apart], target, budget) for apart in chunk}
        (lockstep, lockstep_clock, lockstep_ran), (apart, apart_clock, apart_ran) = out[False], out[True]
        assert int(apart_ran) == int(lockstep_ran) and (budget > 3 or int(apart_ran) == 3)
        for a, b in zip(apart_clock, lockstep_clock):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(apart.episodes, lockstep.episodes)
        for field in ("reward", "length", "count"):
            np.testing.assert_array_equal(getattr(apart.records, field), getattr(lockstep.records, field))
        np.testing.assert_allclose(apart.records.loss, lockstep.records.loss, rtol=1e-5)
        runs = {False: out[False][:2], True: out[True][:2]}
    assert int(np.min(lockstep.episodes)) >= 9 and len(set(np.asarray(lockstep.episodes).tolist())) > 1


@pytest.mark.slow
def test_a_chunk_stops_at_an_overflow_before_storing_it():
    network = make_network(game_spec(paint_jax.JAX_GAME, (16,)))
    runner = make_runner(paint_jax.JAX_GAME, network, SMALL._replace(rows_width=16), records=50)
    agents = jax.tree.map(lambda x: x[None], runner.init(jax.random.PRNGKey(0)))
    agents, clock, iterations = jax.jit(runner.run_chunk)(agents, runner.init_clock(), 100, 1000)
    assert bool(agents.overflow[0]) and int(iterations) < 1000  # paint fills more than 16 cells


@pytest.mark.slow
def test_by_default_a_pure_run_stores_lists_no_board_outgrows_and_trains_as_with_wide_enough_lists():
    """Settings.rows_width None: paint's 8 x 8 board as lists of 64 entries (never an overflow), the same run
    as lists of 64 chosen by hand; a network of your own and a dense start board get boards."""
    default_state, default = jax.jit(make_train(small(rows_width=None)))(jax.random.PRNGKey(0))
    chosen_state, chosen = jax.jit(make_train(small(rows_width=64)))(jax.random.PRNGKey(0))
    assert default_state.obs.rows.shape == (1, 64) and not bool(default["overflow"])
    np.testing.assert_array_equal(default["episode_reward"], chosen["episode_reward"])
    for a, b in zip(jax.tree.leaves(default_state.learner.params), jax.tree.leaves(chosen_state.learner.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    spec = game_spec(paint_jax.JAX_GAME, (16,))
    unset = SMALL._replace(rows_width=None)
    assert make_runner(paint_jax.JAX_GAME, make_network(spec), unset, 10).settings.rows_width == 64
    own = make_network(spec, OwnNetwork(spec.num_actions))
    assert make_runner(paint_jax.JAX_GAME, own, unset, 10).settings.rows_width == 0
    full = paint_jax.JAX_GAME._replace(reset=lambda key: (paint_jax.reset(key)[0], paint_jax.reset(key)[1]._replace(
        board=jnp.full((8, 8), 2, jnp.uint8))))
    assert make_runner(full, make_network(spec), unset, 10).settings.rows_width == 0


class OwnNetwork(nn.Module):
    actions: int

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(self.actions)(obs.board.reshape(obs.board.shape[0], -1).astype(jnp.float32))
