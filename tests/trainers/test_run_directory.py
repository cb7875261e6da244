"""The run directory across starts, stops, crashes and damage (the trainer's lifecycle)."""
import os
import signal

import pytest

from jaxdqn.config import load_config
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoints import Checkpoints, DamagedCheckpoint
from jaxdqn.run.lock import RunLocked
from jaxdqn.run.log import parse_log
from jaxdqn.run.metrics import COLUMNS, read_metrics
from jaxdqn.trainers import trainer_from_config
from jaxdqn.trainers.memory import NotEnoughMemory
from jaxdqn.trainers.run_directory import RunNotWritable
from tests.support.runs import PAINT_CONFIG, TINY_CONFIG, make_run


def train(run, checkpoint=None):
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume(checkpoint)
        rewards = []
        trainer.train(on_episode=lambda: rewards.append(trainer.last_episode.reward))
    return trainer, rewards


def damage(run, episode):
    meta = run / "checkpoints" / f"ep_{episode:04d}" / "meta" / "metadata"
    meta.write_bytes(b"\xff\xfe garbage")


def logged(run):
    return [s.episode for s in parse_log(run / "training.log")]


@pytest.mark.slow
def test_train_falls_back_past_damaged_checkpoints_and_keeps_them(tmp_path):
    run = make_run(tmp_path, training_episodes=30, checkpoint_every=10)
    train(run)
    damage(run, 30)
    damage(run, 20)
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("training_episodes = 30",
                                                                               "training_episodes = 40"))
    trainer, rewards = train(run)
    assert trainer._resumed_from == "ep_0010" and len(rewards) == 30
    text = (run / "training.log").read_text()
    after_marker = text.split("=== Resumed from ep_0010")[1]
    assert "ep_0030 cannot be restored" in after_marker and "kept as checkpoints/ep_0030.damaged" in after_marker
    assert "removed the log lines of ep_0020, ep_0030" in after_marker
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["ep_0010", "ep_0020", "ep_0020.damaged", "ep_0030", "ep_0030.damaged", "ep_0040"]
    assert logged(run) == [10, 20, 30, 40]  # one line per checkpoint, none twice


def test_when_no_checkpoint_restores_the_message_says_how_to_start_fresh(tmp_path):
    run = make_run(tmp_path, training_episodes=20, checkpoint_every=10)
    train(run)
    damage(run, 10)
    damage(run, 20)
    before = (run / "training.log").read_text()
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(JaxdqnError) as err:
        trainer.resume()
    text = str(err.value)
    assert "no checkpoint" in text and "ep_0010:" in text and "ep_0020:" in text and "jaxdqn clean" in text
    assert (run / "training.log").read_text() == before  # nothing written, nothing moved
    assert Checkpoints(run / "checkpoints").names() == ["ep_0010", "ep_0020"]


@pytest.mark.slow
def test_a_chosen_checkpoint_sets_newer_ones_aside_and_trims_the_log(tmp_path):
    run = make_run(tmp_path, training_episodes=30, checkpoint_every=10)
    train(run)
    trainer, rewards = train(run, checkpoint="ep_0010")
    assert len(rewards) == 20 and trainer.total_steps == 30 * 12
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["ep_0010", "ep_0020", "ep_0020.superseded", "ep_0030", "ep_0030.superseded"]
    assert logged(run) == [10, 20, 30]
    with trainer_from_config(load_config(run)) as again, pytest.raises(JaxdqnError, match="ep_0015.*available"):
        again.resume("ep_0015")


def test_a_damaged_chosen_checkpoint_is_named_with_a_way_out(tmp_path):
    run = make_run(tmp_path, training_episodes=20, checkpoint_every=10)
    train(run)
    damage(run, 20)
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(JaxdqnError) as err:
        trainer.resume("ep_0020")
    assert "ep_0020 is damaged" in str(err.value) and "--checkpoint ep_0010" in str(err.value)
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(DamagedCheckpoint):
        trainer.load_checkpoint("ep_0020")


