"""``jaxdqn train`` / ``python -m jaxdqn.train`` as a user runs it: signals, kills, a second process."""
import os
import random
import signal
import time

import pytest

from jaxdqn.run.checkpoints import Checkpoints, checkpoint_name
from jaxdqn.run.log import parse_log
from jaxdqn.trainers.progress import compile_estimate
from tests.support.runs import make_run, popen_cli, run_cli


@pytest.mark.slow
def test_train_subcommand_matches_module(tmp_path, cli):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    code, out, err = cli("train", run)
    assert code == 0 and "Done." in out
    assert "compiling the training step (first call" in err  # said while the first update compiles
    assert (run / "checkpoints" / "ep_0005").is_dir()
    compile_seconds = Checkpoints(run / "checkpoints").read_meta(5)["compile_seconds"]
    assert compile_seconds > 0
    code, _, err = cli("train", run, "--episodes", "10")
    assert code == 0 and f"compiling the training step ({compile_estimate(compile_seconds)})" in err
    assert compile_estimate(12.4) == "about 12 s" and compile_estimate(0.3) == "under a second"


@pytest.mark.slow
def test_episodes_option_raises_the_target_and_checkpoint_option_resumes_from_it(tmp_path, cli):
    run = make_run(tmp_path, training_episodes=10, checkpoint_every=5)
    assert cli("train", run)[0] == 0
    code, out, err = cli("train", run, "--episodes", "15", "--checkpoint", "ep_0005")
    assert code == 0 and "Resuming from ep_0005" in out and "training_episodes: 10 -> 15" in err
    assert "training_episodes = 15" in (run / "config.toml").read_text()
    assert Checkpoints(run / "checkpoints").names() == ["ep_0005", "ep_0010", "ep_0015"]
    assert (run / "checkpoints" / "ep_0010.superseded").is_dir()


