import numpy as np
import pytest

from jaxdqn.errors import JaxdqnError
from jaxdqn.games.env import GameEnv, VectorEnv
from jaxdqn.games.metadata import game_factory, load_pyproject_metadata
from jaxdqn.games.preprocessing import build_encoder
from tests.support.runs import tiny_env


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


def test_vector_env_steps_games_in_lockstep():
    envs = VectorEnv([tiny_env()[0] for _ in range(3)])
    assert [envs.reset(i).board.shape for i in range(3)] == [(4, 6)] * 3
    obs, rewards, dones = envs.step([0, 1, 2])
    np.testing.assert_array_equal(rewards, [-1, 1, 0])
    assert dones.shape == (3,) and not dones.any()


def test_wrong_reward_key_is_explained():
    meta, _ = load_pyproject_metadata("tinygame")
    factory = game_factory("tinygame", meta.factory)
    encoder, _ = build_encoder(factory, meta, {})
    with pytest.raises(JaxdqnError, match=r"reward = 'score'.*'points'"):
        GameEnv(factory, meta.actions, "score", encoder).reset()


def test_a_character_met_only_on_a_games_last_frame_is_counted_apart():
    import dataclasses

    from tests.support.runs import TINYGAME
    meta, _ = load_pyproject_metadata("tinygame", str(TINYGAME))
    meta = dataclasses.replace(meta, character_set=["A", "B", "C"])  # the player's P is unknown
    factory = game_factory("tinygame", meta.factory, str(TINYGAME))
    encoder, _ = build_encoder(factory, meta, {"observe_state": ["where"]})
    env = GameEnv(factory, meta.actions, meta.reward, encoder)
    env.reset()
    done = False
    while not done:
        _, _, done = env.step(0)
    assert encoder.unknown_seen == {"P": 12} and encoder.unknown_on_last_frame == {"P": 1}  # reset + 11, the last


def test_discovery_finds_the_characters_the_games_code_gives_its_agents():
    import random

    from retro.examples.snake import create_game

    from jaxdqn.games.encoding import agent_characters, discover_character_set, start_game
    assert agent_characters(start_game(create_game)) == {"@", "v", ">", "^", "<", "*"}  # * is the body
    actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
    assert "*" in discover_character_set(create_game, actions, 5, random.Random(0))
    assert "*" not in discover_character_set(create_game, actions, 5, random.Random(0), from_source=False)
