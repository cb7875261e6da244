import platform
import re
import sys

import jax
import numpy as np
import pytest

from jaxdqn.cli import main
from jaxdqn.config import load_config
from jaxdqn.config.fingerprint import IncompatibleCheckpoint
from jaxdqn.device import select_device
from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.run.log import CHECKPOINT_LINE, parse_log
from jaxdqn.trainers import TrainingDiverged, trainer_from_config
from tests.support.runs import TINY_CONFIG, make_run

LINE = re.compile(r"^\[ep_\d{4}\] ep=\d{4}-\d{4} avg_reward=[+-]\d+\.\d avg_steps=\d+ epsilon=\d\.\d{3} "
                  r"avg_loss=\d+\.\d time=\d+m\d\ds total=\d+m\d\ds$")


def trained(run_dir):
    """Train (resuming) the run in ``run_dir`` as the command line does; the trainer and its rewards."""
    with trainer_from_config(load_config(run_dir)) as trainer:
        trainer.resume()
        rewards = []
        trainer.train(on_episode=lambda: rewards.append(trainer.last_episode.reward))
    return trainer, rewards


def test_end_to_end_log_checkpoints_and_compile_count(tmp_path):
    run = make_run(tmp_path)
    trainer, rewards = trained(run)
    assert len(rewards) == 30
    log = (run / "training.log").read_text()
    assert "[INIT] === Network Architecture ===" in log and f"[INIT] Device: {select_device().kind} (" in log
    assert "=== Training started | " in log and "[INIT] seed = 7" in log
    lines = [l for l in log.splitlines() if l.startswith("[ep_")]
    assert [l[:8] for l in lines] == ["[ep_0010", "[ep_0020", "[ep_0030"]
    assert all(LINE.match(l) and CHECKPOINT_LINE.match(l) for l in lines), lines
    assert lines[1].startswith("[ep_0020] ep=0011-0020 ")
    # checkpoint contents
    ckpts = Checkpoints(run / "checkpoints")
    assert ckpts.names() == ["ep_0010", "ep_0020", "ep_0030"]
    meta = ckpts.read_meta(30)
    assert meta["episode"] == 30 and meta["total_steps"] == trainer.total_steps == 30 * 12
    assert meta["epsilon"] == pytest.approx(0.95 ** 30)
    assert meta["learning_rate"] == pytest.approx(0.001 * 0.9999 ** 30, rel=1e-6)
    assert len(meta["fingerprint"]) == 16 and meta["config"]["metadata.actions"] == ["KEY_LEFT", "KEY_RIGHT"]
    assert not ckpts.has_replay(30)
    # shapes never change inside training: a bounded number of compiled variants
    assert trainer.pipeline.step_fn._cache_size() <= 2 and trainer.pipeline.add_fn._cache_size() <= 2
    # discovered values were recorded, the user's comments kept
    text = (run / "config.toml").read_text()
    assert text.startswith(TINY_CONFIG.splitlines()[0]) and "# a tuple set after the game is created" in text
    assert "character_set" in text and "observe_state_sizes" in text


@pytest.mark.slow
def test_same_seed_same_rewards_and_resume_continues(tmp_path):
    a = make_run(tmp_path, name="a")
    b = make_run(tmp_path, name="b")
    _, rewards_a = trained(a)
    _, rewards_b = trained(b)
    assert rewards_a == rewards_b
    # resume: raise the target and continue; numbering, epsilon and steps carry on
    for run in (a,):
        cfg = (run / "config.toml").read_text().replace("training_episodes = 30", "training_episodes = 40")
        (run / "config.toml").write_text(cfg)
    trainer, more = trained(a)
    assert len(more) == 10 and trainer.total_steps == 40 * 12
    lines = [s for s in parse_log(a / "training.log")]
    assert [s.episode for s in lines] == [10, 20, 30, 40] and lines[-1].first_episode == 31
    assert lines[-1].epsilon == pytest.approx(0.95 ** 40, abs=1e-3)
    assert "=== Resumed from ep_0030 | " in (a / "training.log").read_text()
    assert "[RESUME] training_episodes changed: 30 -> 40" in (a / "training.log").read_text()


@pytest.mark.slow
def test_replay_buffer_checkpoint_makes_resume_exact(tmp_path):
    whole = make_run(tmp_path, name="whole", save_replay_buffer="true", training_episodes=20)
    split = make_run(tmp_path, name="split", save_replay_buffer="true", training_episodes=20)
    _, rewards_whole = trained(whole)
    cfg = (split / "config.toml").read_text()
    (split / "config.toml").write_text(cfg.replace("training_episodes = 20", "training_episodes = 10", 1))
    _, first = trained(split)
    (split / "config.toml").write_text(cfg)
    trainer, second = trained(split)
    assert Checkpoints(split / "checkpoints").has_replay(20)
    assert first + second == rewards_whole
    w = Checkpoints(whole / "checkpoints").restore(20, trainer.pipeline.state())[0]
    np.testing.assert_allclose(jax.tree.leaves(w["learner"].params)[0],
                               jax.tree.leaves(trainer.pipeline.learner.params)[0], rtol=1e-5)


