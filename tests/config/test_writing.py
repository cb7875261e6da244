import pytest

from jaxdqn.config import load_config
from jaxdqn.config.writing import record_discovered, set_value, write_config
from jaxdqn.errors import JaxdqnError
from tests.support.runs import make_run


def test_record_discovered_keeps_comments_and_order(tmp_path):
    run = make_run(tmp_path)
    path = run / "config.toml"
    added = record_discovered(path, {"metadata.character_set": ["A", "B"], "metadata.reward": "other"})
    assert added == ["metadata.character_set"]  # a value the user wrote is never replaced
    text = path.read_text()
    assert 'reward = "points"' in text and "# a tiny run for the tests" in text
    assert text.index("[game]") < text.index("[metadata]") < text.index("[training]")
    assert record_discovered(path, {"metadata.character_set": ["Z"]}) == []
    assert 'character_set = ["A", "B"]' in path.read_text()


def test_write_config_writes_every_training_key_with_its_meaning_and_never_overwrites(tmp_path):
    run = tmp_path / "new"
    path = write_config(run, game={"module": "tinygame", "path": None}, metadata={"actions": ["KEY_LEFT"], "reward": "points"},
                        preprocessing={"observe_state": ["where"]}, hidden_sizes=[8], training={"batch_size": 16},
                        header=["made by a test"])
    text = path.read_text()
    assert text.startswith("# made by a test") and "batch_size = 16 # transitions per gradient step" in text
    assert "# seed = 1" in text and "memory_capacity = 50000" in text and "hidden_sizes = [8]" in text
    with pytest.raises(JaxdqnError, match="already exists"):
        write_config(run, game={"module": "x"}, metadata={}, preprocessing={}, hidden_sizes=[1], training={},
                     header=[])
    assert path.read_text() == text


def test_set_value_changes_one_value_and_keeps_the_rest(tmp_path):
    run = make_run(tmp_path)
    path = run / "config.toml"
    before = path.read_text()
    assert set_value(path, "training.training_episodes", 45) == 30
    after = path.read_text()
    assert after == before.replace("training_episodes = 30", "training_episodes = 45")
    assert load_config(run).training["training_episodes"] == 45
