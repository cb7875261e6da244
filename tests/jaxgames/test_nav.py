"""JAX nav against retro's nav, step by step, and its own randomness."""
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from retro.examples import nav as retro_nav

from jaxdqn.games.encoding import ObservationEncoder
from jaxdqn.games.env import GameEnv
from jaxdqn.jaxgames import nav as N
from jaxdqn.jaxgames.protocol import contract_problems, step_and_reset

ENCODER = ObservationEncoder(board_size=(25, 25), character_set=N.CHARACTER_SET)
advance = jax.jit(N.advance)


def recording_randint(monkeypatch, rng):
    """The retro game's draws, taken from ``rng`` and kept for the JAX turn."""
    drawn = []

    def randint(a, b):
        drawn.append(rng.randint(a, b))
        return drawn[-1]
    monkeypatch.setattr(retro_nav, "randint", randint)
    return drawn


def dodge(game, rng, care, turn):
    """Toward the column whose nearest falling asteroid is farthest away; at random otherwise; or (care
    0) sweeping from edge to edge."""
    if care == 0:
        return 0 if (turn // 40) % 2 == 0 else 1
    if rng.random() > care:
        return rng.randrange(3)
    ship_x = game.get_agent_by_name("ship").position[0]
    rows = {}
    for agent in game.agents:
        if isinstance(agent, retro_nav.Asteroid):
            x, y = agent.position
            rows[x] = max(rows.get(x, -1), y)
    options = []
    for action, column in ((0, ship_x - 1), (1, ship_x + 1), (2, ship_x)):
        if 0 <= column < N.WIDTH:
            lowest = rows.get(column, -1)
            blocked = lowest == N.HEIGHT - 1 and action < 2
            options.append((-1000 if blocked else (N.HEIGHT - lowest) + 3 * min(column, N.WIDTH - 1 - column) / N.WIDTH
                            + rng.random(), action))
    return max(options)[1]


def asteroid_rows(game):
    return {id(a): a.position[1] for a in game.agents if isinstance(a, retro_nav.Asteroid)}


@pytest.mark.slow
def test_jax_nav_equals_retro_nav_for_20000_steps(monkeypatch):
    drawn = recording_randint(monkeypatch, random.Random(0))
    env = GameEnv(retro_nav.create_game, N.ACTIONS, "score", ENCODER)
    rng = random.Random(1)
    steps = spawned = left = skipped = longest = edge_bumps = 0
    crashes = {"ship moved into one": 0, "one fell on the ship": 0}
    while steps < 20_000:
        retro_obs = env.reset()
        state = N.new_game()
        np.testing.assert_array_equal(N.observe(state).board, retro_obs.board)
        care = rng.choice([0, 0.5, 0.97, 1.0])
        for turn in range(1, 4000):
            action = dodge(env.game, rng, care, turn)
            before = asteroid_rows(env.game)
            ship_x = env.game.get_agent_by_name("ship").position[0]
            target = ship_x + (-1 if action == 0 else 1)
            into = action < 2 and 0 <= target < N.WIDTH and retro_obs.board[N.HEIGHT - 1, target] != 0
            drawn.clear()
            retro_obs, retro_reward, retro_done = env.step(action)
            roll, spawn_x = drawn[0], (drawn[1] if len(drawn) > 1 else 0)
            state, obs, reward, done = advance(state, action, roll, spawn_x)
            steps += 1
            mismatch = np.argwhere(np.asarray(obs.board) != retro_obs.board)
            assert mismatch.size == 0, f"step {steps} (turn {turn}): cells (y, x) differ: {mismatch.tolist()}"
            assert (float(reward), bool(done)) == (retro_reward, retro_done), f"step {steps} (turn {turn})"
            after = asteroid_rows(env.game)
            spawned += len(drawn) > 1
            edge_bumps += (action == 0 and ship_x == 0) or (action == 1 and ship_x == N.WIDTH - 1)
            if turn % 2 == 0 and not retro_done:
                left += sum(k not in after for k in before)
                skipped += sum(k in after and after[k] == y for k, y in before.items())
            if retro_done:
                crashes["ship moved into one" if into else "one fell on the ship"] += 1
                longest = max(longest, turn)
                break
    # what this run covers (printed with -s; the closing note quotes it)
    print(f"\nparity: {steps} steps, {spawned} asteroids, {left} left the board, {skipped} skipped falls, "
          f"{edge_bumps} moves against an edge, longest game {longest} turns, crashes {crashes}")
    assert longest > 1000 and skipped > 50 and edge_bumps > 20 and min(crashes.values()) >= 5


def test_an_asteroid_after_one_that_leaves_skips_its_fall():
    state = N.new_game()
    # list order: slot 0 on the bottom row, slot 1 higher up, slot 2 on the bottom row, slot 3, slot 4
    rows = jnp.array([24, 10, 24, 24, 5] + [0] * (N.SLOTS - 5))
    state = state._replace(x=jnp.arange(N.SLOTS) % 20, y=rows, alive=jnp.arange(N.SLOTS) < 5,
                           spawned=jnp.int32(5), turn=jnp.int32(1))
    state, _, reward, done = advance(state, 2, 1000, 0)  # turn 2: no asteroid appears (1000 >= 2)
    # slot 0 leaves, slot 1 is skipped, slot 2 leaves, slot 3 is skipped (stays on the bottom row), slot 4 falls
    assert np.asarray(state.alive)[:5].tolist() == [False, True, False, True, True]
    assert np.asarray(state.y)[[1, 3, 4]].tolist() == [10, 24, 6]
    assert float(reward) == 1 and not bool(done)


def test_which_asteroids_play_matches_a_pass_over_the_list_for_any_ring():
    rng = np.random.default_rng(0)
    games = 3000
    bottom = rng.random((games, N.SLOTS)) < rng.random((games, 1))
    alive = rng.random((games, N.SLOTS)) < rng.random((games, 1))
    oldest = rng.integers(0, N.SLOTS, games)
    played = np.asarray(jax.jit(jax.vmap(N.plays))(jnp.asarray(bottom), jnp.asarray(alive), jnp.asarray(oldest)))
    for g in range(games):
        left, expected = False, np.zeros(N.SLOTS, bool)
        for offset in range(N.SLOTS):  # list order: the oldest slot first, round the ring
            slot = (oldest[g] + offset) % N.SLOTS
            expected[slot] = not left
            if alive[g, slot]:
                left = expected[slot] and bottom[g, slot]
        assert (played[g] == expected).all(), g


def test_asteroids_appear_more_often_as_turns_pass():
    def spawned_at(turn, key):
        state = N.new_game()._replace(turn=jnp.int32(turn - 1))
        return N.step(state, 2, key)[0].spawned
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    for turn in (11, 501, 1000, 1500):
        rate = float(jax.jit(jax.vmap(lambda k: spawned_at(turn, k)))(keys).mean())
        assert abs(rate - min(turn / 1001, 1.0)) < 0.015, (turn, rate)


def test_the_game_keeps_the_protocol_and_restarts_after_a_crash():
    assert contract_problems(N.JAX_GAME) == []
    state = N.new_game()
    state = state._replace(x=state.x.at[0].set(11), y=state.y.at[0].set(24), alive=state.alive.at[0].set(True),
                           spawned=jnp.int32(1), board=state.board.at[24, 11].set(N.ASTEROID))
    out = jax.jit(lambda s, k: step_and_reset(N.JAX_GAME, s, jnp.int32(0), k))(state, jax.random.PRNGKey(1))
    assert bool(out.done) and float(out.reward) == -9
    assert int(np.asarray(out.final_obs.board)[24, 12]) == 0  # the crashed ship is drawn as '*'
    np.testing.assert_array_equal(out.obs.board, N.observe(N.new_game()).board)