@pytest.mark.slow
def test_a_buffer_of_another_size_or_kind_resumes_empty_and_says_so(tmp_path):
    run = make_run(tmp_path, save_replay_buffer="true", training_episodes=10)
    trained(run)
    cfg = (run / "config.toml").read_text()
    (run / "config.toml").write_text(cfg.replace("memory_capacity = 200", "memory_capacity = 300")
                                     .replace("training_episodes = 10", "training_episodes = 20")
                                     + "prioritize_experiences = false\n")
    trainer, _ = trained(run)
    assert trainer.pipeline.buffer_items > 0 and Checkpoints(run / "checkpoints").latest() == 20
    log = (run / "training.log").read_text()
    assert ("[RESUME] this checkpoint holds a replay buffer made with memory_capacity = 200 (now 300) and "
            "prioritize_experiences = true (now false); starting with an empty one") in log


@pytest.mark.slow
def test_row_lists_widen_when_a_board_outgrows_them_and_resume_keeps_the_width(tmp_path):
    from jaxdqn.core.types import Observation
    run = make_run(tmp_path, save_replay_buffer="true", training_episodes=10, checkpoint_every=5)
    trainer, _ = trained(run)
    pipeline = trainer.pipeline
    assert pipeline.rows_width == 16
    before = np.asarray(pipeline.replay.ring.data.obs.rows)
    crowded = np.zeros((1, 4, 6), np.uint8)
    crowded.reshape(-1)[:20] = 1  # 20 occupied cells: more than the lists hold
    stored = pipeline.store(Observation(crowded, np.zeros((1, 2), np.float32)))
    assert pipeline.rows_width == 32 and stored.rows.shape == (1, 32)
    after = np.asarray(pipeline.replay.ring.data.obs.rows)
    np.testing.assert_array_equal(after[:, :16], before)
    assert np.all(after[:, 16:] == trainer.spec.flat_board_size)
    assert pipeline.chunk.data.next_obs.rows.shape == (trainer.hp["train_every"], 32)
    trainer.hp["training_episodes"] = 15
    with trainer.run.lock:
        trainer.train(on_episode=lambda: None)  # trains on with the wider lists
    assert Checkpoints(run / "checkpoints").read_meta(15)["rows_width"] == 32
    resumed, rewards = trained(make_run(tmp_path, save_replay_buffer="true", training_episodes=20,
                                        checkpoint_every=5))
    assert resumed.pipeline.rows_width == 32 and len(rewards) == 5
    assert resumed.pipeline.replay.ring.data.next_obs.rows.shape[1] == 32


@pytest.mark.slow
def test_replay_saved_in_an_older_layout_is_skipped_with_a_note(tmp_path):
    import json
    run = make_run(tmp_path, save_replay_buffer="true", training_episodes=10, checkpoint_every=10)
    trained(run)
    meta_file = run / "checkpoints" / "ep_0010" / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    del meta["replay_layout"]  # as a checkpoint from before the layout was recorded
    meta_file.write_text(json.dumps(meta))
    trainer, rewards = trained(make_run(tmp_path, save_replay_buffer="true", training_episodes=12,
                                        checkpoint_every=10))
    assert len(rewards) == 2 and trainer.pipeline.buffer_items == 2 * 12  # a fresh buffer, then trained on
    assert "holds its replay buffer in an older layout; starting with an empty one" in (run / "training.log").read_text()


def test_already_complete_is_friendly(tmp_path, capsys):
    run = make_run(tmp_path, training_episodes=10)
    trained(run)
    capsys.readouterr()
    assert main(["train", str(run)]) == 0
    out = capsys.readouterr().out
    assert "already complete (10 episodes)" in out and "--episodes N" in out


