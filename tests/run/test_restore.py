"""Checkpoints written by jaxdqn 0.1.0 (before flax networks and typed sum trees) still load."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxdqn.config import load_config
from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.trainers import trainer_from_config
from tests.support.runs import TINYGAME

FIXTURE = Path(__file__).parents[1] / "support" / "fixtures" / "old_run"


@pytest.fixture
def old_run(tmp_path):
    run = tmp_path / "old_run"
    shutil.copytree(FIXTURE, run)
    text = (run / "config.toml").read_text().replace('path = "../../games/tinygame"', f'path = "{TINYGAME.as_posix()}"')
    (run / "config.toml").write_text(text)
    return run


def test_the_fixture_is_in_the_old_layout():
    meta = Checkpoints(FIXTURE / "checkpoints").read_meta(10)
    assert "param_layout" not in meta and meta["replay_layout"] == 2


def test_an_old_checkpoint_plays_with_the_q_values_it_had(old_run):
    from jaxdqn.games.encoding import start_game
    from jaxdqn.policy import TrainedPolicy
    expected = json.loads((FIXTURE / "q_values.json").read_text())
    ai = TrainedPolicy(old_run)
    game = start_game(ai.factory)
    obs = ai.encoder.encode(game)
    assert obs.board.tolist() == expected["board"] and obs.extras.tolist() == expected["extras"]
    np.testing.assert_allclose(ai.q_values(game), expected["q_values"], rtol=1e-6)
    assert set(ai.params) == {"input", "q_values"}


def test_training_resumes_from_an_old_checkpoint_with_its_replay(old_run):
    text = (old_run / "config.toml").read_text().replace("training_episodes = 10", "training_episodes = 12")
    (old_run / "config.toml").write_text(text)
    with trainer_from_config(load_config(old_run)) as trainer:
        assert trainer.resume() == "ep_0010"
        assert trainer.pipeline.buffer_items == 120  # the old replay buffer came back too
        rewards = []
        trainer.train(on_episode=lambda: rewards.append(trainer.last_episode.reward))
    assert len(rewards) == 2
    meta = Checkpoints(old_run / "checkpoints").read_meta(12)
    assert meta["param_layout"] == "flax-1" and meta["replay_layout"] == 3


def test_the_commands_work_on_an_old_run(old_run, capsys):
    from jaxdqn.cli import main
    for args in (["info", old_run], ["eval", old_run, "-k", "2"], ["play", old_run, "--headless"]):
        code = main([str(a) for a in args])
        assert code == 0, capsys.readouterr().err


def test_a_replay_from_before_n_step_counts_as_one_step_in_the_check_and_the_note():
    from jaxdqn.config.schema import TRAINING_DEFAULTS
    from jaxdqn.run.restore import replay_fits, replay_not_restored
    before = {k: v for k, v in TRAINING_DEFAULTS.items() if k != "n_step"}  # what older checkpoints recorded
    assert replay_fits(before, dict(TRAINING_DEFAULTS))
    three = dict(TRAINING_DEFAULTS, n_step=3)
    assert not replay_fits(before, three)
    assert replay_not_restored(True, before, three) == ("[RESUME] this checkpoint holds a replay buffer made with "
                                                        "n_step = 1 (now 3); starting with an empty one")
