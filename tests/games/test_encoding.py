import random
from pathlib import Path

import numpy as np
import pytest

from jaxdqn.games.encoding import ObservationEncoder, UnknownCharacterError, discover_character_set, start_game
from jaxdqn.games.env import GameEnv
from jaxdqn.games.metadata import GameMetadata, game_factory, load_pyproject_metadata
from jaxdqn.games.preprocessing import build_encoder
from tests.support.runs import TINYGAME, tiny_env

GAMES = str(TINYGAME)


# --- wrapper and encoders ----------------------------------------------------------------------

@pytest.mark.parametrize("module", ["retro.examples.snake", "retro.examples.nav", "retro.examples.beast"])
def test_example_games_run_and_encode(module):
    if module.endswith("snake"):
        meta = GameMetadata(["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], "reward")
        pre = {"observe_state": ["apple_dx", "apple_dy"]}
    else:
        meta, _ = load_pyproject_metadata(module)
        pre = {}
    factory = game_factory(module, meta.factory)
    encoder, discovered = build_encoder(factory, meta, pre, exploration_turns=100, rng=random.Random(1))
    env = GameEnv(factory, meta.actions, meta.reward, encoder)
    obs = env.reset()
    width, height = factory().board_size
    assert obs.board.shape == (height, width) and obs.board.dtype == np.uint8
    assert obs.board.max() <= encoder.num_channels and (obs.board > 0).any()
    rng = random.Random(2)
    for _ in range(30):
        obs, reward, done = env.step(rng.randrange(env.num_actions))
        assert isinstance(reward, float)
        if done:
            obs = env.reset()


def test_snake_discovers_its_characters():
    from retro.examples.snake import create_game
    chars = discover_character_set(create_game, ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], 300, random.Random(0))
    assert "@" in chars and {"<", ">", "^", "v"} & set(chars) and " " not in chars and chars == sorted(chars)


def test_board_false_gives_extras_only():
    env, _ = tiny_env(board=False, observe_state=["points"])
    obs = env.reset()
    assert obs.board.shape == (0, 0) and obs.extras.shape == (1,)
    assert env.encoder.num_channels == 0


def test_observation_function_replaces_encoding():
    meta, _ = load_pyproject_metadata("tinygame")
    meta.observation_function = "custom_obs:observe"
    Path(GAMES, "custom_obs.py").write_text(
        "def observe(game):\n    x, y = game.get_agent_by_name('player').position\n"
        "    rows = game.view.board_characters\n    return [x, y, float(rows[y][x] == 'P')]\n")
    try:
        factory = game_factory("tinygame", meta.factory)
        encoder, _ = build_encoder(factory, meta, {})
        env = GameEnv(factory, meta.actions, meta.reward, encoder)
        obs = env.reset()
        np.testing.assert_array_equal(obs.extras, [2, 3, 1])
        assert obs.board.size == 0 and encoder.num_extras == 3
    finally:
        Path(GAMES, "custom_obs.py").unlink()


# --- egocentric views --------------------------------------------------------------------------

class _Agent:
    def __init__(self, name, pos):
        self.name, self.position = name, pos


class _FakeGame:
    """Just what the encoder reads: board size, agents by name and by position."""

    def __init__(self, rows, player_pos):
        self.board_size = (len(rows[0]), len(rows))
        self.state = {}
        self.agents_by_name = {"me": _Agent("me", player_pos)}
        self._cells = {(x, y): ch for y, row in enumerate(rows) for x, ch in enumerate(row) if ch != "."}

    def get_agents_by_position(self):
        out = {}
        for pos, ch in self._cells.items():
            agent = _Agent("x", pos)
            agent.character = ch
            out[pos] = [agent]
        return out


BOARD = ["a.b.",
         "..c.",
         "b..a"]


def _ego(player_pos, radius=1):
    enc = ObservationEncoder(board_size=(4, 3), character_set=["a", "b", "c"],
                             egocentric_player="me", egocentric_radius=radius)
    return enc.encode(_FakeGame(BOARD, player_pos)).board


def test_egocentric_crop_in_the_middle():
    # centred on (2, 1) = 'c': rows 0..2, columns 1..3
    np.testing.assert_array_equal(_ego((2, 1)), [[0, 2, 0], [0, 3, 0], [0, 0, 1]])


def test_egocentric_crop_at_corners_marks_off_board_cells():
    off = 4  # len(character_set) + 1
    np.testing.assert_array_equal(_ego((0, 0)), [[off, off, off], [off, 1, 0], [off, 0, 0]])
    np.testing.assert_array_equal(_ego((3, 2)), [[3, 0, off], [0, 1, off], [off, off, off]])


def test_egocentric_radius_larger_than_board():
    view = _ego((1, 1), radius=3)
    assert view.shape == (7, 7)
    off = 4
    expected = np.full((7, 7), off)
    expected[2:5, 2:6] = [[1, 0, 2, 0], [0, 0, 3, 0], [2, 0, 0, 1]]
    np.testing.assert_array_equal(view, expected)


def test_egocentric_encoder_shape_and_channels():
    env, _ = tiny_env(egocentric=True, egocentric_player="player", egocentric_radius=2)
    assert env.encoder.board_shape == (5, 5) and env.encoder.num_channels == 5
    obs = env.reset()
    assert obs.board[2, 2] == 4  # the player is in the centre
    assert (obs.board[3:, :] == 5).all()  # the player stands on the bottom row: below is off-board


def test_unknown_character_strategy():
    game = start_game(game_factory("tinygame", "tinygame:build"))
    enc = ObservationEncoder(board_size=(6, 4), character_set=["A", "B", "C"])
    assert enc.encode(game).board.sum() == 1 + 2 + 3  # 'P' ignored, like the reference
    strict = ObservationEncoder(board_size=(6, 4), character_set=["A", "B", "C"], unknown_character_strategy="error")
    with pytest.raises(UnknownCharacterError, match=r"'P'.*character_set"):
        strict.encode(game)
