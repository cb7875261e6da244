import sys

import flax.linen as nn
import jax.numpy as jnp
import pytest

from jaxdqn.config import load_config
from jaxdqn.config.assembly import assemble_config
from jaxdqn.config.fingerprint import IncompatibleCheckpoint
from jaxdqn.core.networks import one_hot_board
from jaxdqn.errors import ConfigError
from jaxdqn.games.metadata import GameMetadata, game_factory
from jaxdqn.trainers import DQNTrainer, trainer_from_config
from tests.support.runs import TINY_CONFIG, TINYGAME, make_run

NETWORKS = '''
import flax.linen as nn
import jax.numpy as jnp
from jaxdqn.core.networks import one_hot_board


class Dueling(nn.Module):
    """A dueling head over the one-hot board and the extras."""
    spec: object

    @nn.compact
    def __call__(self, obs):
        board = one_hot_board(obs.board, self.spec.num_channels).reshape(obs.board.shape[0], -1)
        x = nn.relu(nn.Dense(32)(jnp.concatenate([board, obs.extras], -1)))
        value, advantage = nn.Dense(1)(x), nn.Dense(self.spec.num_actions)(x)
        return value + advantage - advantage.mean(-1, keepdims=True)


class Seven(nn.Module):
    @nn.compact
    def __call__(self, obs):
        return nn.Dense(7)(obs.extras)


def wrong_width(spec):
    return Seven()


class ReadmeDueling(nn.Module):
    """The README's form: a field named after a NetworkSpec field, with a default."""
    num_actions: int = 5

    @nn.compact
    def __call__(self, obs):
        x = one_hot_board(obs.board, 6).reshape(obs.board.shape[0], -1)
        x = nn.relu(nn.Dense(16)(jnp.concatenate([x, obs.extras], -1)))
        value, advantage = nn.Dense(1)(x), nn.Dense(self.num_actions)(x)
        return value + advantage - advantage.mean(-1, keepdims=True)


readme_dueling = ReadmeDueling(num_actions=3)  # an instance, sized for the tiny game by hand


def make_dueling(spec):
    return ReadmeDueling(num_actions=spec.num_actions)


class NeedsDepth(nn.Module):
    depth: int

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(3)(obs.extras)


not_a_network = 42
'''


