"""JAX beast against retro's beast, step by step, and its own randomness."""
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from retro.examples import beast as retro_beast
from retro.examples.beast.agents import beast as retro_beast_agent
from scipy.stats import chisquare

from jaxdqn.games.encoding import ObservationEncoder
from jaxdqn.games.env import GameEnv
from jaxdqn.jaxgames import beast as B
from jaxdqn.jaxgames.protocol import contract_problems

ENCODER = ObservationEncoder(board_size=(40, 20), character_set=B.CHARACTER_SET)
advance = jax.jit(B.advance)
Beast = retro_beast_agent.Beast


class SharedDraws:
    """The beasts' random numbers for one turn, given to the retro beasts by their place in the list at the
    start of the game, as the JAX game takes them by slot."""

    def __init__(self, monkeypatch, rng):
        self.rng, self.slot, self.current = rng, {}, None
        self.draws = None
        monkeypatch.setattr(Beast, "should_move", lambda beast: self._value(beast, 0) < B.MOVE_PROBABILITY)
        monkeypatch.setattr(Beast, "should_move_randomly",
                            lambda beast: self._value(beast, 1) < B.RANDOM_MOVE_PROBABILITY)
        monkeypatch.setattr(retro_beast_agent, "choice", self._choice)

    def start(self, game):
        self.slot = {id(a): i for i, a in enumerate(a for a in game.agents if isinstance(a, Beast))}

    def next_turn(self, move_rate):
        values = np.asarray(self.rng.random((3, B.BEASTS)), np.float32)
        values[0] *= 0.03 / move_rate  # beasts move more often than the game's 3% where a test wants it
        self.draws = B.Draws(*values)
        return self.draws

    def _value(self, beast, which):
        self.current = self.slot[id(beast)]
        return float(self.draws[which][self.current])

    def _choice(self, options):
        return options[min(int(float(self.draws.choice[self.current]) * len(options)), len(options) - 1)]


def from_retro(game):
    """The JAX game laid out as the retro game is."""
    blocks = np.zeros(B.CELLS, np.uint8)
    for a in game.agents:
        if a.character == "█":
            blocks[a.position[1] * B.WIDTH + a.position[0]] += 1
    first = [game.get_agent_by_name("player")] + [a for a in game.agents if isinstance(a, Beast)]
    cells = [y * B.WIDTH + x for x, y in (a.position for a in first)]
    state = B.new_game(jnp.asarray(blocks), jnp.array(cells + [0] * (B.BEASTS + 1 - len(cells))))
    alive = jnp.arange(B.BEASTS) < len(cells) - 1  # a game laid out by hand may have fewer beasts
    board = B._draw(state.blocks, state.beast_x, state.beast_y, alive, state.player_x, state.player_y)
    return state._replace(alive=alive, board=board)


def chase(game, rng, mode):
    """At random, or toward the nearest beast (pushing whatever lies between), or along one edge."""
    (px, py) = game.get_agent_by_name("player").position
    if mode < 0.3 or rng.random() < 0.2:
        return rng.randrange(5)
    beasts = [a.position for a in game.agents if isinstance(a, Beast)]
    if mode < 0.4 or not beasts:
        return 2 if py % 2 else 0
    bx, by = min(beasts, key=lambda b: abs(b[0] - px) + abs(b[1] - py))
    if abs(bx - px) >= abs(by - py):
        return 0 if bx > px else 2
    return 3 if by > py else 1


