"""The compiled trainer through the run directory: log, checkpoints, resume, seeds, widening, play."""
import json
import signal
import time

import jax
import numpy as np
import pytest

from jaxdqn.cli import main
from jaxdqn.config import load_config
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.run.log import parse_log
from jaxdqn.run.metrics import read_metrics
from jaxdqn.run.stop import StopRequests
from jaxdqn.trainers import TrainingDiverged, trainer_from_config
from jaxdqn.trainers.compiled import CompiledTrainer
from tests.support.runs import PAINT_CONFIG, make_run, paint_variant_run, popen_cli


def trained(run):
    with trainer_from_config(load_config(run)) as trainer:
        assert isinstance(trainer, CompiledTrainer)
        trainer.resume()
        trainer.train(on_episode=lambda: None)
    return trainer


def rewards(run, agent=0):
    return [float(r["reward"]) for r in read_metrics(run / "metrics.csv") if int(r["agent"]) == agent]


@pytest.mark.slow
def test_a_jax_game_trains_with_the_compiled_loop_and_logs_like_the_host(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG)
    trainer = trained(run)
    log = (run / "training.log").read_text()
    assert "[INIT] Compiled training of paint (written in JAX)" in log and "[INIT] seed = 3" in log
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20]
    assert Checkpoints(run / "checkpoints").names() == ["ep_0010", "ep_0020"]
    meta = Checkpoints(run / "checkpoints").read_meta(20)
    assert meta["loop"] == "compiled" and meta["episode"] == 20 and meta["epsilon"] == pytest.approx(0.95 ** 20, 1e-4)
    metrics = read_metrics(run / "metrics.csv")
    assert [int(r["episode"]) for r in metrics] == list(range(1, 21))
    assert [float(r["epsilon"]) for r in metrics] == pytest.approx([0.95 ** k for k in range(1, 21)], rel=1e-4)
    assert trainer.rate > 0 and trainer.total_steps >= 20 * 40
    again = make_run(tmp_path, PAINT_CONFIG, name="again")
    trained(again)
    assert rewards(run) == rewards(again)  # same seed, same rewards


@pytest.mark.slow
def test_resume_continues_exactly_with_the_replay_saved(tmp_path):
    whole = make_run(tmp_path, PAINT_CONFIG, name="whole", save_replay_buffer="true")
    split = make_run(tmp_path, PAINT_CONFIG, name="split", save_replay_buffer="true", training_episodes=10)
    trained(whole)
    trained(split)
    (split / "config.toml").write_text((split / "config.toml").read_text().replace("training_episodes = 10",
                                                                                   "training_episodes = 20"))
    trained(split)
    assert rewards(split) == rewards(whole)
    text = (split / "training.log").read_text()
    assert "=== Resumed from ep_0010" in text and "[RESUME] training_episodes changed: 10 -> 20" in text


@pytest.mark.slow
def test_seeds_train_side_by_side(tmp_path, capsys):
    run = make_run(tmp_path, PAINT_CONFIG, num_seeds=3)
    trained(run)
    rows = read_metrics(run / "metrics.csv")
    assert sorted({int(r["agent"]) for r in rows}) == [0, 1, 2]
    assert all(sum(int(r["agent"]) == a for r in rows) == 20 for a in range(3))
    one = make_run(tmp_path, PAINT_CONFIG, name="one")
    trained(one)
    assert rewards(run, 0) != rewards(run, 1)  # each agent has its own seed
    assert main(["plot", str(run), "-o", str(tmp_path / "seeds.svg")]) == 0
    assert "mean of 3 agents" in (tmp_path / "seeds.svg").read_text()
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("num_seeds = 3", "num_seeds = 2"))
    capsys.readouterr()
    assert main(["train", str(run), "--episodes", "30"]) == 2
    assert "holds 3 agent(s), and num_seeds is now 2" in capsys.readouterr().err


@pytest.mark.slow
def test_row_lists_widen_inside_a_compiled_run_without_changing_it(tmp_path, monkeypatch):
    import jaxdqn.trainers.compiled as compiled
    monkeypatch.setattr(compiled, "MIN_ROWS", 2)  # start as narrow as paint's first board allows
    narrow = make_run(tmp_path, PAINT_CONFIG, name="narrow")
    with trainer_from_config(load_config(narrow)) as trainer:
        assert trainer.width == 16
        trainer.train(on_episode=lambda: None)
        assert trainer.width == 64  # paint covers more than 16 cells in an episode
    wide = make_run(tmp_path, PAINT_CONFIG, name="wide")
    with trainer_from_config(load_config(wide)) as trainer:
        trainer.widen(64)  # wide enough from the start
        trainer.train(on_episode=lambda: None)
    assert rewards(narrow) == rewards(wide)


