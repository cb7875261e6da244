import random
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxdqn.errors import ConfigError, JaxdqnError
from jaxdqn.games.encoding import (ObservationEncoder, UnknownCharacterError, discover_character_set,
                                   start_game)
from jaxdqn.games.env import GameEnv, VectorEnv
from jaxdqn.games.metadata import GameMetadata, game_factory, load_pyproject_metadata
from jaxdqn.games.preprocessing import build_encoder

GAMES = str(Path(__file__).parent / "games" / "tinygame")


@pytest.fixture(autouse=True)
def tinygame_on_path():
    sys.path.insert(0, GAMES)
    yield
    sys.path.remove(GAMES)


def tiny_env(**pre):
    meta, _ = load_pyproject_metadata("tinygame")
    factory = game_factory("tinygame", meta.factory)
    encoder, discovered = build_encoder(factory, meta, pre, exploration_turns=50, rng=random.Random(0))
    return GameEnv(factory, meta.actions, meta.reward, encoder), discovered


# --- metadata ----------------------------------------------------------------------------------

def test_tinygame_metadata_from_pyproject_with_custom_factory():
    meta, path = load_pyproject_metadata("tinygame")
    assert path.name == "pyproject.toml"
    assert meta.actions == ["KEY_LEFT", "KEY_RIGHT"] and meta.reward == "points"
    assert meta.factory == "tinygame:build" and meta.num_actions == 3
    assert game_factory("tinygame", meta.factory)().board_size == (6, 4)


@pytest.mark.parametrize("module", ["retro.examples.nav", "retro.examples.beast"])
def test_example_games_metadata(module):
    meta, _ = load_pyproject_metadata(module)
    assert meta.spatial is True and meta.reward == "score" and meta.character_set


def test_snake_has_no_pyproject_and_says_how_to_fix():
    with pytest.raises(ConfigError, match=r"(?s)pyproject.toml.*\[tool.retro-gamer\]"):
        load_pyproject_metadata("retro.examples.snake")


def test_metadata_round_trips_through_dict():
    meta = GameMetadata.from_dict({"actions": ["a"], "reward": "r", "character_set": ["x"], "board_size": [3, 2]})
    assert GameMetadata.from_dict(meta.to_dict()) == meta


BAD_METADATA = [
    ({"reward": "score"}, "metadata.actions", "missing or empty"),
    ({"actions": [], "reward": "score"}, "metadata.actions", "missing or empty"),
    ({"actions": "KEY_UP", "reward": "score"}, "metadata.actions", "not a list"),
    ({"actions": ["KEY_UP"]}, "metadata.reward", "missing"),
    ({"actions": ["KEY_UP"], "reward": 3}, "metadata.reward", "not a string"),
    ({"actions": ["KEY_UP"], "reward": "s", "character_set": ["ab", "c"]}, "metadata.character_set", "single characters"),
    ({"actions": ["KEY_UP"], "reward": "s", "character_set": "abc"}, "metadata.character_set", "not a list"),
    ({"actions": ["KEY_UP"], "reward": "s", "spatial": "yes"}, "metadata.spatial", "true or false"),
    ({"actions": ["KEY_UP"], "reward": "s", "factory": "tinygame.build"}, "metadata.factory", "module:attr"),
    ({"actions": ["KEY_UP"], "reward": "s", "factory": "no_such_mod:build"}, "metadata.factory", "cannot be imported"),
    ({"actions": ["KEY_UP"], "reward": "s", "factory": "tinygame:nope"}, "metadata.factory", "no attribute 'nope'"),
    ({"actions": ["KEY_UP"], "reward": "s", "observation_function": "tinygame"}, "metadata.observation_function", "module:attr"),
    ({"actions": ["KEY_UP"], "reward": "s", "rewrad": "x"}, "metadata.rewrad", "'reward'"),
]


@pytest.mark.parametrize("data, field, words", BAD_METADATA)
def test_bad_metadata_names_the_field_and_fix(data, field, words):
    with pytest.raises(ConfigError) as err:
        GameMetadata.from_dict(data)
    assert field in err.value.fields()
    text = str(err.value)
    assert words in text and "why:" in text and "fix:" in text


def test_all_metadata_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        GameMetadata.from_dict({"actions": [], "character_set": ["xy"]})
    assert {"metadata.actions", "metadata.reward", "metadata.character_set"} <= set(err.value.fields())


