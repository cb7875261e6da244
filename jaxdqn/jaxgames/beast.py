"""``retro.examples.beast`` (retro-games 2.5.0) in JAX, equal to it step for step.

The board is 40 x 20: the player (``*``), 10 beasts (``H``) and 240 blocks (``█``) on cells
drawn at random. The arrow keys move the player one cell; walking into a block pushes it, and
the whole line of blocks behind it, one cell on, when the cell past the line is free (a beast
there is crushed when the cell past it is taken or off the board: +1, and the push succeeds).
Walking into a beast ends the game with -10. Then each beast in turn: one next to the player
(diagonals count) steps onto it and ends the game with -10 (each such beast costs 10); the
others move with probability 0.03 to a free neighbouring cell, a random one with probability
0.2, else the one nearest the player (Manhattan; ties to the smallest x, then y). Crushing
all ten wins the game.

Ported faithfully, including what follows from retro-games' position cache (filled at the
end of each turn, refreshed only after an agent's ``play_turn``):

- the player's move and pushes see the board as it stood at the start of the turn;
- so does the first beast that plays: it may step onto the cell a block was just pushed
  to, and a beast standing on a block is drawn, pushed against and crushed as a beast (the
  block under it stays; a block pushed onto it later makes two blocks on one cell);
- when the last beast is crushed no beast plays, the cache is not refreshed, and the last
  observation shows the board as it stood at the start of that turn.

State is a fixed-shape pytree: the board as drawn, block counts per cell, the beasts'
positions with a live flag each, and the player's position. The ten beasts move one after
another (each sees the others' moves), as ten unrolled steps that compare positions instead of
writing a board; the board is drawn once, at the end of the turn. A new board costs
more than a turn, so boards are made only for the games that ended (``reset_pool``).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.member_loops import any_member
from jaxdqn.core.types import Observation
from jaxdqn.jaxgames.protocol import JaxGame

WIDTH, HEIGHT = 40, 20
CELLS = WIDTH * HEIGHT
BEASTS = 10
BLOCKS = round(CELLS * 0.3)
ACTIONS = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]  # then the no-op, index 4
CHARACTER_SET = ["*", "H", "█"]
PLAYER, BEAST, BLOCK = (CHARACTER_SET.index(c) + 1 for c in CHARACTER_SET)
OFF = 255  # a code for "off the board" along a pushed line
MOVE_PROBABILITY, RANDOM_MOVE_PROBABILITY = 0.03, 0.2
DX = jnp.array([1, 0, -1, 0], jnp.int32)
DY = jnp.array([0, -1, 0, 1], jnp.int32)
# a beast's neighbours in the game's order, which is also (x, y) order: the nearest first one is its choice
NX = jnp.array([-1, -1, -1, 0, 0, 1, 1, 1], jnp.int32)
NY = jnp.array([-1, 0, 1, -1, 1, -1, 0, 1], jnp.int32)
RAY = jnp.arange(1, WIDTH + 1, dtype=jnp.int32)  # a pushed line's cells, 1..WIDTH away from the player
TRIES = 8  # candidate cells drawn per piece when a board is laid out


class BeastState(NamedTuple):
    board: jax.Array  # uint8 [CELLS]: the board as drawn at the end of the last turn (y * WIDTH + x)
    blocks: jax.Array  # uint8 [CELLS]: blocks on each cell
    beast_x: jax.Array  # int32 [BEASTS]
    beast_y: jax.Array  # int32 [BEASTS]
    alive: jax.Array  # bool [BEASTS]
    player_x: jax.Array  # int32
    player_y: jax.Array  # int32


class Draws(NamedTuple):
    """A turn's random numbers, one of each per beast, uniform in [0, 1) where they are read: whether it
    moves, whether at random, and which of its free neighbours then."""

    move: jax.Array  # float32 [BEASTS]
    random: jax.Array  # float32 [BEASTS]
    choice: jax.Array  # float32 [BEASTS]


def observe(state: BeastState) -> Observation:
    return Observation(state.board.reshape(HEIGHT, WIDTH), jnp.zeros((0,), jnp.float32))


def _draw(blocks, beast_x, beast_y, alive, player_x, player_y) -> jax.Array:
    """The board as drawn: the player over beasts over blocks (retro draws a cell's first agent)."""
    board = jnp.where(blocks > 0, jnp.uint8(BLOCK), jnp.uint8(0))
    board = board.at[jnp.where(alive, beast_y * WIDTH + beast_x, CELLS)].set(BEAST, mode="drop")
    return board.at[player_y * WIDTH + player_x].set(PLAYER)


def new_game(blocks, cells) -> BeastState:
    """A game from its blocks (``blocks``: per cell, y * WIDTH + x) and the player's and the beasts' cells
    (``cells``: the player's first, then the beasts' in list order)."""
    x, y = cells % WIDTH, cells // WIDTH
    blocks = blocks.astype(jnp.uint8)
    beast_x, beast_y = x[1:], y[1:]
    alive = jnp.ones((BEASTS,), bool)
    board = _draw(blocks, beast_x, beast_y, alive, x[0], y[0])
    return BeastState(board, blocks, beast_x, beast_y, alive, x[0], y[0])


def _largest(keys, k: int):
    """A mask of the ``k`` largest of ``keys`` (ties at the k-th to the larger index). A threshold with
    exactly ``k`` keys at or above it is searched for by interpolation: the keys are uniform, so a few
    counting passes over the board find it (a sort is far slower on CPU). Only when keys tie at the k-th
    largest (rare with 32-bit keys) is the tie broken, by index, bit by bit."""
    n = keys.shape[0]

    def narrowed(bracket):
        low, high, at_low, at_high, _ = bracket  # at_low = count(keys >= low) > k > count(keys >= high)
        width = high - low
        guess = ((at_low - k).astype(jnp.float32) / (at_low - at_high).astype(jnp.float32)
                 * width.astype(jnp.float32)).astype(jnp.uint32)
        margin = jnp.maximum(width >> 8, 1)  # keep inside the bracket, so each pass narrows it
        threshold = low + jnp.clip(guess, margin, width - margin)
        count = (keys >= threshold).sum(dtype=jnp.int32)
        up = count >= k
        return (jnp.where(up, threshold, low), jnp.where(up, high, threshold), jnp.where(up, count, at_low),
                jnp.where(up, at_high, count), count == k)

    top = jnp.uint32(0xFFFFFFFF)
    start = (jnp.uint32(0), top, jnp.int32(n), (keys == top).sum(dtype=jnp.int32), jnp.bool_(False))
    low, _, _, _, found = jax.lax.while_loop(lambda b: ~b[4] & (b[1] - b[0] > 1), narrowed, start)
    return jax.lax.cond(any_member(~found), lambda: _break_tie(keys, low, k), lambda: keys >= low)


def _break_tie(keys, low, k: int):
    """Keys above ``low`` and, of those equal to it, as many as ``k`` needs, the larger indices first."""
    index = jnp.arange(keys.shape[0])
    above, tied = keys > low, keys == low
    need = k - above.sum()
    lowest = jnp.int32(0)
    for bit in range(int(keys.shape[0] - 1).bit_length() - 1, -1, -1):
        candidate = lowest | (1 << bit)
        lowest = jnp.where((tied & (index >= candidate)).sum() >= need, candidate, lowest)
    return above | (tied & (index >= lowest))


def _pieces(blocks, candidates, keys) -> jax.Array:
    """The player's cell, then the beasts': each piece in turn takes the first of its candidate cells
    (``candidates``, [pieces, TRIES], uniform over the board) that holds no block and no piece placed before
    it, which is a uniform draw among the free cells. When a piece finds none free (about one board in a
    thousand), the board's pieces are placed again by ``keys`` instead: the free cells with the smallest
    keys, in order, which is uniform too."""
    free = ~blocks[candidates]  # one gather for every candidate
    cells, placed = [], jnp.bool_(True)
    for piece in range(candidates.shape[0]):
        mine = candidates[piece]
        ok = free[piece]
        for before in cells:
            ok = ok & (mine != before)
        cells.append(mine[_first(ok)])
        placed = placed & ok.any()
    cells = jnp.stack(cells)

    def by_keys(cells):
        rest = jnp.where(blocks, jnp.uint32(0xFFFFFFFF), keys)
        chosen = []
        for _ in range(candidates.shape[0]):
            cell = jnp.argmin(rest).astype(jnp.int32)
            chosen.append(cell)
            rest = rest.at[cell].set(0xFFFFFFFF)
        return jnp.where(placed, cells, jnp.stack(chosen))

    return jax.lax.cond(any_member(~placed), by_keys, lambda cells: cells, cells)


def layout(key) -> tuple[jax.Array, jax.Array]:
    """The board ``Board`` shuffles (a uniformly shuffled board, as the retro game's): a random number per
    cell, the 240 largest hold blocks; then the player and the ten beasts, each on a uniformly drawn free
    cell."""
    words = random_words(key, CELLS + (BEASTS + 1) * TRIES)
    keys = words[:CELLS]
    blocks = _largest(keys, BLOCKS)
    candidates = (words[CELLS:] % CELLS).astype(jnp.int32).reshape(BEASTS + 1, TRIES)
    return blocks, _pieces(blocks, candidates, keys)


def reset(key) -> tuple[BeastState, Observation]:
    """A new game on a uniformly shuffled board."""
    state = new_game(*layout(key))
    return state, observe(state)


def _inside(x, y):
    return (x >= 0) & (x < WIDTH) & (y >= 0) & (y < HEIGHT)


def _cell(x, y):
    """The index of cell (x, y), clamped onto the board (callers mask what lies off it)."""
    return jnp.clip(y, 0, HEIGHT - 1) * WIDTH + jnp.clip(x, 0, WIDTH - 1)


def _first(mask, values=None):
    """The index of the first True of ``mask`` (0 if none), or with ``values``, of the smallest value where
    ``mask`` holds (ties to the first), as ``argmax``/``argmin`` would give: a plain minimum over
    index-tagged values, where an argmin reduces (value, index) pairs."""
    n = mask.shape[-1]
    index = jnp.arange(n, dtype=jnp.int32)
    tagged = index if values is None else values * n + index
    return jnp.min(jnp.where(mask, tagged, (1 << 30) // n * n), axis=-1) % n


def _pick(values, index):
    """``values[index]`` for a short vector, as a one-hot sum (under ``vmap`` a gather per game otherwise)."""
    return jnp.where(jnp.arange(values.shape[-1]) == index, values, 0).sum(-1)


def _free_before(mask):
    """For each entry of a short bool vector, how many entries before it hold True (an unrolled running
    count: ``cumsum`` under ``vmap`` becomes a slow windowed reduction on XLA:CPU)."""
    counts, running = [], jnp.int32(0)
    for i in range(mask.shape[-1]):
        counts.append(running)
        running = running + mask[i]
    return jnp.stack(counts)


def _at(board, x, y, outside=0):
    """``board``'s codes at cells (x, y), ``outside`` where off the board."""
    return jnp.where(_inside(x, y), board[_cell(x, y)], jnp.uint8(outside))


def _player_turn(state: BeastState, action):
    """The player's move against the board at the start of the turn: (state after it, its board not yet
    redrawn; the beast crushed as a one-hot mask; whether the player walked into a beast)."""
    old = state.board
    moves = action < 4
    direction = jnp.minimum(action, 3)
    dx, dy = DX[direction], DY[direction]
    px, py = state.player_x, state.player_y
    # the line ahead: the first cell that holds no block ends it
    line = _at(old, px + dx * RAY, py + dy * RAY, OFF)
    end = _first(line != BLOCK)  # index into RAY: the line's blocks are RAY[:end]
    end_x, end_y = px + dx * (end + 1), py + dy * (end + 1)
    end_code = line[end]
    beyond = _at(old, end_x + dx, end_y + dy, OFF)
    crush = (end > 0) & (end_code == BEAST) & (beyond != 0)
    walks = moves & (end == 0) & (end_code == 0)
    pushes = moves & (end > 0) & ((end_code == 0) | crush)
    walked_into_beast = moves & (end == 0) & (end_code == BEAST)
    crushed = (pushes & crush) & state.alive & (state.beast_x == end_x) & (state.beast_y == end_y)
    first, last = (py + dy) * WIDTH + (px + dx), end_y * WIDTH + end_x
    blocks = state.blocks.at[jnp.where(pushes, first, CELLS)].add(jnp.uint8(255), mode="drop")  # -1 mod 256
    blocks = blocks.at[jnp.where(pushes, last, CELLS)].add(jnp.uint8(1), mode="drop")
    moved = walks | pushes
    nx, ny = jnp.where(moved, px + dx, px), jnp.where(moved, py + dy, py)
    state = state._replace(blocks=blocks, alive=state.alive & ~crushed, player_x=nx, player_y=ny)
    return state, crushed, walked_into_beast


def _beast_turn(state: BeastState, taken, stale_free, i: int, stale, draws: Draws):
    """Beast ``i``'s turn (when alive): the state after it and whether it caught the player. ``taken``
    (bool [CELLS]) marks the cells held by blocks or the player, which stay put while the beasts play;
    the beasts' own cells come from their positions. ``stale``: it is the first beast to play this turn,
    so it sees the free cells of the turn's start, ``stale_free`` (its neighbours', in ``NX, NY`` order)."""
    bx, by, px, py = state.beast_x[i], state.beast_y[i], state.player_x, state.player_y
    alive = state.alive[i]
    catches = alive & (jnp.abs(bx - px) <= 1) & (jnp.abs(by - py) <= 1) & ((bx != px) | (by != py))
    nx, ny = bx + NX, by + NY
    cells = _cell(nx, ny)
    beast_cells = jnp.where(state.alive, state.beast_y * WIDTH + state.beast_x, -1)
    beasts_there = (cells[:, None] == beast_cells).any(1)
    free = jnp.where(stale, stale_free, _inside(nx, ny) & ~taken[cells] & ~beasts_there)
    count = free.sum()
    nearest = _first(free, jnp.abs(nx - px) + jnp.abs(ny - py))
    k = jnp.minimum((draws.choice[i] * count).astype(jnp.int32), jnp.maximum(count - 1, 0))
    kth_free = _first(free & (_free_before(free) == k))
    pick = jnp.where(draws.random[i] < RANDOM_MOVE_PROBABILITY, kth_free, nearest)
    moves = alive & ~catches & (draws.move[i] < MOVE_PROBABILITY) & (count > 0)
    to_x = jnp.where(catches, px, jnp.where(moves, bx + _pick(NX, pick), bx))
    to_y = jnp.where(catches, py, jnp.where(moves, by + _pick(NY, pick), by))
    return state._replace(beast_x=state.beast_x.at[i].set(to_x), beast_y=state.beast_y.at[i].set(to_y)), catches


def _first_free(state: BeastState, start_board):
    """The free neighbours, on the board of the turn's start, of the first beast alive (the one that plays
    first this turn, from where it stood at the start)."""
    first = _first(state.alive)
    bx, by = _pick(state.beast_x, first), _pick(state.beast_y, first)
    nx, ny = bx + NX, by + NY
    return _inside(nx, ny) & (start_board[_cell(nx, ny)] == 0)


def advance(state: BeastState, action, draws: Draws) -> tuple[BeastState, Observation, jax.Array, jax.Array]:
    """One turn, given the beasts' random numbers."""
    start_board = state.board
    state, crushed, walked_into_beast = _player_turn(state, action)
    taken = (state.blocks > 0).at[state.player_y * WIDTH + state.player_x].set(True)
    stale_free = _first_free(state, start_board)
    caught = jnp.int32(0)
    played_before = jnp.bool_(False)
    for i in range(BEASTS):
        state, catches = _beast_turn(state, taken, stale_free, i, ~played_before, draws)
        caught = caught + catches
        played_before = played_before | state.alive[i]
    won = ~state.alive.any()
    board = _draw(state.blocks, state.beast_x, state.beast_y, state.alive, state.player_x, state.player_y)
    state = state._replace(board=jnp.where(won, start_board, board))  # no beast played: no refresh
    deaths = walked_into_beast.astype(jnp.int32) + caught
    reward = (crushed.sum() - 10 * deaths).astype(jnp.float32)
    return state, observe(state), reward, won | (deaths > 0)


def _mix(x: jax.Array) -> jax.Array:
    """A 32-bit integer hash (Wellons' lowbias32): each output bit depends on every input bit."""
    x = (x ^ (x >> 16)) * jnp.uint32(0x7FEB352D)
    x = (x ^ (x >> 15)) * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def random_words(key, n: int) -> jax.Array:
    """``n`` random 32-bit numbers from ``key``: its own 64 random bits hashed with a counter. Under
    ``vmap`` threefry's rounds were most of a turn's cost; a key split for this turn is random already,
    and hashing it is enough to spread it over ``n`` numbers."""
    k = jax.random.key_data(key).astype(jnp.uint32).reshape(-1)
    counter = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9)
    return _mix(_mix(k[0] ^ counter) ^ k[1])


def draws(key) -> Draws:
    """A turn's draws from one random 32-bit number per beast: ``move = u`` is uniform in [0, 1); given
    that the beast moves (``u < 0.03``), ``u / 0.03`` is uniform again and serves as ``random``, and given
    a random move its ``/ 0.2`` as ``choice`` (values past 1 are never read)."""
    move = random_words(key, BEASTS).astype(jnp.float32) * jnp.float32(2.0 ** -32)
    random = move / MOVE_PROBABILITY
    return Draws(move, random, random / RANDOM_MOVE_PROBABILITY)


def step(state: BeastState, action, key) -> tuple[BeastState, Observation, jax.Array, jax.Array]:
    """One turn of the game with the beasts' draws taken from ``key``."""
    return advance(state, action, draws(key))


JAX_GAME = JaxGame(
    name="beast",
    reset=reset,
    step=step,
    metadata={"actions": ACTIONS, "reward": "score", "character_set": CHARACTER_SET,
              "board_size": [WIDTH, HEIGHT], "spatial": True},
    preprocessing={},
    retro_module="retro.examples.beast",
    reset_pool=1 / 32,
)
