"""``retro.examples.snake`` (retro-games 2.5.0) in JAX, equal to it step for step.

The board is 32 x 16. The head moves one cell a turn in its direction; the arrow keys set the
direction and the no-op keeps it. Moving off the board or onto the body ends the game with
-10; a move gives +1 closer to the apple and -1 farther (Manhattan); eating gives +50, energy
back to 150, one more segment at the tail and the apple to a random empty cell; each move
costs 1 energy, and at 0 the game ends with -10. The observation is what jaxdqn's host
encoder makes of the retro game with ``observe_state = ["apple_dx", "apple_dy"]``.

Ported faithfully, including what follows from retro-games caching agent positions: a
game's positions are cached when the apple is first placed and refreshed only at the end of
each turn, so

- the first observation of a game shows the apple at (0, 0), where it stood when the cache
  was filled, and the first turn's checks see it there too;
- the cells checked for a move and for a new apple are those at the start of the turn: the
  tail's cell counts as occupied (moving into it ends the game) and the head's old cell as
  well, while the apple, when eaten on the very first turn, may land under the head;
- a move onto the apple is allowed even where the body also lies (possible only after the
  apple landed under the head).

State is a fixed-shape pytree: the drawn board (only the few cells that change are redrawn
each turn), a count of body segments per cell, the body as a ring of up to 512 cells, and
each row's drawn cells as the bits of a 32-bit word. The board drawn at the start of a turn
is exactly the retro game's position cache, so it answers "is this cell free" for moves and
new apples, and the row bits find a uniformly drawn free cell with a few population counts
instead of a scan of the board: under ``vmap`` that search runs every turn for every game.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.types import Observation
from jaxdqn.jaxgames.protocol import JaxGame

WIDTH, HEIGHT = 32, 16
CELLS = WIDTH * HEIGHT
ENERGY = 150
ACTIONS = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]  # then the no-op, index 4
CHARACTER_SET = ["*", "<", ">", "@", "^", "v"]
BODY, APPLE = CHARACTER_SET.index("*") + 1, CHARACTER_SET.index("@") + 1
# direction i (RIGHT, UP, LEFT, DOWN): its step and the head's character code
DX = jnp.array([1, 0, -1, 0], jnp.int32)
DY = jnp.array([0, -1, 0, 1], jnp.int32)
HEAD = jnp.array([CHARACTER_SET.index(c) + 1 for c in ">^<v"], jnp.uint8)


class SnakeState(NamedTuple):
    board: jax.Array  # uint8 [CELLS]: the codes the encoder would draw (y * WIDTH + x)
    body_count: jax.Array  # uint8 [CELLS]: body segments on each cell
    ring: jax.Array  # int16 [CELLS]: body cells, neck first, starting at ``start`` (others are stale)
    start: jax.Array  # int32
    length: jax.Array  # int32: body segments (the head not counted)
    head: jax.Array  # int32 cell
    direction: jax.Array  # int32: 0 right, 1 up, 2 left, 3 down
    apple: jax.Array  # int32 cell
    row_bits: jax.Array  # uint32 [HEIGHT]: bit x of row y set when cell (x, y) is drawn (occupied)
    energy: jax.Array  # int32
    apple_dx: jax.Array  # float32, as the game's state holds it
    apple_dy: jax.Array  # float32


def _xy(cell):
    return cell % WIDTH, cell // WIDTH


def _apple_offsets(head, apple):
    hx, hy = _xy(head)
    ax, ay = _xy(apple)
    return (ax - hx).astype(jnp.float32) / WIDTH, (ay - hy).astype(jnp.float32) / HEIGHT


def observe(state: SnakeState) -> Observation:
    return Observation(state.board.reshape(HEIGHT, WIDTH), jnp.stack([state.apple_dx, state.apple_dy]))


def _kth_set_bit(bits: jax.Array, k: jax.Array) -> jax.Array:
    """The position of the k-th (from 0) set bit of a 32-bit word: five halvings by population count."""
    position = jnp.int32(0)
    for width in (16, 8, 4, 2, 1):
        low = bits & jnp.uint32((1 << width) - 1)
        count = jax.lax.population_count(low).astype(jnp.int32)
        high = k >= count
        k = jnp.where(high, k - count, k)
        bits = jnp.where(high, bits >> width, low)
        position = position + jnp.where(high, width, 0)
    return position


def nth_free_cell(row_bits: jax.Array, draw: jax.Array) -> jax.Array:
    """A free cell drawn uniformly (``draw``: 32 random bits; ``draw % free`` is uniform up to 2^-22):
    the row by a prefix sum over the rows' free counts, the column by the row's free bits."""
    free_bits = ~row_bits
    free_rows = jax.lax.population_count(free_bits).astype(jnp.int32)
    total = free_rows.sum()
    k = (draw % jnp.maximum(total, 1).astype(jnp.uint32)).astype(jnp.int32)
    before_rows = jnp.cumsum(free_rows)
    row = jnp.sum(before_rows <= k)
    k_in_row = k - jnp.where(row > 0, before_rows[row - 1], 0)
    return (row * WIDTH + _kth_set_bit(free_bits[row], k_in_row)).astype(jnp.int32)


def _bit(cell) -> jax.Array:
    return jnp.left_shift(jnp.uint32(1), jnp.asarray(cell % WIDTH).astype(jnp.uint32))


def new_game(head_x, head_y, direction, apple, ring=None) -> SnakeState:
    """A game as ``create_game`` leaves it, from the head, its direction and the apple's cell (``ring``:
    any [CELLS] int16 array to reuse; a new game never reads it)."""
    head = (head_y * WIDTH + head_x).astype(jnp.int32)
    direction = jnp.asarray(direction, jnp.int32)
    apple = jnp.asarray(apple, jnp.int32)
    board = jnp.zeros((CELLS,), jnp.uint8).at[0].set(APPLE).at[head].set(HEAD[direction])
    ring = jnp.zeros((CELLS,), jnp.int16) if ring is None else ring
    rows = jnp.zeros((HEIGHT,), jnp.uint32).at[0].add(_bit(0)).at[head // WIDTH].add(_bit(head))  # head != (0, 0)
    dx, dy = _apple_offsets(head, apple)
    return SnakeState(board, jnp.zeros((CELLS,), jnp.uint8), ring, jnp.int32(0), jnp.int32(0), head, direction,
                      apple, rows, jnp.int32(ENERGY), dx, dy)


def _draw_start(key):
    """The head away from the edges, a direction, and the apple on any cell but (0, 0) and the head's,
    from one draw of four 32-bit numbers (each ``% range``: uniform up to 2^-22); the k-th of the 510
    cells left for the apple is found by arithmetic."""
    bits = jax.random.bits(key, (4,), jnp.uint32)
    x, y, direction, k = (bits % jnp.array([WIDTH - 2, HEIGHT - 2, 4, CELLS - 2], jnp.uint32)).astype(jnp.int32)
    x, y = x + 1, y + 1
    head = y * WIDTH + x
    apple = k + 1 + (k + 1 >= head)  # skip cell 0, then the head's cell
    return x, y, direction, apple


def reset(key) -> tuple[SnakeState, Observation]:
    """A new game: the head away from the edges, a random direction, the apple on a random empty cell
    (never (0, 0), where the apple stood when the game placed it)."""
    state = new_game(*_draw_start(key))
    return state, observe(state)


def restart(state: SnakeState, key) -> tuple[SnakeState, Observation]:
    """:func:`reset`, keeping the old body ring (a new game has no body, so it never reads it)."""
    fresh = new_game(*_draw_start(key), ring=state.ring)
    return fresh, observe(fresh)


def advance(state: SnakeState, action, place_apple) -> tuple[SnakeState, Observation, jax.Array, jax.Array]:
    """One turn; ``place_apple(board, row_bits)`` picks the eaten apple's new cell among the free ones
    of the board as it was drawn at the start of the turn (the retro game's position cache)."""
    direction = jnp.where(action < 4, action, state.direction).astype(jnp.int32)
    hx, hy = _xy(state.head)
    nx, ny = hx + DX[direction], hy + DY[direction]
    on_board = (nx >= 0) & (nx < WIDTH) & (ny >= 0) & (ny < HEIGHT)
    nxt = jnp.where(on_board, ny * WIDTH + nx, 0)
    moved = on_board & ((state.board[nxt] == 0) | (nxt == state.apple))
    eats = moved & (nxt == state.apple)

    ax, ay = _xy(state.apple)
    closer = (jnp.abs(hx - ax) + jnp.abs(hy - ay)) - (jnp.abs(nx - ax) + jnp.abs(ny - ay))
    energy = jnp.where(eats, ENERGY, state.energy - moved)
    starved = moved & (energy <= 0)
    reward = jnp.where(moved, closer + 50 * eats - 10 * starved, -10).astype(jnp.float32)
    done = ~moved | starved

    new_apple = jnp.where(eats, place_apple(state.board, state.row_bits), state.apple)
    head = jnp.where(moved, nxt, state.head)
    # the body: the head's old cell becomes the neck; the tail leaves unless the snake grows
    tail = state.ring[(state.start + state.length - 1) % CELLS].astype(jnp.int32)
    push = moved & ((state.length > 0) | eats)
    pop = moved & ~eats & (state.length > 0)
    start = jnp.where(push, (state.start - 1) % CELLS, state.start)
    ring = state.ring.at[start].set(jnp.where(push, state.head, state.ring[start]).astype(jnp.int16))
    body_count = state.body_count.at[state.head].add(push.astype(jnp.uint8))
    body_count = body_count.at[tail].add(jnp.where(pop, jnp.uint8(255), jnp.uint8(0)))  # -1 modulo 256
    # redraw the cells that may have changed (head over apple over body), (0, 0) for the first turn's cache
    cells = jnp.stack([jnp.int32(0), state.head, tail, head, state.apple, new_apple])
    codes = jnp.where(cells == head, HEAD[direction],
                      jnp.where(cells == new_apple, APPLE, jnp.where(body_count[cells] > 0, BODY, 0)))
    codes = codes.astype(jnp.uint8)
    # each distinct redrawn cell's bit: cleared, then set if the cell is drawn (adding distinct bits is an or)
    first = jnp.argmax(cells[:, None] == cells[None, :], axis=1) == jnp.arange(cells.shape[0])
    bits = jnp.where(first, _bit(cells), jnp.uint32(0))
    row = cells // WIDTH
    cleared = jnp.zeros((HEIGHT,), jnp.uint32).at[row].add(bits)
    drawn = jnp.zeros((HEIGHT,), jnp.uint32).at[row].add(jnp.where(codes > 0, bits, jnp.uint32(0)))
    rows = (state.row_bits & ~cleared) | drawn
    dx, dy = _apple_offsets(head, new_apple)
    new = SnakeState(state.board.at[cells].set(codes), body_count, ring, start, state.length + push - pop, head,
                     direction, new_apple, rows, energy,
                     jnp.where(moved, dx, state.apple_dx), jnp.where(moved, dy, state.apple_dy))
    return new, observe(new), reward, done


def step(state: SnakeState, action, key) -> tuple[SnakeState, Observation, jax.Array, jax.Array]:
    """One turn of the game; an eaten apple moves to a cell drawn uniformly among the free ones."""
    draw = jax.random.bits(key, (), jnp.uint32)
    return advance(state, action, lambda board, row_bits: nth_free_cell(row_bits, draw))


JAX_GAME = JaxGame(
    name="snake",
    reset=reset,
    step=step,
    metadata={"actions": ACTIONS, "reward": "reward", "character_set": CHARACTER_SET,
              "board_size": [WIDTH, HEIGHT]},
    preprocessing={"observe_state": ["apple_dx", "apple_dy"], "observe_state_sizes": {"apple_dx": 1, "apple_dy": 1}},
    retro_module="retro.examples.snake",
    restart=restart,
)