@pytest.mark.slow
def test_incompatible_change_lists_each_field(tmp_path, capsys):
    run = make_run(tmp_path, training_episodes=10)
    trained(run)
    cfg = (run / "config.toml").read_text().replace("hidden_sizes = [16]", "hidden_sizes = [32]")
    (run / "config.toml").write_text(cfg.replace("training_episodes = 10", "training_episodes = 20"))
    with trainer_from_config(load_config(run)) as trainer, pytest.raises(IncompatibleCheckpoint) as err:
        trainer.load_checkpoint("ep_0010")
    text = str(err.value)
    assert "model.hidden_sizes" in text and "was: [16]" in text and "now: [32]" in text
    assert "why:" in text and "jaxdqn clean" in text
    capsys.readouterr()
    assert main(["train", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "model.hidden_sizes" in err


@pytest.mark.slow
def test_a_run_that_cannot_resume_leaves_config_toml_as_the_user_wrote_it(tmp_path, capsys):
    run = make_run(tmp_path, training_episodes=10)
    trained(run)
    recorded = (run / "config.toml").read_text()
    assert "character_set" in recorded  # discovered by the first session and recorded
    edited = "".join(line for line in recorded.splitlines(keepends=True) if not line.startswith("character_set"))
    (run / "config.toml").write_text(edited.replace("hidden_sizes = [16]", "hidden_sizes = [32]"))
    assert main(["train", str(run)]) == 2
    assert "model.hidden_sizes" in capsys.readouterr().err
    assert (run / "config.toml").read_text() == edited.replace("hidden_sizes = [16]", "hidden_sizes = [32]")
    (run / "config.toml").write_text(edited.replace("training_episodes = 10", "training_episodes = 20"))
    assert main(["train", str(run)]) == 0  # the user's fix resumes, and only now is the set recorded again
    assert "character_set" in (run / "config.toml").read_text()
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20]


def test_nan_loss_stops_with_advice_and_keeps_last_checkpoint(tmp_path):
    run = make_run(tmp_path, training_episodes=20)
    trainer = trainer_from_config(load_config(run))
    trainer.train(on_checkpoint=lambda s: None)  # ep_0010 .. ep_0020
    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").rglob("*") if p.is_file()}
    trainer.hp["training_episodes"] = 40
    trainer.env.reward_key = "ticks"
    trainer.env.game = None
    real_step = trainer.env.step

    def exploding(action):
        obs, reward, done = real_step(action)
        return obs, float("inf"), done
    trainer.env.step = exploding
    with pytest.raises(TrainingDiverged, match=r"(?s)NaN or infinite.*ep_0020.*learning_rate.*reward"):
        trainer.train(on_checkpoint=lambda s: None)
    after = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").rglob("*") if p.is_file()}
    assert Checkpoints(run / "checkpoints").latest() == 20 and before == after


@pytest.mark.slow
def test_parallel_actors_count_finished_episodes(tmp_path):
    run = make_run(tmp_path, num_envs=3)
    trainer, rewards = trained(run)
    assert len(rewards) == 30 and trainer.start_episode == 31
    assert trainer.total_steps == 30 * 12  # three games of 12 turns finish together, ten times
    assert trainer.epsilon == pytest.approx(0.95 ** 30)
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20, 30]
    assert trainer.pipeline.greedy_fn._cache_size() == 1  # one batched shape for all three games
    _, again = trained(make_run(tmp_path, name="again", num_envs=3))
    assert again == rewards


def test_metrics_csv_has_one_row_per_episode_and_follows_resume(tmp_path):
    from jaxdqn.run.metrics import read_metrics
    run = make_run(tmp_path, training_episodes=20)
    _, rewards = trained(run)
    rows = read_metrics(run / "metrics.csv")
    assert [int(r["episode"]) for r in rows] == list(range(1, 21))
    assert [float(r["reward"]) for r in rows] == rewards and all(int(r["steps"]) == 12 for r in rows)
    seconds = [float(r["training_seconds"]) for r in rows]
    assert seconds == sorted(seconds) and float(rows[-1]["epsilon"]) == pytest.approx(0.95 ** 20, rel=1e-4)
    with trainer_from_config(load_config(run)) as trainer:  # back to ep_0010: later rows are dropped
        trainer.resume("ep_0010")
    assert [int(r["episode"]) for r in read_metrics(run / "metrics.csv")] == list(range(1, 11))


