"""The data both sides share: observations, transitions and the shapes that fix a network.

Plain named tuples with no JAX import, so the host side (numpy encoders, row lists, the
training loop) and the pure core (networks, replay, losses) both import them without the
host importing network code.
"""
from __future__ import annotations

from typing import Any, NamedTuple

Array = Any  # a jax.Array or a numpy array


class Observation(NamedTuple):
    """A (batch of) compact observation(s).

    board: uint8 ``[..., H, W]``; 0 is empty or unknown, ``k`` is the k-th board channel (a
        character of the character set, or off-board for egocentric views). ``[..., 0, 0]``
        when the network sees no board.
    extras: float32 ``[..., E]``; observed game-state values (``E`` may be 0).
    """

    board: Array
    extras: Array


class RowsObservation(NamedTuple):
    """A (batch of) observation(s) whose board is the list of its one-hot input's nonzero rows.

    rows: int16 (int32 for boards over 32k inputs) ``[..., K]``: ``cell * C + code - 1`` for
        each occupied cell, then padding ``H * W * C`` (no row, contributes nothing). Any
        ``K`` at least the number of occupied cells holds a board exactly.
    extras: float32 ``[..., E]``.

    An MLP's first layer then costs a gather of K rows per observation instead of a product
    with a mostly-zero one-hot vector, and replay stores 2K bytes per observation instead of
    H*W. The lists are built on the host (:func:`jaxdqn.core.rows.board_rows`).
    """

    rows: Array
    extras: Array


class Transition(NamedTuple):
    """One (or, with a leading axis, many) ``(s, a, r, s', done)``.

    Two fields are only present for n-step returns (None otherwise, so one-step replay stores and
    checkpoints exactly what it always did): ``ended``, stored with each transition, and ``discount``,
    set on the n-step transitions a sample makes (see :mod:`jaxdqn.core.n_step`).
    """

    obs: Observation | RowsObservation
    action: Array  # int32
    reward: Array  # float32: the step's reward (an n-step sample: the discounted sum of up to n rewards)
    next_obs: Observation | RowsObservation
    done: Array  # bool: a game over (no bootstrap from next_obs)
    discount: Array | None = None  # float32: the bootstrap's discount, gamma ** steps; None: the loss's gamma
    ended: Array | None = None  # bool: the transition ended its episode (game over, turn limit or a stop)


class NetworkSpec(NamedTuple):
    """Everything that fixes a built-in network's shape. Hashable, so usable as a static argument."""

    board_height: int
    board_width: int
    num_channels: int  # C: one-hot width per cell (characters, plus off-board when egocentric)
    num_extras: int  # E: observed state values
    hidden_sizes: tuple[int, ...]
    num_actions: int  # the game's actions plus the no-op
    spatial: bool = False
    dueling: bool = False  # a dueling head: Q = V + A - mean(A) (Wang et al., 2016)

    @classmethod
    def extras_only(cls, num_extras: int, hidden_sizes, num_actions: int) -> NetworkSpec:
        """A network that sees only ``num_extras`` numbers (no board): pair it with
        :meth:`empty_observation`, whose board is ``[..., 0, 0]``."""
        return cls(0, 0, 0, num_extras, tuple(hidden_sizes), num_actions, False)

    @property
    def has_board(self) -> bool:
        return self.board_height * self.board_width * self.num_channels > 0

    @property
    def flat_board_size(self) -> int:
        return self.board_height * self.board_width * self.num_channels if self.has_board else 0

    @property
    def board_shape(self) -> tuple[int, int]:
        return (self.board_height, self.board_width) if self.has_board else (0, 0)

    def empty_observation(self, batch_shape: tuple[int, ...] = ()) -> Observation:
        """Zeros with this spec's observation shapes (for sizing buffers and initialising networks)."""
        import jax.numpy as jnp
        return Observation(board=jnp.zeros(batch_shape + self.board_shape, jnp.uint8),
                           extras=jnp.zeros(batch_shape + (self.num_extras,), jnp.float32))


def example_transition(obs: Observation | RowsObservation, ended: bool = False) -> Transition:
    """A single transition with ``obs``'s shapes, to size a replay buffer; ``ended``: with the episode-end
    flag n-step returns need."""
    import jax.numpy as jnp
    flag = jnp.zeros((), jnp.bool_)
    return Transition(obs, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32), obs, flag,
                      ended=flag if ended else None)
