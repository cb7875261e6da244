"""JAX snake against retro's snake, step by step, and its own randomness."""
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from retro.examples import snake as retro_snake

from jaxdqn.games.encoding import ObservationEncoder
from jaxdqn.games.env import GameEnv
from jaxdqn.jaxgames import snake as S
from jaxdqn.jaxgames.protocol import step_and_reset

ENCODER = ObservationEncoder(board_size=(32, 16), character_set=S.CHARACTER_SET,
                             observe_state=["apple_dx", "apple_dy"], observe_state_sizes={"apple_dx": 1, "apple_dy": 1})
DIRECTION = {(1, 0): 0, (0, -1): 1, (-1, 0): 2, (0, 1): 3}


@jax.jit
def advance_to(state, action, apple_cell):
    """A JAX turn whose eaten apple goes where the retro game put it; also whether JAX saw that cell free."""
    seen = {}

    def place(board, row_bits):
        drawn = (board.reshape(16, 32) > 0).astype(jnp.uint32) << jnp.arange(32, dtype=jnp.uint32)
        seen["free"] = (board[apple_cell] == 0) & jnp.all(row_bits == drawn.sum(1, dtype=jnp.uint32))
        return apple_cell
    state, obs, reward, done = S.advance(state, action, place)
    return state, obs, reward, done, seen["free"]


def from_retro(game):
    head, apple = game.get_agent_by_name("Snake head"), game.get_agent_by_name("Apple")
    return S.new_game(jnp.int32(head.position[0]), jnp.int32(head.position[1]), DIRECTION[head.direction],
                      apple.position[1] * S.WIDTH + apple.position[0])


def assert_same(jax_obs, retro_obs, where):
    mismatch = np.argwhere(np.asarray(jax_obs.board) != retro_obs.board)
    assert mismatch.size == 0, f"{where}: board cells (y, x) differ: {mismatch.tolist()}"
    np.testing.assert_array_equal(np.asarray(jax_obs.extras), retro_obs.extras, err_msg=where)


