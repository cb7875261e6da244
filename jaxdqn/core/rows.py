"""An MLP's board as row lists (see :class:`jaxdqn.core.types.RowsObservation`): on the host in numpy
(:func:`board_rows`, for the host loop's replay) and on the device in jnp (:func:`to_stored`, inside the
compiled loop), the same lists either way.

Both trainers store an MLP's boards as lists of occupied one-hot rows, padded to a power of two. When a
board has more occupied cells than the lists hold (an egocentric view near the edge, a longer snake)
every place holding lists is widened with :func:`widen_rows`. A pure training function cannot widen
anything, so ``make_runner`` and ``make_train`` store lists as long as the board by default
(:func:`chosen_rows_width`), which no board outgrows, and the network reads only as much of them as a
batch needs (:func:`reading_widths`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.core.replay import ring_of, with_ring
from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation, Transition

MIN_ROWS_WIDTH = 16


class BoardOutgrewRows(ValueError):
    """A board has more occupied cells than the row lists hold."""

    def __init__(self, occupied: int, width: int):
        self.occupied = occupied
        super().__init__(f"a board has {occupied} occupied cells, more than the row list's {width}")


DENSE_ROWS_WIDTH = 64  # lists this long or shorter are always kept, however small the board


def rows_width(occupied: int) -> int:
    """A list length (a power of two, at least 16) that holds ``occupied`` cells."""
    return max(MIN_ROWS_WIDTH, 1 << max(0, occupied - 1).bit_length())


def stored_rows_width(spec: NetworkSpec, occupied: int) -> int:
    """The row-list width observations are stored in for ``spec``: :func:`rows_width` for an MLP
    over a board, 0 (keep the board) for a CNN, a network without a board, or a board so full that
    its lists would be longer than a quarter of its cells and than ``DENSE_ROWS_WIDTH`` (beast's
    blocks): there the lists cost more to make, store and read than the board."""
    if not spec.has_board or spec.spatial:
        return 0
    width = rows_width(occupied)
    return width if width <= max(DENSE_ROWS_WIDTH, spec.board_height * spec.board_width // 4) else 0


READ_FROM = 16  # the narrowest reading of lists as long as the board


def reading_widths(spec: NetworkSpec) -> tuple[int, ...]:
    """The widths an MLP reads lists as long as the board at (``layers.sum_listed_rows``): 16, 64, ...
    (by fours: a reading costs in proportion to its width, so few are needed), then the widest lists
    :func:`stored_rows_width` keeps; a batch with longer lists takes the one-hot product."""
    bound = max(DENSE_ROWS_WIDTH, spec.board_height * spec.board_width // 4)
    widths, width = [], READ_FROM
    while width < bound:
        widths.append(width)
        width *= 4
    return (*widths, bound)


def chosen_rows_width(spec: NetworkSpec, occupied: int) -> int:
    """The stored form a pure training run chooses (``Settings.rows_width = None``) for a game whose start
    boards have ``occupied`` cells: where the trainers would store row lists (:func:`stored_rows_width` of
    twice that), lists as long as the board, which no board outgrows; else 0, the boards."""
    return spec.board_height * spec.board_width if stored_rows_width(spec, max(READ_FROM, 2 * occupied)) else 0


def rows_dtype(spec: NetworkSpec, xp=np):
    """The row lists' integer type: each entry is a cell * channel index, or the padding value."""
    return xp.int16 if spec.flat_board_size < 2**15 else xp.int32


def board_rows(board: np.ndarray, spec: NetworkSpec, width: int) -> np.ndarray:
    """``uint8 [N, H, W]`` boards to ``[N, width]`` row lists.

    Raises :class:`BoardOutgrewRows` when a board has more than ``width`` occupied cells.
    """
    cells = board.reshape(board.shape[0], -1)
    rows = np.full((board.shape[0], width), spec.flat_board_size, rows_dtype(spec))
    for i, board_cells in enumerate(cells):
        cell = np.flatnonzero(board_cells)
        if cell.size > width:
            raise BoardOutgrewRows(int(np.count_nonzero(cells, axis=1).max()), width)
        rows[i, :cell.size] = cell * spec.num_channels + board_cells[cell] - 1
    return rows


def as_rows(obs: Observation, spec: NetworkSpec, width: int) -> RowsObservation:
    """A batch of boards as row lists of ``width`` (the extras are kept as they are)."""
    return RowsObservation(board_rows(np.asarray(obs.board), spec, width), obs.extras)


def widen_rows(data, width: int, fill: int, xp=np):
    """Pad the row lists in ``data`` (a RowsObservation or a Transition of them, leading axes any)
    to ``width`` entries with ``fill``; ``xp`` is numpy or jax.numpy."""
    if isinstance(data, Transition):
        return data._replace(obs=widen_rows(data.obs, width, fill, xp),
                             next_obs=widen_rows(data.next_obs, width, fill, xp))
    rows = data.rows
    if rows.shape[-1] >= width:
        return data
    pad = [(0, 0)] * (rows.ndim - 1) + [(0, width - rows.shape[-1])]
    return data._replace(rows=xp.pad(rows, pad, constant_values=fill))


def widen_replay(replay, width: int, fill: int):
    """Either replay buffer's state with its stored row lists padded to ``width`` (on the device)."""
    ring = ring_of(replay)
    return with_ring(replay, ring._replace(data=widen_rows(ring.data, width, fill, jnp)))


def to_stored(obs: Observation, spec: NetworkSpec, width: int):
    """A batch of observations in the stored form, on the device: row lists of ``width`` (the lists
    :func:`board_rows` makes), or the boards themselves when ``width`` is 0; and whether any board
    outgrew the lists. Jittable."""
    if not width:
        return obs, jnp.bool_(False)
    flat = obs.board.reshape(obs.board.shape[0], -1)
    pad = spec.flat_board_size

    def rows(cells):
        index = jnp.nonzero(cells, size=width, fill_value=cells.shape[0])[0]
        code = cells[jnp.minimum(index, cells.shape[0] - 1)].astype(jnp.int32)
        return jnp.where(index < cells.shape[0], index * spec.num_channels + code - 1, pad).astype(
            rows_dtype(spec, jnp))

    overflow = jnp.any(jnp.sum(flat != 0, axis=1) > width)
    return RowsObservation(jax.vmap(rows)(flat), obs.extras), overflow