@pytest.mark.slow
def test_the_log_records_only_what_happened(tmp_path):
    run = make_run(tmp_path, training_episodes=10)
    train(run)
    log = (run / "training.log").read_text()
    assert log.count("[INIT] seed = 7") == 1
    train(run)  # already complete: nothing to log
    cfg = (run / "config.toml").read_text()
    (run / "config.toml").write_text(cfg.replace("hidden_sizes = [16]", "hidden_sizes = [8]"))
    with pytest.raises(JaxdqnError):
        train(run)  # a failed resume: nothing to log either
    assert (run / "training.log").read_text() == log
    (run / "config.toml").write_text(cfg.replace("training_episodes = 10", "training_episodes = 20")
                                     .replace("learning_rate = 0.001", "learning_rate = 0.002"))
    train(run)
    text = (run / "training.log").read_text()
    assert text.count("[INIT] seed = 7") == 1  # a resume continues the saved random state: no new seed line
    session = text.split("=== Resumed from ep_0010")[1]
    assert "[RESUME] learning_rate changed: 0.001 -> 0.002" in session  # under the marker it belongs to
    assert "[RESUME] training_episodes changed: 10 -> 20" in session


def test_a_second_trainer_on_the_same_run_refuses_at_once(tmp_path):
    run = make_run(tmp_path, training_episodes=10)
    with trainer_from_config(load_config(run)):
        with pytest.raises(RunLocked, match=rf"in use.*pid {os.getpid()}"):
            trainer_from_config(load_config(run))
    with trainer_from_config(load_config(run)):  # released
        pass


def test_a_read_only_run_directory_is_named_before_any_work(tmp_path, monkeypatch):
    run = make_run(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(run) else real_access(path, mode))
    with pytest.raises(RunNotWritable, match=rf"cannot write to {run}.*chmod"):
        trainer_from_config(load_config(run))
    assert not (run / "training.log").exists() and not (run / ".train.lock").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_really_read_only_run_directory(tmp_path):
    run = make_run(tmp_path)
    run.chmod(0o555)
    try:
        with pytest.raises(RunNotWritable):
            trainer_from_config(load_config(run))
    finally:
        run.chmod(0o755)


@pytest.mark.parametrize("setting, words", [
    ('memory_capacity = 200', "memory_capacity = 100,000,000,000"),
    ('hidden_sizes = [16]', "model.hidden_sizes = [100000, 100000]"),
])
def test_a_run_that_cannot_fit_is_refused_with_the_numbers(tmp_path, setting, words):
    huge = {"memory_capacity = 200": "memory_capacity = 100000000000",
            "hidden_sizes = [16]": "hidden_sizes = [100000, 100000]"}[setting]
    run = make_run(tmp_path, TINY_CONFIG.replace(setting, huge))
    with pytest.raises(NotEnoughMemory) as err:
        trainer_from_config(load_config(run))
    text = str(err.value)
    assert "this run needs about" in text and "available" in text and words in text
    assert "GB" in text or "TB" in text


@pytest.mark.parametrize("training, words", [
    ({"num_envs": 20_000_000}, "games:   training.num_envs = 20,000,000 x"),
    ({"checkpoint_every": 10**11, "training_episodes": 10**11}, "training.checkpoint_every = 100,000,000,000"),
    ({"num_seeds": 2_000_000}, "for each of training.num_seeds = 2,000,000 agents"),
], ids=["games", "records", "agents"])
def test_a_compiled_run_that_cannot_fit_names_the_setting_that_makes_it_large(tmp_path, training, words):
    with pytest.raises(NotEnoughMemory) as err:
        trainer_from_config(load_config(make_run(tmp_path, PAINT_CONFIG, **training)))
    assert words in str(err.value) and "this run needs about" in str(err.value)


def test_a_host_run_with_more_retro_games_than_fit_is_refused_before_making_them(tmp_path, monkeypatch):
    from jaxdqn.games.env import GameEnv
    made = []
    init = GameEnv.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        init(self, *args, **kwargs)
    monkeypatch.setattr(GameEnv, "__init__", counting)
    with pytest.raises(NotEnoughMemory) as err:
        trainer_from_config(load_config(make_run(tmp_path, num_envs=10**9)))
    assert "games:   training.num_envs = 1,000,000,000 x" in str(err.value) and "per retro game" in str(err.value)
    assert len(made) < 10  # a few measured, not a billion made