def wait_for_line(run, episode, proc, timeout=120):
    log = run / "training.log"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and any(s.episode >= episode for s in parse_log(log)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint line for episode {episode} within {timeout} s")


def assert_consistent(run, keep=5):
    """What tools see agrees: each checkpoint is complete and has its log line, at most ``keep`` of them,
    and a log line past the newest checkpoint only for a finished save waiting to be made visible."""
    ckpts = Checkpoints(run / "checkpoints")
    steps = ckpts.steps()
    assert len(steps) <= keep, steps
    logged = {s.episode for s in parse_log(run / "training.log")}
    for episode in steps:
        assert ckpts.verify(episode) is None, episode
        assert ckpts.read_meta(episode)["episode"] == episode
        assert episode in logged, (episode, sorted(logged))
    latest = steps[-1] if steps else 0
    for episode in logged:
        if episode > latest:
            assert (ckpts.directory / f".pending-{checkpoint_name(episode)}").is_dir(), episode
    return steps


@pytest.mark.slow
def test_ctrl_c_saves_exact_state_while_a_second_process_is_refused(tmp_path):
    run = make_run(tmp_path, training_episodes=100000, checkpoint_every=5)
    proc = popen_cli(run)
    wait_for_line(run, 5, proc)
    second = run_cli(run)  # a second trainer on the same run refuses at once, naming the first
    assert second.returncode == 2 and f"pid {proc.pid}" in second.stderr and "in use" in second.stderr
    clean = run_cli("clean", run, "--yes", module="jaxdqn.cli")
    assert clean.returncode == 2 and "in use" in clean.stderr and (run / "checkpoints").exists()
    for _ in range(3):  # reading a run while it trains never disturbs the trainer
        assert run_cli("info", run, module="jaxdqn.cli").returncode == 0
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Stopped after episode" in out and "Traceback" not in err
    episode = Checkpoints(run / "checkpoints").latest()
    assert episode and episode > 5
    lines = parse_log(run / "training.log")
    assert lines[-1].episode == episode and lines[-1].first_episode == 5 * ((episode - 1) // 5) + 1
    assert Checkpoints(run / "checkpoints").read_meta(episode)["total_steps"] >= (episode - 1) * 12
    assert_consistent(run)


@pytest.mark.slow
def test_a_storm_of_signals_during_saves_is_honoured_once_and_told_truthfully(tmp_path):
    run = make_run(tmp_path, training_episodes=100000, checkpoint_every=1, save_replay_buffer="true",
                   keep_checkpoints=2)
    proc = popen_cli(run)
    wait_for_line(run, 3, proc)
    end = time.time() + 0.5
    while time.time() < end and proc.poll() is None:  # a save starts every few milliseconds
        proc.send_signal(signal.SIGINT if random.random() < 0.5 else signal.SIGTERM)
        time.sleep(0.002)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), (proc.returncode, err)
    assert "Exception ignored" not in err and "Traceback" not in err
    steps = assert_consistent(run, keep=2)
    latest = checkpoint_name(steps[-1])
    if proc.returncode == 130:
        assert ("Saved it and stopped" in err or f"The run continues from {latest} next time." in err), err
    (run / "config.toml").write_text((run / "config.toml").read_text().replace(
        "training_episodes = 100000", f"training_episodes = {steps[-1] + 1}"))
    again = run_cli(run)
    assert again.returncode == 0 and f"Resuming from {latest}" in again.stdout


def test_ctrl_c_during_start_up_stops_cleanly(tmp_path):
    run = make_run(tmp_path, training_episodes=100000)
    proc = popen_cli(run)
    time.sleep(1.5)  # importing JAX, building the game and the network
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "Stopped before training started" in out or "Stopped after episode 1." in out


@pytest.mark.slow
def test_kill_9_at_random_moments_always_resumes_and_the_log_agrees(tmp_path):
    run = make_run(tmp_path, training_episodes=100000, checkpoint_every=5, save_replay_buffer="true")
    rng = random.Random(0)
    last_episode = 0
    for attempt in range(5):
        lines_before = len(parse_log(run / "training.log"))
        proc = popen_cli(run)
        deadline = time.time() + 120
        while time.time() < deadline and len(parse_log(run / "training.log")) <= lines_before:
            time.sleep(0.05)  # wait until this process has saved something, then kill at a random moment
        time.sleep(rng.random() * 1.0)
        proc.kill()
        proc.wait()
        steps = assert_consistent(run)
        latest = steps[-1] if steps else None
        if latest is None:
            continue
        assert latest >= last_episode, "the episode counter went backwards"
        last_episode = latest
    assert last_episode > 0
    cfg = (run / "config.toml").read_text().replace("training_episodes = 100000",
                                                    f"training_episodes = {last_episode + 10}")
    (run / "config.toml").write_text(cfg)
    result = run_cli(run)
    assert result.returncode == 0, result.stderr
    resumed = int(result.stdout.split("Resuming from ep_")[1][:4])
    assert resumed >= last_episode  # a save finished just before the kill is committed on restart
    assert Checkpoints(run / "checkpoints").latest() == last_episode + 10
    assert_consistent(run)
    episodes = [s.episode for s in parse_log(run / "training.log")]
    assert episodes == sorted(set(episodes))  # no checkpoint logged twice


def test_a_read_only_run_is_refused_in_one_line(tmp_path, cli, monkeypatch):
    run = make_run(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(run) else real_access(path, mode))
    code, _, err = cli("train", run)
    assert code == 2 and f"cannot write to {run}" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_damaged_checkpoint_skipped_on_resume_is_said_on_the_terminal(tmp_path, cli):
    run = make_run(tmp_path, training_episodes=20, checkpoint_every=10)
    assert cli("train", run)[0] == 0
    (run / "checkpoints" / "ep_0020" / "meta" / "metadata").write_bytes(b"\xff\xfe garbage")
    code, out, err = cli("train", run, "--episodes", "30")
    assert code == 0, err
    assert "Skipped ep_0020: it cannot be restored" in out and "Resuming from ep_0010" in out