def choose(game, rng, mode, turn):
    """Mostly toward the apple while avoiding immediate death, sometimes at random, sometimes circling
    until the energy runs out, sometimes straight on into a wall."""
    head, apple = game.get_agent_by_name("Snake head"), game.get_agent_by_name("Apple")
    (hx, hy), (ax, ay) = head.position, apple.position
    if mode < 0.1:
        return [1, 2, 3, 0][(turn // 2) % 4] if turn % 2 == 0 else 4
    if mode < 0.2:
        return 4
    if rng.random() < (0.1 if mode < 0.5 else 0.01):
        return rng.randrange(5)
    options = []
    for action, (dx, dy) in enumerate([(1, 0), (0, -1), (-1, 0), (0, 1)]):
        nx, ny = hx + dx, hy + dy
        safe = game.on_board((nx, ny)) and (game.is_empty((nx, ny)) or (nx, ny) == (ax, ay))
        room = sum(game.on_board((nx + ex, ny + ey)) and game.is_empty((nx + ex, ny + ey))
                   for ex, ey in [(1, 0), (0, -1), (-1, 0), (0, 1)])
        options.append((abs(nx - ax) + abs(ny - ay) - (100 if safe else -1000) + (30 if room == 0 else 0)
                        + rng.random(), action))
    return min(options)[1]


@pytest.mark.slow
def test_jax_snake_equals_retro_snake_for_20000_steps():
    env = GameEnv(retro_snake.create_game, S.ACTIONS, "reward", ENCODER)
    random.seed(0)  # the retro game draws from the global generator
    rng = random.Random(0)
    steps = eats = longest = 0
    deaths = {"wall": 0, "body": 0, "starved": 0}
    while steps < 20_000:
        retro_obs = env.reset()
        game = env.game
        state = from_retro(game)
        assert_same(S.observe(state), retro_obs, f"start of a game at step {steps}")
        mode = rng.random()
        for turn in range(2000):
            action = choose(game, rng, mode, turn)
            head, apple = game.get_agent_by_name("Snake head"), game.get_agent_by_name("Apple")
            old_apple, old_head = apple.position, head.position
            retro_obs, retro_reward, retro_done = env.step(action)
            new_apple = apple.position
            state, jax_obs, reward, done, free = advance_to(state, action, new_apple[1] * S.WIDTH + new_apple[0])
            steps += 1
            if new_apple != old_apple:
                eats += 1
                assert bool(free), f"step {steps}: the retro apple went where JAX sees no free cell"
            assert_same(jax_obs, retro_obs, f"step {steps}")
            assert (float(reward), bool(done)) == (retro_reward, retro_done), f"step {steps}"
            longest = max(longest, int(state.length) + 1)
            if retro_done:
                nxt = (old_head[0] + head.direction[0], old_head[1] + head.direction[1])
                kind = "starved" if game.state["energy"] <= 0 else ("wall" if not game.on_board(nxt) else "body")
                deaths[kind] += 1
                break
    # what this run covers (printed with -s; the closing note quotes it)
    print(f"\nparity: {steps} steps, {eats} apples eaten, longest snake {longest}, deaths {deaths}")
    assert eats > 500 and longest >= 30 and min(deaths.values()) >= 5


def test_an_apple_eaten_on_the_first_turn_may_land_under_the_head(monkeypatch):
    """retro-games' position cache still has the apple at (0, 0) on the first turn, so the new apple may be
    placed on the cell the head just moved to; the port does the same."""
    draws = iter([5, 5, 6, 5, 6, 5, 20, 10])  # head (5, 5); the apple at (6, 5), again (6, 5), then (20, 10)
    monkeypatch.setattr(retro_snake, "randint", lambda a, b: next(draws))
    monkeypatch.setattr(retro_snake, "choice", lambda options: options[0])  # heading right
    env = GameEnv(retro_snake.create_game, S.ACTIONS, "reward", ENCODER)
    retro_obs = env.reset()
    state = from_retro(env.game)
    assert_same(S.observe(state), retro_obs, "start")
    assert retro_obs.board[0, 0] == S.APPLE  # the first observation shows the apple where the cache has it
    for turn, action in enumerate([4, 4, 4, 3, 2, 2, 1]):  # eat, then turn round and come back to eat it again
        apple = env.game.get_agent_by_name("Apple")
        retro_obs, retro_reward, retro_done = env.step(action)
        cell = apple.position[1] * S.WIDTH + apple.position[0]
        state, jax_obs, reward, done, free = advance_to(state, action, cell)
        assert_same(jax_obs, retro_obs, f"turn {turn + 1}")
        assert (float(reward), bool(done)) == (retro_reward, retro_done)
    assert env.game.get_agent_by_name("Apple").position == (20, 10) and int(state.length) == 2


def test_apples_are_placed_uniformly_on_free_cells():
    state = S.new_game(jnp.int32(10), jnp.int32(7), 0, 7 * S.WIDTH + 11)  # the apple right ahead
    board = state.board.at[jnp.arange(40, 120)].set(S.BODY)  # a long body, as drawn
    drawn = (board.reshape(16, 32) > 0).astype(jnp.uint32) << jnp.arange(32, dtype=jnp.uint32)
    state = state._replace(board=board, row_bits=drawn.sum(1, dtype=jnp.uint32))
    keys = jax.random.split(jax.random.PRNGKey(0), 60_000)
    new = jax.jit(jax.vmap(lambda k: S.step(state, 4, k)[0].apple))(keys)
    counts = np.bincount(np.asarray(new), minlength=S.CELLS)
    occupied = np.zeros(S.CELLS, bool)
    occupied[40:120] = True
    occupied[[0, 7 * S.WIDTH + 10]] = True  # where the first board draws the apple, and the head's old cell
    assert counts[occupied].sum() == 0
    free = counts[~occupied]
    expected = len(new) / free.size
    chi2 = ((free - expected) ** 2 / expected).sum()
    assert chi2 < free.size + 4 * np.sqrt(2 * free.size)  # about 4 standard deviations of chi-square(df)


@pytest.mark.slow
def test_vmapped_games_diverge_with_different_keys_and_repeat_with_equal_keys():
    def play(key):
        def body(carry, key):
            state, total = carry
            k1, k2 = jax.random.split(key)
            out = step_and_reset(S.JAX_GAME, state, jax.random.randint(k1, (), 0, 5), k2)
            return (out.state, total + out.reward), out.obs.board.sum()
        state, _ = S.reset(key)
        (_, total), boards = jax.lax.scan(body, (state, 0.0), jax.random.split(key, 300))
        return total, boards
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    totals, boards = jax.jit(jax.vmap(play))(jnp.concatenate([keys, keys[:2]]))
    assert len(set(np.asarray(totals[:8]).tolist())) > 4
    np.testing.assert_array_equal(totals[8:], totals[:2])
    np.testing.assert_array_equal(boards[8:], boards[:2])


def test_a_finished_game_is_replaced_and_its_final_observation_kept():
    state, _ = S.reset(jax.random.PRNGKey(3))
    state = state._replace(head=jnp.int32(5 * S.WIDTH + 31), direction=jnp.int32(0))  # facing the right wall
    out = jax.jit(lambda s, k: step_and_reset(S.JAX_GAME, s, jnp.int32(4), k))(state, jax.random.PRNGKey(4))
    assert bool(out.done) and float(out.reward) == -10
    assert int(out.state.length) == 0 and int(out.state.energy) == S.ENERGY  # a fresh game
    assert not np.array_equal(np.asarray(out.obs.board), np.asarray(out.final_obs.board))
    fresh = S.reset(jax.random.split(jax.random.PRNGKey(4))[1])[1]
    np.testing.assert_array_equal(out.obs.board, fresh.board)


def test_new_games_start_like_the_retro_game():
    states, obs = jax.jit(jax.vmap(S.reset))(jax.random.split(jax.random.PRNGKey(2), 50_000))
    x, y = np.asarray(states.head) % S.WIDTH, np.asarray(states.head) // S.WIDTH
    assert x.min() == 1 and x.max() == S.WIDTH - 2 and y.min() == 1 and y.max() == S.HEIGHT - 2
    assert set(np.asarray(states.direction).tolist()) == {0, 1, 2, 3}
    apple = np.asarray(states.apple)
    assert not np.any(apple == 0) and not np.any(apple == np.asarray(states.head))
    counts = np.bincount(apple, minlength=S.CELLS)[1:]
    assert counts.min() > 0.5 * counts.mean() and counts.max() < 1.6 * counts.mean()
    assert np.all(np.asarray(obs.board)[:, 0, 0] == S.APPLE)  # drawn where the cache has it