# --- wrapper and encoders ----------------------------------------------------------------------

def test_tinygame_multi_cell_hidden_agent_and_tuple_state():
    env, discovered = tiny_env(observe_state=["where", "points"])
    assert discovered["character_set"] == ["A", "B", "C", "P"]
    assert discovered["observe_state_sizes"] == {"where": 2, "points": 1}
    obs = env.reset()
    expected = np.zeros((4, 6), np.uint8)
    expected[0, 0], expected[0, 1], expected[1, 0], expected[3, 2] = 1, 2, 3, 4  # A B / C blank / P
    np.testing.assert_array_equal(obs.board, expected)
    np.testing.assert_array_equal(obs.extras, [2, 3, 0])
    obs, reward, done = env.step(1)  # KEY_RIGHT
    assert reward == 1.0 and not done and obs.board[3, 3] == 4
    np.testing.assert_array_equal(obs.extras, [3, 3, 1])
    obs, reward, done = env.step(2)  # the no-op
    assert reward == 0.0
    for _ in range(9):
        obs, reward, done = env.step(0)
        assert not done
    obs, reward, done = env.step(0)
    assert done  # the hidden clock ended it on turn 12


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


def test_vector_env_steps_games_in_lockstep():
    envs = VectorEnv([tiny_env()[0] for _ in range(3)])
    obs = envs.reset_all()
    assert obs.board.shape == (3, 4, 6)
    obs, rewards, dones = envs.step([0, 1, 2])
    np.testing.assert_array_equal(rewards, [-1, 1, 0])
    assert dones.shape == (3,) and not dones.any()


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


# --- bad preprocessing -------------------------------------------------------------------------

BAD_PREPROCESSING = [
    ({"egocentric": True, "egocentric_player": "player"}, "preprocessing.egocentric_radius"),
    ({"egocentric": True, "egocentric_radius": 2}, "preprocessing.egocentric_player"),
    ({"board": False}, "preprocessing.board"),
    ({"board": False, "spatial": True, "observe_state": ["points"]}, "preprocessing.board"),
    ({"observe_state": "points"}, "preprocessing.observe_state"),
    ({"observe_state": ["nope"]}, "preprocessing.observe_state"),
    ({"observe_state": ["label"]}, "preprocessing.observe_state"),
    ({"egocentrik": True}, "preprocessing.egocentrik"),
]


@pytest.mark.parametrize("pre, field", BAD_PREPROCESSING)
def test_bad_preprocessing_names_the_field(pre, field):
    with pytest.raises(ConfigError) as err:
        tiny_env(**pre)
    assert field in err.value.fields()
    assert "fix:" in str(err.value)


def test_egocentric_player_not_in_game():
    with pytest.raises(JaxdqnError, match=r"egocentric_player = 'hero'.*\['clock', 'crate', 'player'\]"):
        tiny_env(egocentric=True, egocentric_player="hero", egocentric_radius=2)


def test_observation_function_and_observe_state_are_exclusive():
    meta, _ = load_pyproject_metadata("tinygame")
    meta.observation_function = "tinygame:build"
    with pytest.raises(ConfigError) as err:
        build_encoder(game_factory("tinygame", meta.factory), meta, {"observe_state": ["points"]})
    assert "preprocessing.observe_state" in err.value.fields()


def test_unknown_character_strategy():
    game = start_game(game_factory("tinygame", "tinygame:build"))
    enc = ObservationEncoder(board_size=(6, 4), character_set=["A", "B", "C"])
    assert enc.encode(game).board.sum() == 1 + 2 + 3  # 'P' ignored, like the reference
    strict = ObservationEncoder(board_size=(6, 4), character_set=["A", "B", "C"], unknown_character_strategy="error")
    with pytest.raises(UnknownCharacterError, match=r"'P'.*character_set"):
        strict.encode(game)


def test_wrong_reward_key_is_explained():
    meta, _ = load_pyproject_metadata("tinygame")
    factory = game_factory("tinygame", meta.factory)
    encoder, _ = build_encoder(factory, meta, {})
    with pytest.raises(JaxdqnError, match=r"reward = 'score'.*'points'"):
        GameEnv(factory, meta.actions, "score", encoder).reset()
