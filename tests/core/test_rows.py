import numpy as np
import pytest

from jaxdqn.core.rows import (BoardOutgrewRows, board_rows, chosen_rows_width, reading_widths, rows_width,
                              stored_rows_width, widen_rows)
from jaxdqn.core.types import RowsObservation, Transition
from tests.support.helpers import SMALL_SPEC


def test_board_rows_lists_occupied_cells_and_refuses_too_short_lists():
    board = np.zeros((2, 4, 5), np.uint8)
    board[0, 0, 1], board[0, 3, 4], board[1, 2, 0] = 2, 3, 1
    rows = board_rows(board, SMALL_SPEC, 16)
    pad = SMALL_SPEC.flat_board_size
    assert rows.dtype == np.int16 and rows.shape == (2, 16)
    assert rows[0].tolist() == [1 * 3 + 1, 19 * 3 + 2] + [pad] * 14
    assert rows[1].tolist() == [10 * 3 + 0] + [pad] * 15
    with pytest.raises(BoardOutgrewRows, match="3 occupied cells"):
        board_rows(np.ones((1, 4, 5), np.uint8) * (np.arange(20).reshape(4, 5) < 3), SMALL_SPEC, 2)
    assert [rows_width(k) for k in (0, 16, 17, 100)] == [16, 16, 32, 128]
    assert stored_rows_width(SMALL_SPEC, 17) == 32
    assert stored_rows_width(SMALL_SPEC._replace(spatial=True), 17) == 0
    assert stored_rows_width(SMALL_SPEC._replace(board_height=0), 17) == 0
    beast = SMALL_SPEC._replace(board_height=20, board_width=40)  # 800 cells, 251 of them taken at the start
    assert stored_rows_width(beast, 2 * 251) == 0 and stored_rows_width(beast, 2 * 45) == 128


def test_a_pure_run_stores_lists_as_long_as_the_board_where_the_trainers_store_lists():
    snake = SMALL_SPEC._replace(board_height=16, board_width=32, num_channels=6)
    assert chosen_rows_width(snake, 3) == 512 and reading_widths(snake) == (16, 64, 128)
    assert chosen_rows_width(SMALL_SPEC, 2) == 20 and reading_widths(SMALL_SPEC) == (16, 64)  # read whole
    beast = SMALL_SPEC._replace(board_height=20, board_width=40)
    assert chosen_rows_width(beast, 251) == 0 and chosen_rows_width(beast, 45) == 800  # dense start: boards
    assert reading_widths(beast) == (16, 64, 200)
    assert chosen_rows_width(snake._replace(spatial=True), 3) == 0  # a CNN reads boards


def test_widen_rows_pads_observations_and_transitions_with_the_no_row_value():
    pad = SMALL_SPEC.flat_board_size
    obs = RowsObservation(np.array([[1, 2, pad, pad]], np.int16), np.zeros((1, 2), np.float32))
    wide = widen_rows(obs, 8, pad)
    assert wide.rows.tolist() == [[1, 2] + [pad] * 6] and wide.extras is obs.extras
    assert widen_rows(wide, 4, pad) is wide  # never narrows
    t = Transition(obs, np.zeros(1, np.int32), np.zeros(1, np.float32), obs, np.zeros(1, bool))
    wide_t = widen_rows(t, 8, pad)
    assert wide_t.obs.rows.shape == wide_t.next_obs.rows.shape == (1, 8)
