import pytest

from jaxdqn.errors import ConfigError, JaxdqnError
from jaxdqn.games.metadata import GameMetadata, game_factory, import_game_module, load_pyproject_metadata

# --- metadata ----------------------------------------------------------------------------------

def test_tinygame_metadata_from_pyproject_with_custom_factory():
    meta, path = load_pyproject_metadata("tinygame")
    assert path.endswith("pyproject.toml")
    assert meta.actions == ["KEY_LEFT", "KEY_RIGHT"] and meta.reward == "points"
    assert meta.factory == "tinygame:build" and meta.num_actions == 3
    assert game_factory("tinygame", meta.factory)().board_size == (6, 4)


@pytest.mark.parametrize("module", ["retro.examples.nav", "retro.examples.beast"])
def test_example_games_metadata(module):
    meta, _ = load_pyproject_metadata(module)
    assert meta.spatial is True and meta.reward == "score" and meta.character_set


def test_snake_has_no_pyproject_and_gets_the_built_in_metadata():
    meta, source = load_pyproject_metadata("retro.examples.snake")
    assert meta.reward == "reward" and meta.actions == ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
    assert "*" in meta.character_set and "built-in" in source


def test_a_game_without_metadata_says_how_to_fix(tmp_path):
    (tmp_path / "loose_game.py").write_text("def create_game():\n    pass\n")
    with pytest.raises(ConfigError, match=r"(?s)pyproject.toml.*\[metadata\].*runs/snake/config.toml"):
        load_pyproject_metadata("loose_game", str(tmp_path))


@pytest.mark.parametrize("typo, guess", [("retro.examples.snak", "retro.examples.snake"),
                                         ("retro.exampels.nav", "retro.examples.nav"),
                                         ("retor.examples.snake", "retro.examples.snake")])
def test_a_misspelt_module_gets_a_suggestion(typo, guess):
    with pytest.raises(JaxdqnError, match=f"did you mean '{guess}'"):
        import_game_module(typo)


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
    assert field in [p.field for p in err.value.problems]
    text = str(err.value)
    assert words in text and "why:" in text and "fix:" in text


def test_all_metadata_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        GameMetadata.from_dict({"actions": [], "character_set": ["xy"]})
    assert {"metadata.actions", "metadata.reward", "metadata.character_set"} <= set([p.field for p in err.value.problems])