@pytest.mark.slow
def test_jax_beast_equals_retro_beast_for_20000_steps(monkeypatch):
    random.seed(0)  # the board's shuffle draws from the global generator
    shared = SharedDraws(monkeypatch, np.random.default_rng(0))
    env = GameEnv(retro_beast.create_game, B.ACTIONS, "score", ENCODER)
    rng = random.Random(1)
    steps = pushes = crushed = beast_moves = games = 0
    endings = {"walked into a beast": 0, "caught": 0, "caught by several": 0}
    while steps < 20_000:
        retro_obs = env.reset()
        shared.start(env.game)
        state = from_retro(env.game)
        games += 1
        np.testing.assert_array_equal(B.observe(state).board, retro_obs.board, err_msg=f"start of game {games}")
        mode, move_rate = rng.random(), rng.choice([0.03, 0.3])
        for turn in range(1, 3000):
            action = chase(env.game, rng, mode)
            draws = shared.next_turn(move_rate)
            px, py = env.game.get_agent_by_name("player").position
            before = [(a.position, id(a)) for a in env.game.agents if isinstance(a, Beast)]
            target = (px + [1, 0, -1, 0, 0][action], py + [0, -1, 0, 1, 0][action])
            into_beast = action < 4 and target in [p for p, _ in before]
            blocks_before = sorted(a.position for a in env.game.agents if a.character == "█")
            retro_obs, retro_reward, retro_done = env.step(action)
            state, obs, reward, done = advance(state, action, draws)
            steps += 1
            mismatch = np.argwhere(np.asarray(obs.board) != retro_obs.board)
            assert mismatch.size == 0, f"step {steps} (game {games}, turn {turn}): cells (y, x) differ: " \
                                       f"{mismatch.tolist()}"
            assert (float(reward), bool(done)) == (retro_reward, retro_done), f"step {steps} (turn {turn})"
            after = {id(a): a.position for a in env.game.agents if isinstance(a, Beast)}
            pushes += blocks_before != sorted(a.position for a in env.game.agents if a.character == "█")
            crushed += len(before) - len(after)
            beast_moves += sum(k in after and after[k] != p for p, k in before)
            if retro_done:
                if into_beast:
                    endings["walked into a beast"] += 1
                else:
                    endings["caught by several" if retro_reward <= -20 else "caught"] += 1
                break
    print(f"\nparity: {steps} steps, {games} games, {pushes} pushes, {crushed} beasts crushed, "
          f"{beast_moves} beast moves, endings {endings}")
    assert pushes > 500 and crushed > 50 and beast_moves > 1000 and min(endings.values()) >= 3


def test_the_game_keeps_the_protocol_and_starts_like_the_retro_game():
    assert contract_problems(B.JAX_GAME) == []
    states, obs = jax.jit(jax.vmap(B.reset))(jax.random.split(jax.random.PRNGKey(0), 2000))
    boards = np.asarray(obs.board)
    assert np.all((boards == B.PLAYER).sum((1, 2)) == 1)
    assert np.all((boards == B.BEAST).sum((1, 2)) == B.BEASTS)
    assert np.all((boards == B.BLOCK).sum((1, 2)) == B.BLOCKS)
    share = (boards == B.BLOCK).mean(0)  # every cell as likely to hold a block
    assert share.min() > 0.3 - 0.06 and share.max() < 0.3 + 0.06


