"""``n_step`` in both loops: it changes the targets, a resume with the replay saved continues exactly, and a
replay saved with other returns is not reused."""
import jax
import numpy as np
import pytest

from jaxdqn.config import load_config
from jaxdqn.core import Settings, TrainConfig, make_train
from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.run.metrics import read_metrics
from jaxdqn.trainers import trainer_from_config
from tests.support.games.paint import paint_jax
from tests.support.runs import PAINT_CONFIG, TINY_CONFIG, make_run


def trained(run):
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume()
        trainer.train(on_episode=lambda: None)
    return trainer


def losses(run):
    return [float(r["loss"]) for r in read_metrics(run / "metrics.csv") if int(r.get("agent") or 0) == 0]


def rewards(run):
    return [float(r["reward"]) for r in read_metrics(run / "metrics.csv") if int(r.get("agent") or 0) == 0]


@pytest.mark.slow
@pytest.mark.parametrize("config", [TINY_CONFIG, PAINT_CONFIG], ids=["host", "compiled"])
def test_n_step_returns_train_and_resume_exactly_with_the_replay_saved(tmp_path, config):
    settings = dict(num_envs=2, save_replay_buffer="true", checkpoint_every=6)
    whole = make_run(tmp_path, config, name="whole", n_step=3, training_episodes=12, **settings)
    split = make_run(tmp_path, config, name="split", n_step=3, training_episodes=6, **settings)
    one_step = make_run(tmp_path, config, name="one", training_episodes=12, **settings)
    trained(whole)
    trained(split)
    (split / "config.toml").write_text((split / "config.toml").read_text().replace("training_episodes = 6",
                                                                                   "training_episodes = 12"))
    trained(split)
    trained(one_step)
    assert Checkpoints(split / "checkpoints").has_replay(12)
    assert rewards(split) == rewards(whole) and losses(split) == losses(whole)
    assert losses(whole) != losses(one_step)  # the targets are other ones


@pytest.mark.slow
def test_a_replay_saved_with_other_returns_or_games_starts_empty_and_says_so(tmp_path):
    run = make_run(tmp_path, n_step=3, save_replay_buffer="true", training_episodes=10, checkpoint_every=10)
    trained(run)
    text = (run / "config.toml").read_text().replace("training_episodes = 10", "training_episodes = 20")
    (run / "config.toml").write_text(text.replace("n_step = 3", "n_step = 3\nnum_envs = 2"))
    trained(run)
    log = (run / "training.log").read_text()
    assert ("[RESUME] this checkpoint holds a replay buffer made with num_envs = 1 (now 2); starting with an "
            "empty one") in log
    (run / "config.toml").write_text(text.replace("training_episodes = 20", "training_episodes = 30")
                                     .replace("n_step = 3", "n_step = 1"))
    trained(run)
    assert "made with n_step = 3 (now 1)" in (run / "training.log").read_text()


@pytest.mark.slow
def test_make_train_takes_n_step_in_its_settings():
    settings = Settings(batch_size=8, memory_capacity=300, target_update_freq=20, learning_rate=1e-3,
                        epsilon_decay=0.95, rows_width=64)
    runs = {n: jax.jit(make_train(TrainConfig(paint_jax.JAX_GAME, settings._replace(n_step=n), episodes=8,
                                              hidden_sizes=(16,))))(jax.random.PRNGKey(0))[1]
            for n in (1, 4)}
    assert not np.allclose(runs[1]["episode_loss"], runs[4]["episode_loss"])
    assert np.all(np.isfinite(runs[4]["episode_loss"]))


def test_n_step_is_checked_like_every_setting(tmp_path, capsys):
    from jaxdqn.cli import main
    for value, why in (("0", "is not a positive whole number"), ("101", "is more than 100"),
                       ("2.5", "is not a positive whole number")):
        run = make_run(tmp_path, name=f"bad{value}", n_step=value)
        assert main(["train", str(run)]) == 2
        err = capsys.readouterr().err
        assert "training.n_step" in err and why in err, err
        assert not (run / "checkpoints").exists()