def test_an_egocentric_view_too_large_to_fit_is_refused(tmp_path):
    text = TINY_CONFIG.replace('observe_state = ["where"]  # a tuple set after the game is created',
                               'egocentric = true\negocentric_player = "player"\negocentric_radius = 4000')
    with pytest.raises(NotEnoughMemory, match="board cells"):
        trainer_from_config(load_config(make_run(tmp_path, text, hidden_sizes="[4096]")))


@pytest.mark.slow
def test_a_run_without_extras_saves_and_restores_its_replay(tmp_path):
    """Zero-size arrays (no observed state values) used to make every save fail."""
    text = TINY_CONFIG.replace('observe_state = ["where"]  # a tuple set after the game is created', "")
    run = make_run(tmp_path, text, save_replay_buffer="true", training_episodes=10, checkpoint_every=5)
    trainer, _ = train(run)
    assert trainer.spec.num_extras == 0
    assert Checkpoints(run / "checkpoints").names() == ["ep_0005", "ep_0010"]
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("training_episodes = 10",
                                                                               "training_episodes = 12"))
    resumed, rewards = train(run)
    assert len(rewards) == 2 and resumed.pipeline.buffer_items == 12 * 12
    assert "starting with an empty one" not in (run / "training.log").read_text()


def test_library_training_leaves_ctrl_c_to_the_program(tmp_path):
    def programs_own(signum, frame):  # whatever the program had (a shell may start it with SIGINT ignored)
        raise KeyboardInterrupt

    run = make_run(tmp_path, training_episodes=2)
    handlers = []
    before = signal.signal(signal.SIGINT, programs_own)
    try:
        with trainer_from_config(load_config(run)) as trainer:
            trainer.train(on_episode=lambda: handlers.append(signal.getsignal(signal.SIGINT)))
    finally:
        signal.signal(signal.SIGINT, before)
    assert handlers == [programs_own] * 2


def test_a_reward_that_is_not_finite_is_blamed_on_the_game(tmp_path, monkeypatch):
    (tmp_path / "broken_game.py").write_text(
        "from tinygame import build\n\n"
        "def create():\n"
        "    game = build()\n"
        "    clock = game.agents_by_name['clock']\n"
        "    tick = clock.play_turn\n"
        "    def play_turn(g):\n"
        "        tick(g)\n"
        "        g.state['points'] = float('inf')\n"
        "    clock.play_turn = play_turn\n"
        "    return game\n")
    text = TINY_CONFIG.replace('factory = "tinygame:build"', 'factory = "broken_game:create"')
    run = make_run(tmp_path, text)
    monkeypatch.syspath_prepend(str(tmp_path))
    with trainer_from_config(load_config(run)) as trainer:
        with pytest.raises(JaxdqnError, match=r"reward value state\['points'\] became inf on turn 1.*game"):
            trainer.train(on_episode=lambda: None)


@pytest.mark.slow
@pytest.mark.parametrize("config", [TINY_CONFIG, PAINT_CONFIG], ids=["host", "compiled"])
def test_what_a_session_left_before_its_first_checkpoint_is_not_kept(tmp_path, config):
    run = make_run(tmp_path, config, training_episodes=20, checkpoint_every=10)
    # a session killed after writing its first interval's rows and log line, before its checkpoint committed,
    # and one whose last row was cut short (a full disk)
    rows = "".join(f"{e},1,5,0.9,0.1,100.0,0.5,0\n" for e in range(1, 11))
    (run / "metrics.csv").write_text(",".join(COLUMNS) + "\n" + rows + "11,1,5,0.9")
    (run / "training.log").write_text("\n=== Training started | 2026-12-01 10:00:00 ===\n[ep_0010] ep=0001-0010 "
                                      "avg_reward=+1.0 avg_steps=5 epsilon=0.900 avg_loss=0.1 time=0m01s total=0m01s\n")
    with trainer_from_config(load_config(run)) as trainer:
        assert trainer.resume() is None
        trainer.train()
    assert [int(r["episode"]) for r in read_metrics(run / "metrics.csv")] == list(range(1, 21))
    assert logged(run) == [10, 20]
    assert "removed 11 metrics.csv row(s) and 1 log line(s)" in (run / "training.log").read_text()
