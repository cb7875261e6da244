"""``retro.examples.nav`` (retro-games 2.5.0) in JAX, equal to it step for step.

The board is 25 x 25 with the ship (``^``) on the bottom row. Each turn the ship moves one
cell left or right (or stays); moving into an asteroid ends the game with -10. Then the score
gains 1, and with probability ``turn / 1001`` (certain from turn 1,000 on) an asteroid (``O``)
appears on a random cell of the top row. On even turns every asteroid falls one row, in the
order they appeared: one on the bottom row leaves the board instead, and one that would fall
onto the ship stays where it is and ends the game with -10 (several may: each costs 10).

Ported faithfully, including what follows from retro-games' agent loop:

- the ship checks the cell it moves to against the board as it stood at the start of the turn;
- the spawner plays before the asteroids, so an asteroid that appears on an even turn falls at
  once;
- an asteroid that leaves the board is removed from the list the game is iterating over, so the
  next asteroid in that list does not play that turn and falls one row later than the others;
- a crashed ship is drawn as ``*``, which is not in nav's character set, so the last
  observation of a crash shows an empty cell there.

Asteroids live in a ring of 64 slots in the order they appeared (slot = number of asteroids
so far mod 64); no asteroid lives more than 53 turns (24 falls, the turn it leaves and at most
a few skipped falls), so at most 54 slots are ever in use and the ring never overwrites a
live one.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.types import Observation
from jaxdqn.jaxgames.protocol import JaxGame

WIDTH, HEIGHT = 25, 25
SLOTS = 64  # two 32-bit words of flags where slots are handled as bits (plays)
BIT = jnp.arange(32, dtype=jnp.uint32)
ACTIONS = ["KEY_LEFT", "KEY_RIGHT"]  # then the no-op, index 2
CHARACTER_SET = ["^", "O"]
SHIP, ASTEROID = CHARACTER_SET.index("^") + 1, CHARACTER_SET.index("O") + 1
SPAWN_ROLL = 1001  # randint(0, 1000): an asteroid appears when the roll is below the turn number


class NavState(NamedTuple):
    ship_x: jax.Array  # int32: the ship's column (its row is always the bottom one)
    turn: jax.Array  # int32: turns played
    spawned: jax.Array  # int32: asteroids so far (the next one's slot is this mod SLOTS)
    x: jax.Array  # int32 [SLOTS]: each slot's column
    y: jax.Array  # int32 [SLOTS]: each slot's row
    alive: jax.Array  # bool [SLOTS]
    board: jax.Array  # uint8 [HEIGHT, WIDTH]: the board as drawn at the end of the last turn


def _draw(ship_x, x, y, alive, crashed) -> jax.Array:
    cells = jnp.where(alive, y * WIDTH + x, HEIGHT * WIDTH)  # dead slots fall off the end and are dropped
    board = jnp.zeros((HEIGHT * WIDTH,), jnp.uint8).at[cells].set(ASTEROID, mode="drop")
    ship = jnp.where(crashed, jnp.uint8(0), jnp.uint8(SHIP))  # a crashed ship shows '*', outside the set
    return board.at[(HEIGHT - 1) * WIDTH + ship_x].set(ship).reshape(HEIGHT, WIDTH)


def new_game() -> NavState:
    """The game as ``create_game`` leaves it: the ship at the bottom centre, no asteroids."""
    x = jnp.zeros((SLOTS,), jnp.int32)
    alive = jnp.zeros((SLOTS,), bool)
    ship_x = jnp.int32(WIDTH // 2)
    return NavState(ship_x, jnp.int32(0), jnp.int32(0), x, x, alive, _draw(ship_x, x, x, alive, False))


def reset(key) -> tuple[NavState, Observation]:
    """A new game (nav starts the same way every time; ``key`` is unused)."""
    del key
    state = new_game()
    return state, observe(state)


def observe(state: NavState) -> Observation:
    return Observation(state.board, jnp.zeros((0,), jnp.float32))


def plays(bottom: jax.Array, alive: jax.Array, oldest: jax.Array) -> jax.Array:
    """Which asteroids play this turn, for slots whose list order starts at slot ``oldest``: one plays
    unless the live asteroid before it left the board this turn (the first of a run of bottom-row
    asteroids leaves, the second is skipped and stays, the third leaves, ...).

    Each slot acts on "the one before left" as a map of one bool: a dead slot keeps it, a live one off
    the bottom row clears it, a live one on the bottom row flips it. The slots' maps are composed in list
    order by doubling, on the 64 slots packed as bits (what each prefix of maps makes of False, and of
    True, one bit per slot): six rounds of whole-word operations per game, where a loop over the slots
    costs 64 steps."""
    shift = oldest.astype(jnp.uint32)
    alive_bits, bottom_bits = _rotate_right(_packed(alive), shift), _rotate_right(_packed(bottom), shift)
    if_false = tuple(a & b for a, b in zip(alive_bits, bottom_bits))  # list order from bit 0 on
    if_true = tuple(~a for a in alive_bits)
    done = 1
    while done < SLOTS:  # compose each prefix with the one ``done`` slots before it (identity before the first)
        before_false, before_true = _shifted_up(if_false, done, False), _shifted_up(if_true, done, True)
        # the earlier prefix's value picks, bit by bit, what the later maps make of True or of False
        if_false, if_true = (tuple((e & t) | (~e & f) for e, t, f in zip(before_false, if_true, if_false)),
                             tuple((e & t) | (~e & f) for e, t, f in zip(before_true, if_true, if_false)))
        done *= 2
    left_before = _shifted_up(if_false, 1, False)  # every slot before, applied to False
    return ~_unpacked(_rotate_right(left_before, (SLOTS - shift) % SLOTS))


def _packed(flags):
    """64 flags as two 32-bit words, (slots 0-31, slots 32-63), slot i as bit i % 32."""
    words = jnp.where(flags.reshape(2, 32), jnp.uint32(1) << BIT, jnp.uint32(0)).sum(-1, dtype=jnp.uint32)
    return words[0], words[1]


def _unpacked(words):
    return ((jnp.stack(words)[:, None] >> BIT) & 1).astype(bool).reshape(SLOTS)


def _shifted_up(words, by: int, fill: bool):
    """The 64 bits moved ``by`` places up (1 <= by <= 32), the freed low bits set to ``fill``."""
    low, high = words
    if by == 32:
        return (jnp.uint32(0xFFFFFFFF if fill else 0), low)
    return (low << by) | jnp.uint32((1 << by) - 1 if fill else 0), (high << by) | (low >> (32 - by))


def _rotate_right(words, by):
    """The 64 bits rotated down by ``by`` (a traced number in [0, 64)): bit ``by`` becomes bit 0."""
    low, high = words
    swap = by >= 32
    low, high = jnp.where(swap, high, low), jnp.where(swap, low, high)
    by = by % 32
    carried = (32 - by) % 32  # the bits that cross into the other word (none when by is 0)
    high_in, low_in = (jnp.where(by == 0, jnp.uint32(0), word << carried) for word in (high, low))
    return (low >> by) | high_in, (high >> by) | low_in


def advance(state: NavState, action, roll, spawn_x) -> tuple[NavState, Observation, jax.Array, jax.Array]:
    """One turn, given the game's two random draws: ``roll`` (0..1000; an asteroid appears when it is
    below the turn number) and ``spawn_x`` (0..24, its column)."""
    turn = state.turn + 1
    # the ship, against the board at the start of the turn
    target = state.ship_x + jnp.where(action == 0, -1, jnp.where(action == 1, 1, 0))
    inside = (target >= 0) & (target < WIDTH) & (action < 2)
    blocked = inside & (state.board[HEIGHT - 1, jnp.clip(target, 0, WIDTH - 1)] != 0)
    ship_x = jnp.where(inside & ~blocked, target, state.ship_x)
    # the spawner: one point a turn, perhaps an asteroid at the top
    spawn = roll < turn
    slot = state.spawned % SLOTS
    x = state.x.at[slot].set(jnp.where(spawn, spawn_x, state.x[slot]))
    y = state.y.at[slot].set(jnp.where(spawn, 0, state.y[slot]))
    alive = state.alive.at[slot].set(spawn | state.alive[slot])
    spawned = state.spawned + spawn
    # the asteroids fall on even turns, in the order they appeared: the ring, oldest (the next slot) first
    bottom = y == HEIGHT - 1
    played = plays(bottom, alive, spawned % SLOTS) & alive & (turn % 2 == 0)
    falls = played & ~bottom
    hits = falls & (x == ship_x) & (y + 1 == HEIGHT - 1)
    y = y + (falls & ~hits)
    alive = alive & ~(played & bottom)
    crashes = blocked.astype(jnp.int32) + hits.sum()
    crashed = crashes > 0
    reward = (1 - 10 * crashes).astype(jnp.float32)
    board = _draw(ship_x, x, y, alive, crashed)
    new = NavState(ship_x, turn, spawned, x, y, alive, board)
    return new, observe(new), reward, crashed


def draws(key) -> tuple[jax.Array, jax.Array]:
    """A turn's two draws, ``roll`` and ``spawn_x``, from ``key`` (32 random bits each, ``% range``: uniform
    up to 2^-22)."""
    roll, spawn_x = jax.random.bits(key, (2,), jnp.uint32) % jnp.array([SPAWN_ROLL, WIDTH], jnp.uint32)
    return roll.astype(jnp.int32), spawn_x.astype(jnp.int32)


def step(state: NavState, action, key) -> tuple[NavState, Observation, jax.Array, jax.Array]:
    """One turn of the game with its draws taken from ``key``."""
    return advance(state, action, *draws(key))


JAX_GAME = JaxGame(
    name="nav",
    reset=reset,
    step=step,
    metadata={"actions": ACTIONS, "reward": "score", "character_set": CHARACTER_SET,
              "board_size": [WIDTH, HEIGHT], "spatial": True},
    preprocessing={},
    retro_module="retro.examples.nav",
    reset_pool=1 / 64,
)