@pytest.fixture
def networks_module(tmp_path, monkeypatch):
    (tmp_path / "my_networks.py").write_text(NETWORKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("my_networks", None)


@pytest.mark.slow
def test_a_network_of_your_own_from_config_trains_saves_and_plays(tmp_path, networks_module, capsys):
    from jaxdqn.cli import main
    text = TINY_CONFIG.replace("hidden_sizes = [16]", 'hidden_sizes = [16]\nnetwork = "my_networks:Dueling"')
    run = make_run(tmp_path, text, training_episodes=10)
    with trainer_from_config(load_config(run)) as trainer:
        assert not trainer.parts.network.builtin and trainer.pipeline.rows_width == 0  # boards, not row lists
        trainer.train(on_episode=lambda: None)
    log = (run / "training.log").read_text()
    assert "network = 'my_networks.Dueling': your own module" in log and "Dense_0" in log
    assert main(["play", str(run), "--headless"]) == 0 and "played 12 turns" in capsys.readouterr().out
    (run / "config.toml").write_text((run / "config.toml").read_text().replace('network = "my_networks:Dueling"\n', ""))
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(IncompatibleCheckpoint) as err:
        trainer.resume()
    assert "model.network" in str(err.value) and "was: 'my_networks.Dueling'" in str(err.value)


@pytest.mark.parametrize("reference", ["my_networks:ReadmeDueling", "my_networks:readme_dueling",
                                       "my_networks:make_dueling", "my_networks:Dueling"],
                         ids=["class", "instance", "factory", "class with a spec field"])
def test_a_network_of_your_own_from_config_in_every_documented_form(tmp_path, networks_module, reference):
    text = TINY_CONFIG.replace("hidden_sizes = [16]", f'hidden_sizes = [16]\nnetwork = "{reference}"')
    parts = assemble_config(load_config(make_run(tmp_path, text)))
    assert not parts.network.builtin and parts.spec.num_actions == 3
    assert any("Dense_0" in path for path in parts.param_shapes)


@pytest.mark.parametrize("reference, words", [("my_networks:wrong_width", "returns shape (2, 7)"),
                                              ("my_networks:NeedsDepth", "field(s) depth have no default"),
                                              ("my_networks:not_a_network", "is an object of type int, none of the accepted"),
                                              ("my_networks:missing", "no attribute"),
                                              ("my_networks", "is not of the form")])
def test_a_network_that_does_not_fit_is_named(tmp_path, networks_module, reference, words):
    text = TINY_CONFIG.replace("hidden_sizes = [16]", f'hidden_sizes = [16]\nnetwork = "{reference}"')
    with pytest.raises(ConfigError) as err:
        config = load_config(make_run(tmp_path, text))
        assemble_config(config).network
    assert "model.network" in str(err.value) and words in str(err.value)
    if "my_networks:" in reference and "missing" not in reference:
        assert "accepted: a flax module class" in str(err.value)


@pytest.mark.slow
def test_the_trainer_takes_a_flax_module(tmp_path, monkeypatch):
    class Linear(nn.Module):
        @nn.compact
        def __call__(self, obs):
            board = one_hot_board(obs.board, 4).reshape(obs.board.shape[0], -1)
            return nn.Dense(3)(jnp.concatenate([board, obs.extras], -1))

    monkeypatch.syspath_prepend(str(TINYGAME))
    meta = GameMetadata(["KEY_LEFT", "KEY_RIGHT"], "points", character_set=["A", "B", "C", "P"])
    with DQNTrainer(game_factory("tinygame", "tinygame:build"), meta, tmp_path / "api",
                    {"observe_state": ["where"]}, network=Linear(), training_episodes=3, batch_size=8,
                    seed=1) as trainer:
        trainer.train(on_episode=lambda: None)
        assert set(trainer.pipeline.learner.params) == {"Dense_0"}


@pytest.mark.slow
def test_a_dueling_head_from_config_trains_and_is_part_of_the_fingerprint(tmp_path):
    """The host loop here; the compiled loop builds its network from the same assembly (test_networks checks
    the head itself)."""
    run = make_run(tmp_path, TINY_CONFIG.replace("hidden_sizes = [16]", "hidden_sizes = [16]\ndueling = true"),
                   training_episodes=10, checkpoint_every=10)
    with trainer_from_config(load_config(run)) as trainer:
        assert any("advantage" in path for path in trainer.parts.param_shapes)
        trainer.train(on_episode=lambda: None)
    assert "[INIT] Dueling head: Q = V + A - mean(A)" in (run / "training.log").read_text()
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("dueling = true\n", ""))
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(IncompatibleCheckpoint) as err:
        trainer.resume()
    assert "model.dueling" in str(err.value) and "was: True" in str(err.value)


def test_the_compiled_loop_builds_the_dueling_head_too(tmp_path):
    from jaxdqn.trainers.compiled import CompiledTrainer
    from tests.support.runs import PAINT_CONFIG
    run = make_run(tmp_path, PAINT_CONFIG.replace("hidden_sizes = [16]", "hidden_sizes = [16]\ndueling = true"))
    with trainer_from_config(load_config(run)) as trainer:
        assert isinstance(trainer, CompiledTrainer)
        assert {"value", "advantage"} <= set(trainer.state.learner.params)  # what the compiled runner trains


def test_dueling_with_a_network_of_your_own_is_refused(tmp_path, networks_module):
    text = TINY_CONFIG.replace("hidden_sizes = [16]", 'hidden_sizes = [16]\ndueling = true\nnetwork = "my_networks:Dueling"')
    with pytest.raises(ConfigError, match="model.dueling: is set with a network of your own"):
        load_config(make_run(tmp_path, text))