@pytest.mark.slow
def test_play_and_eval_use_the_retro_game(tmp_path, capsys):
    run = make_run(tmp_path, PAINT_CONFIG, training_episodes=10)
    trained(run)
    capsys.readouterr()
    assert main(["play", str(run), "--headless"]) == 0
    assert "played 40 turns" in capsys.readouterr().out
    assert main(["eval", str(run), "-k", "2", "--json"]) == 0
    retro = json.loads(capsys.readouterr().out)
    assert main(["eval", str(run), "-k", "2", "--json", "--on", "jax"]) == 0
    jax_side = json.loads(capsys.readouterr().out)
    assert jax_side["on"] == "jax" and retro["on"] == "retro"
    # paint starts the same way every time and the policy is greedy: both games give the same episodes
    assert jax_side["episode_reward"] == retro["episode_reward"]


@pytest.mark.slow
def test_ctrl_c_saves_and_the_run_resumes(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, training_episodes=100000, checkpoint_every=5)
    proc = popen_cli(run)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "training.log").exists() and parse_log(run / "training.log")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Stopped after episode" in out
    latest = Checkpoints(run / "checkpoints").latest()
    assert parse_log(run / "training.log")[-1].episode == latest
    with trainer_from_config(load_config(run)) as trainer:
        assert trainer.resume() == f"ep_{latest:04d}" and trainer.start_episode == latest + 1


def test_a_jax_game_config_cannot_change_what_the_game_observes(tmp_path, capsys):
    text = PAINT_CONFIG.replace("[model]", '[preprocessing]\nobserve_state = ["score"]\n\n[model]')
    run = make_run(tmp_path, text)
    assert main(["train", str(run)]) == 2
    err = capsys.readouterr().err
    assert "preprocessing.observe_state" in err and "observation is fixed" in err


def test_num_seeds_needs_a_jax_game(tmp_path, capsys):
    from tests.support.runs import TINY_CONFIG
    run = make_run(tmp_path, TINY_CONFIG, num_seeds=4)
    assert main(["train", str(run)]) == 2
    assert "training.num_seeds" in capsys.readouterr().err


@pytest.mark.slow
def test_a_reward_that_is_not_finite_is_blamed_on_the_game(tmp_path):
    run = paint_variant_run(tmp_path, "broken_jax", (
        "import jax.numpy as jnp\n"
        "from paint_jax import JAX_GAME as PAINT\n\n"
        "def step(state, action, key):\n"
        "    state, obs, reward, done = PAINT.step(state, action, key)\n"
        "    return state, obs, jnp.where(state.turns == 5, jnp.nan, reward), done\n\n"
        "JAX_GAME = PAINT._replace(name='broken paint', step=step)\n"))
    with trainer_from_config(load_config(run)) as trainer:
        with pytest.raises(JaxdqnError, match=r"reward of broken paint became nan .*the game produced it"):
            trainer.train(on_episode=lambda: None)
    assert Checkpoints(run / "checkpoints").latest() is None


@pytest.mark.slow
def test_a_reward_that_is_not_finite_in_a_game_still_playing_is_blamed_on_the_game(tmp_path):
    """A NaN reward reaches the loss through replay while its own game plays on: the other games' episodes end
    with NaN losses first, and the game, not the learning rate, must be named."""
    run = paint_variant_run(tmp_path, "endless_jax", (
        "import jax\n"
        "import jax.numpy as jnp\n"
        "from paint_jax import JAX_GAME as PAINT\n\n"
        "def reset(key):\n"
        "    state, obs = PAINT.reset(key)\n"
        "    return (state, jnp.bool_(False)), obs\n\n"
        "def step(state, action, key):\n"
        "    state, poisoned = state\n"
        "    state, obs, reward, done = PAINT.step(state, action, key)\n"
        "    hit = (state.turns == 5) & (jax.random.uniform(key) < 0.5) & ~poisoned\n"
        "    poisoned = poisoned | hit  # that game never ends\n"
        "    return (state, poisoned), obs, jnp.where(hit, jnp.nan, reward), done & ~poisoned\n\n"
        "JAX_GAME = PAINT._replace(name='endless paint', reset=reset, step=step)\n"),
        num_envs=4, train_every=4, max_turns_per_episode=1000000, training_episodes=1000, checkpoint_every=1000)
    with trainer_from_config(load_config(run)) as trainer:
        with pytest.raises(JaxdqnError, match=r"reward of endless paint became nan .*the game produced it"):
            trainer.train(on_episode=lambda: None)


@pytest.mark.slow
def test_a_loss_that_is_not_finite_stops_with_advice_and_keeps_the_last_checkpoint(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, training_episodes=10)
    trained(run)
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("training_episodes = 10",
                                                                               "training_episodes = 20")
                                     .replace("learning_rate = 0.001", "learning_rate = 1e30"))
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume()
        with pytest.raises(TrainingDiverged, match=r"(?s)NaN or infinite.*ep_0010.*learning_rate"):
            trainer.train(on_episode=lambda: None)
    assert Checkpoints(run / "checkpoints").names() == ["ep_0010"]