def test_boards_are_laid_out_uniformly():
    """The blocks on every cell about equally often; each piece on any cell equally likely, never on a block
    or another piece."""
    blocks, cells = jax.jit(jax.vmap(B.layout))(jax.random.split(jax.random.PRNGKey(3), 20_000))
    blocks, cells = np.asarray(blocks), np.asarray(cells)
    n = len(blocks)
    assert (blocks.sum(1) == B.BLOCKS).all()
    assert (np.diff(np.sort(cells, 1), axis=1) > 0).all()  # pieces apart
    assert not np.take_along_axis(blocks, cells, 1).any()  # and off the blocks
    share = B.BLOCKS / B.CELLS
    assert np.abs(blocks.sum(0) - n * share).max() < 5 * np.sqrt(n * share * (1 - share))
    for piece in (0, 1, B.BEASTS):  # the player, the first beast, the last
        for where, size in ((cells[:, piece] % B.WIDTH, B.WIDTH), (cells[:, piece] // B.WIDTH, B.HEIGHT)):
            assert chisquare(np.bincount(where, minlength=size)).pvalue > 1e-3


def test_the_largest_keys_are_found_without_a_sort_and_ties_go_to_the_larger_index():
    keys = jax.random.bits(jax.random.PRNGKey(4), (64, B.CELLS), jnp.uint32)
    found = np.asarray(jax.jit(jax.vmap(lambda k: B._largest(k, B.BLOCKS)))(keys))
    expected = np.zeros_like(found)
    np.put_along_axis(expected, np.argsort(np.asarray(keys), 1)[:, -B.BLOCKS:], True, 1)
    assert (found == expected).all()
    tied = np.full(B.CELLS, 7, np.uint32)
    tied[:100] = 9  # 100 above the tie, so 140 of the 700 tied keys: the last 140
    alone = np.asarray(B._largest(jnp.asarray(tied), B.BLOCKS))
    assert alone[:100].all() and alone[-140:].all() and alone.sum() == B.BLOCKS
    both = jax.vmap(lambda k: B._largest(k, B.BLOCKS))(jnp.stack([jnp.asarray(tied), keys[0]]))
    assert (np.asarray(both[0]) == alone).all() and (np.asarray(both[1]) == expected[0]).all()


def test_each_piece_takes_its_first_free_candidate_or_the_board_is_placed_again_by_its_keys():
    blocks = jnp.zeros((B.CELLS,), bool).at[:B.BLOCKS].set(True)
    keys = jax.random.bits(jax.random.PRNGKey(5), (B.CELLS,), jnp.uint32)
    pieces = B.BEASTS + 1
    free_cells = 300 + jnp.arange(pieces, dtype=jnp.int32)
    # each piece: a block first, then the cell the piece before it took, then its own free cell
    candidates = jnp.zeros((pieces, B.TRIES), jnp.int32).at[:, 2:].set(free_cells[:, None])
    candidates = candidates.at[1:, 1].set(free_cells[:-1])
    placed = B._pieces(blocks, candidates, keys)
    assert (np.asarray(placed) == np.asarray(free_cells)).all()
    stuck = candidates.at[4].set(0)  # the fifth piece finds only blocks
    by_keys = np.asarray(B._pieces(blocks, stuck, keys))
    free_keys = np.where(np.asarray(blocks), np.iinfo(np.uint32).max, np.asarray(keys))
    assert (by_keys == np.argsort(free_keys, kind="stable")[:pieces]).all()
    both = jax.vmap(B._pieces, in_axes=(None, 0, None))(blocks, jnp.stack([candidates, stuck]), keys)
    assert (np.asarray(both[0]) == np.asarray(placed)).all() and (np.asarray(both[1]) == by_keys).all()


def play_scripted(monkeypatch, layout, turns):
    """A retro game laid out by hand (``layout``: player, beasts and blocks as positions) played by both
    games for ``turns`` (action, beast move draws); each turn's observation, reward and ending compared."""
    from retro.examples.beast.agents.block import Block
    from retro.examples.beast.agents.player import Player
    from retro.game import Game
    player, beasts, blocks = layout

    def create_game():
        game = Game([Player(player)] + [Beast(b) for b in beasts] + [Block(b) for b in blocks], {"score": 0},
                    board_size=(B.WIDTH, B.HEIGHT))
        game.num_beasts = len(beasts)
        return game
    shared = SharedDraws(monkeypatch, None)
    env = GameEnv(create_game, B.ACTIONS, "score", ENCODER)
    retro_obs = env.reset()
    shared.start(env.game)
    state = from_retro(env.game)
    np.testing.assert_array_equal(B.observe(state).board, retro_obs.board)
    results = []
    for action, move in turns:
        shared.draws = B.Draws(np.full(B.BEASTS, move, np.float32), np.full(B.BEASTS, 0.5, np.float32),
                               np.zeros(B.BEASTS, np.float32))
        retro_obs, retro_reward, retro_done = env.step(action)
        state, obs, reward, done = advance(state, action, shared.draws)
        np.testing.assert_array_equal(obs.board, retro_obs.board)
        assert (float(reward), bool(done)) == (retro_reward, retro_done)
        results.append((retro_obs.board, retro_reward, retro_done))
    return results


def test_crushing_the_last_beast_wins_and_shows_the_board_of_the_turns_start(monkeypatch):
    layout = ((5, 5), [(7, 5)], [(6, 5), (8, 5)])  # player, block, beast, block in a row
    (board, reward, done), = play_scripted(monkeypatch, layout, [(0, 0.9)])
    assert reward == 1 and done
    assert board[5, 7] == B.BEAST and board[5, 5] == B.PLAYER  # the cache was not refreshed


def test_the_first_beast_sees_the_turns_start_and_may_step_onto_a_pushed_block(monkeypatch):
    layout = ((5, 5), [(8, 6), (30, 15)], [(6, 5)])
    results = play_scripted(monkeypatch, layout, [(0, 0.0), (0, 0.9)])
    (board, reward, done), (_, last_reward, last_done) = results
    assert board[5, 7] == B.BEAST and not done  # on the block pushed there this turn
    assert last_done and last_reward == -20  # walking into it (-10), then it catches the player (-10)


def test_beasts_move_as_often_and_as_randomly_as_the_game_says():
    d = jax.jit(jax.vmap(B.draws))(jax.random.split(jax.random.PRNGKey(9), 40_000))
    move = np.asarray(d.move) < B.MOVE_PROBABILITY
    randomly = move & (np.asarray(d.random) < B.RANDOM_MOVE_PROBABILITY)
    n = move.size
    assert abs(move.mean() - 0.03) < 4 * np.sqrt(0.03 * 0.97 / n)
    assert abs(randomly.sum() / move.sum() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / move.sum())
    choice = np.asarray(d.choice)[randomly]  # uniform in [0, 1): each of 8 neighbours equally likely
    counts = np.bincount((choice * 8).astype(int), minlength=8)
    assert choice.min() >= 0 and choice.max() < 1 and counts.min() > 0.8 * counts.mean()