@pytest.mark.slow
def test_a_character_missing_from_the_set_is_warned_about_once_and_counted(tmp_path, capsys):
    text = TINY_CONFIG.replace("[metadata]\n", '[metadata]\ncharacter_set = ["A", "B", "C"]\n')
    run = make_run(tmp_path, text, training_episodes=20)
    trained(run)
    log = (run / "training.log").read_text()
    assert log.count("[WARN] character 'P' is not in character_set, so the network does not see it") == 1
    meta = Checkpoints(run / "checkpoints").read_meta(20)
    assert meta["unknown_characters"] == {"P": 20 * 13}  # the player, on every board of 20 episodes
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("training_episodes = 20",
                                                                               "training_episodes = 25"))
    trained(run)
    assert (run / "training.log").read_text().count("[WARN] character 'P'") == 1  # once per run, not per start
    assert Checkpoints(run / "checkpoints").read_meta(25)["unknown_characters"] == {"P": 25 * 13}
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    assert "Unknown chars  : 'P' (325 cells): not in character_set" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("max_turns", [20, 3])
def test_an_episode_cut_at_the_turn_limit_bootstraps_and_one_the_game_ended_does_not(tmp_path, max_turns):
    """The reference stores the game's own ``done``: the last transition of an episode the turn limit cut is
    not terminal (its target bootstraps); tinygame ends by itself after 12 turns."""
    run = make_run(tmp_path, training_episodes=4, max_turns_per_episode=max_turns)
    with trainer_from_config(load_config(run)) as trainer:
        dones, add = [], trainer.pipeline.add
        trainer.pipeline.add = lambda *args, **kwargs: (dones.append(args[5]), add(*args, **kwargs))[1]
        lengths = []
        trainer.train(on_episode=lambda: lengths.append(trainer.last_episode.steps))
    assert lengths == [min(12, max_turns)] * 4
    ends = np.cumsum(lengths) - 1
    assert [dones[i] for i in ends] == [max_turns > 12] * 4 and sum(dones) == (4 if max_turns > 12 else 0)


def test_each_episode_says_how_it_ended_and_a_stopped_one_is_kept_out_of_the_averages(tmp_path):
    import contextlib

    from jaxdqn.run.metrics import read_metrics

    class StopDuringEpisode:
        """A stop request that arrives mid-game in episode 4 (after the game's own and turn-limit endings)."""
        def __init__(self, trainer):
            self.trainer = trainer

        @property
        def requested(self):
            return self.trainer.start_episode == 4 and self.trainer.actors.total_steps >= self.steps_before + 2

        def saving(self):
            return contextlib.nullcontext()

    run = make_run(tmp_path, training_episodes=10, checkpoint_every=10, max_turns_per_episode=6)
    with trainer_from_config(load_config(run)) as trainer:
        stop = StopDuringEpisode(trainer)
        stop.steps_before = 10**9
        trainer.train(on_episode=lambda: setattr(stop, "steps_before", trainer.actors.total_steps), stop=stop)
    rows = read_metrics(run / "metrics.csv")
    assert [r["ended"] for r in rows][-1] == "stopped" and len(rows) == 4
    assert {r["ended"] for r in rows[:-1]} <= {"game", "turn_limit"}
    assert all(r["ended"] == "turn_limit" for r in rows if int(r["steps"]) >= 6)
    [line] = parse_log(run / "training.log")
    complete = [float(r["reward"]) for r in rows[:-1]]
    assert line.episode == 4 and line.first_episode == 1
    assert abs(line.avg_reward - sum(complete) / 3) < 0.051  # the log's one decimal



def test_a_character_only_on_a_games_last_frame_gets_a_note_not_a_warning(tmp_path):
    from tests.support.runs import TINYGAME
    game = tmp_path / "wreckgame"
    game.mkdir()
    source = (TINYGAME / "tinygame.py").read_text().replace('''        if game.state["ticks"] >= TURNS:
            game.end()''', '''        if game.state["ticks"] >= TURNS:
            wreck = Player()
            wreck.name, wreck.character, wreck.position = "wreck", "*", (5, 0)
            game.add_agent(wreck)  # drawn on the last frame only, as nav's wrecked ship
            game.end()''')
    assert "wreck" in source
    (game / "wreckgame.py").write_text(source)  # its own name: tinygame itself may be imported already
    (game / "pyproject.toml").write_text((TINYGAME / "pyproject.toml").read_text().replace("tinygame", "wreckgame"))
    text = TINY_CONFIG.replace(TINYGAME.as_posix(), game.as_posix()).replace('"tinygame', '"wreckgame').replace(
        "[metadata]\n", '[metadata]\ncharacter_set = ["A", "B", "C", "P"]\n')
    run = make_run(tmp_path, text, training_episodes=3, checkpoint_every=3)
    trained(run)
    log = (run / "training.log").read_text()
    assert "[WARN]" not in log
    assert log.count("[NOTE] character '*' is not in character_set but has only appeared on a game's last frame") == 1


@pytest.mark.slow
def test_a_cnn_run_trains_and_names_its_convolution_in_the_log(tmp_path):
    run = make_run(tmp_path, TINY_CONFIG.replace("[preprocessing]\n", "[preprocessing]\nspatial = true\n"),
                   training_episodes=10)
    trainer, rewards = trained(run)
    assert len(rewards) == 10 and trainer.spec.spatial
    log = (run / "training.log").read_text()
    wheels = sys.platform.startswith("linux") and platform.machine() == "x86_64"
    assert ("[INIT] Convolutions: oneDNN 2023.2.0 (jaxdqn's FFI kernel)" if wheels else "[INIT] Convolutions: XLA's") in log