@pytest.mark.slow
def test_a_changed_epsilon_or_learning_rate_restarts_its_schedule_on_resume(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, training_episodes=10)
    trained(run)
    config = run / "config.toml"
    text = config.read_text()
    config.write_text(text.replace("learning_rate = 0.001", "learning_rate = 0.002") + "epsilon = 0.5\n")
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume()
        assert trainer.epsilon == pytest.approx(0.5) and float(trainer.state.learning_rate) == pytest.approx(0.002)
    config.write_text(text + "epsilon_min = 0.9\n")
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume()
        assert trainer.epsilon == pytest.approx(0.9)
        assert float(trainer.state.learning_rate) == pytest.approx(0.001 * 0.9999 ** 10, rel=1e-5)


@pytest.mark.slow
def test_games_batch_and_buffer_sizes_may_change_between_sessions(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, save_replay_buffer="true", training_episodes=10)
    trained(run)
    config = run / "config.toml"
    config.write_text(config.read_text().replace("training_episodes = 10", "training_episodes = 20")
                      .replace("batch_size = 8", "batch_size = 16").replace("memory_capacity = 300",
                                                                             "memory_capacity = 400")
                      .replace("checkpoint_every = 10", "checkpoint_every = 5") + "num_envs = 2\n")
    trainer = trained(run)
    assert trainer.num_seeds == 1 and Checkpoints(run / "checkpoints").names()[-2:] == ["ep_0015", "ep_0020"]
    log = (run / "training.log").read_text()
    assert "[RESUME] the games in progress are not continued (num_envs changed): 2 new games start" in log
    assert "made with memory_capacity = 300 (now 400); starting with an empty one" in log
    assert [float(r["epsilon"]) for r in read_metrics(run / "metrics.csv")][-1] == pytest.approx(0.95 ** 20, 1e-4)


@pytest.mark.slow
def test_a_checkpoint_is_written_inside_the_stop_guard_so_a_second_ctrl_c_waits_for_it(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, training_episodes=10)
    stop, seen = StopRequests(), []
    with trainer_from_config(load_config(run)) as trainer:
        save = trainer._save
        trainer._save = lambda *args: (seen.append(stop._saving), save(*args))[1]
        trainer.train(on_episode=lambda: None, stop=stop)
    assert seen == [1]


SWEEP = "\n[sweep]\nlearning_rate = [0.001, 0.003]\ntarget_update_freq = [20, 7]\n"


@pytest.mark.slow
def test_a_sweep_trains_every_configuration_side_by_side_as_each_trains_alone(tmp_path, capsys):
    swept = PAINT_CONFIG.replace("learning_rate = 0.001\n", "").replace("target_update_freq = 20\n", "")
    run = make_run(tmp_path, swept + SWEEP)
    trained(run)
    rows = read_metrics(run / "metrics.csv")
    labels = ["learning_rate=0.001 target_update_freq=20", "learning_rate=0.001 target_update_freq=7",
              "learning_rate=0.003 target_update_freq=20", "learning_rate=0.003 target_update_freq=7"]
    assert [sorted({r["config"] for r in rows if int(r["agent"]) == a}) for a in range(4)] == [[x] for x in labels]
    assert all(sum(int(r["agent"]) == a for r in rows) == 20 for a in range(4))
    log = (run / "training.log").read_text()
    assert "[INIT] Sweep: 4 configurations x 1 seed(s), in one program" in log
    assert f"  [ep_0020 {labels[3]}] avg_reward=" in log
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20]

    # the last configuration's agent is what seed 0 of a plain run with its values gives
    alone = make_run(tmp_path, PAINT_CONFIG, name="alone", learning_rate=0.003, target_update_freq=7, num_seeds=2)
    trained(alone)
    assert rewards(run, 3) == rewards(alone, 0)
    assert rewards(run, 0) != rewards(run, 3)

    assert main(["plot", str(run), "-o", str(tmp_path / "sweep.svg")]) == 0
    assert labels[1] in (tmp_path / "sweep.svg").read_text()
    from jaxdqn.policy import TrainedPolicy
    last, first = TrainedPolicy(run, agent=3), TrainedPolicy(run)
    for a, b in zip(jax.tree.leaves(last.params), jax.tree.leaves(TrainedPolicy(alone).params)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(jax.tree.leaves(first.params)[0], jax.tree.leaves(last.params)[0])
    capsys.readouterr()
    assert main(["eval", str(run), "--agent", "4", "--episodes", "1"]) == 2
    assert f"holds 4 agent(s), numbered 0 to 3; each configuration of its sweep has 1 (agents in order: {labels[0]}" \
        in capsys.readouterr().err
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("[0.001, 0.003]", "[0.001]"))
    capsys.readouterr()
    assert main(["train", str(run), "--episodes", "30"]) == 2
    err = capsys.readouterr().err
    assert "ep_0020 was trained with the sweep" in err and "set [sweep] back" in err
