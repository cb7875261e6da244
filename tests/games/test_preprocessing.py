import pytest

from jaxdqn.errors import ConfigError, JaxdqnError
from jaxdqn.games.metadata import game_factory, load_pyproject_metadata
from jaxdqn.games.preprocessing import build_encoder
from tests.support.runs import tiny_env

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
    assert field in [p.field for p in err.value.problems]
    assert "fix:" in str(err.value)


def test_egocentric_player_not_in_game():
    with pytest.raises(JaxdqnError, match=r"egocentric_player = 'hero'.*\['clock', 'crate', 'player'\]"):
        tiny_env(egocentric=True, egocentric_player="hero", egocentric_radius=2)


def test_observation_function_and_observe_state_are_exclusive():
    meta, _ = load_pyproject_metadata("tinygame")
    meta.observation_function = "tinygame:build"
    with pytest.raises(ConfigError) as err:
        build_encoder(game_factory("tinygame", meta.factory), meta, {"observe_state": ["points"]})
    assert "preprocessing.observe_state" in [p.field for p in err.value.problems]
