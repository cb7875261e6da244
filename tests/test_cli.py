import json
import subprocess
import sys

import pytest

from runs import TINYGAME, env, make_run
from jaxdqn.cli import main
from jaxdqn.config import load_config
from jaxdqn.trainer import trainer_from_config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("cli"), training_episodes=20)
    trainer = trainer_from_config(load_config(run))
    trainer.train(on_checkpoint=lambda s: None)
    trainer.checkpoints.close()
    return run


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_writes_commented_config_and_refuses_to_overwrite(tmp_path, capsys):
    run = tmp_path / "new"
    code, out, err = cli(capsys, "create", TINYGAME / "tinygame.py", run, "--learning-rate", "0.01",
                         "--no-prioritize-experiences", "--hidden-sizes", "32,16")
    assert code == 0, err
    assert "board       : 6 x 4" in out and "will be discovered" in out and "jaxdqn train" in out
    text = (run / "config.toml").read_text()
    assert "learning_rate = 0.01" in text and "prioritize_experiences = false" in text
    assert "hidden_sizes = [32, 16]" in text and "# transitions per gradient step" in text
    config = load_config(run)
    assert config.metadata.factory == "tinygame:build" and config.metadata.board_size == (6, 4)
    before = (run / "config.toml").read_bytes()
    code, _, err = cli(capsys, "create", TINYGAME / "tinygame.py", run)
    assert code != 0 and "already exists" in err and (run / "config.toml").read_bytes() == before


def test_create_from_module_name_and_bad_game(tmp_path, capsys):
    code, out, err = cli(capsys, "create", "retro.examples.nav", tmp_path / "nav")
    assert code == 0, err
    assert "['^', 'O']" in out and "CNN" in out
    code, _, err = cli(capsys, "create", "no.such.game", tmp_path / "x")
    assert code != 0 and "cannot" in err and "Traceback" not in err


def test_train_subcommand_matches_module(tmp_path, capsys):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    code, out, _ = cli(capsys, "train", run)
    assert code == 0 and "Done." in out
    assert (run / "checkpoints" / "ep_0005").is_dir()


def test_play_headless(trained_run, capsys):
    code, out, err = cli(capsys, "play", trained_run, "--headless", "--turns", "5")
    assert code == 0, err
    assert "ep_0020: played 5 turns" in out
    code, out, _ = cli(capsys, "play", trained_run, "--headless", "--checkpoint", "ep_0010")
    assert "ep_0010: played 12 turns" in out and "game over" in out


def _play_in_pty(run, framerate, keys_after=None):
    """Run `jaxdqn play` in a 100x30 pseudo-terminal; optionally type keys after a delay. Returns (code, text)."""
    import fcntl
    import os
    import select
    import struct
    import termios
    import time

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "jaxdqn.cli", "play", str(run), "--framerate", str(framerate)],
                            stdin=slave, stdout=slave, stderr=slave, env={**env(), "TERM": "xterm-256color"})
    os.close(slave)
    output, typed = b"", False
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if keys_after and not typed and b"Playing" in output:
                time.sleep(keys_after[0])
                os.write(master, keys_after[1])
                typed = True
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=60)
        os.close(master)
    return proc.returncode, output.decode(errors="replace")


def test_play_in_a_pseudo_terminal(trained_run):
    code, text = _play_in_pty(trained_run, 200)
    assert code == 0, text[-2000:]
    assert "Playing ep_0020" in text and "12 turns; points =" in text


def test_play_quits_on_enter(trained_run):
    code, text = _play_in_pty(trained_run, 4, keys_after=(1.0, b"\r"))  # 12 turns would take 3 s
    assert code == 0, text[-2000:]
    import re
    turns = int(re.findall(r"(\d+) turns; points =", text)[-1])
    assert turns < 12


def test_eval_json(trained_run, capsys):
    code, out, err = cli(capsys, "eval", trained_run, "--episodes", "3", "--seed", "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["checkpoint"] == "ep_0020" and data["episodes"] == 3 and data["reward_key"] == "points"
    for key in ("episode_reward", "final_reward_value", "episode_length"):
        assert set(data[key]) == {"mean", "std", "min", "max"}
    assert data["episode_length"]["mean"] == 12
    code, again, _ = cli(capsys, "eval", trained_run, "--episodes", "3", "--seed", "1", "--json")
    assert json.loads(again)["episode_reward"] == data["episode_reward"]
    code, text, _ = cli(capsys, "eval", trained_run, "--episodes", "2")
    assert "episode reward" in text and "mean" in text


def test_plot_writes_an_image(trained_run, tmp_path, capsys):
    for name in ("curve.png", "curve.svg"):
        code, out, err = cli(capsys, "plot", trained_run, "-o", tmp_path / name)
        assert code == 0, err
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = cli(capsys, "plot", trained_run, "-o", tmp_path / "curve.gif")
    assert code != 0 and ".png" in err


def test_info(trained_run, capsys):
    code, out, err = cli(capsys, "info", trained_run)
    assert code == 0, err
    assert "tinygame" in out and "ep_0010, ep_0020" in out and "episode 20, 240 steps" in out
    assert "Device (now)   : cpu" in out and "steps/s" in out


def test_clean_keeps_config(tmp_path, capsys):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    assert cli(capsys, "train", run)[0] == 0
    code, _, err = cli(capsys, "clean", run)  # no terminal, no --yes: refuses
    assert code != 0 and "--yes" in err and (run / "checkpoints").exists()
    code, out, _ = cli(capsys, "clean", run, "--yes")
    assert code == 0 and "checkpoints/ep_0005/" in out and "training.log" in out
    assert not (run / "checkpoints").exists() and not (run / "training.log").exists()
    assert (run / "config.toml").exists()
    assert cli(capsys, "clean", run, "--yes")[1].startswith("Nothing to clean")


def test_errors_are_one_clear_message(trained_run, tmp_path, capsys):
    code, _, err = cli(capsys, "info", tmp_path / "missing")
    assert code != 0 and "does not exist" in err
    fresh = make_run(tmp_path)
    code, _, err = cli(capsys, "eval", fresh)
    assert code != 0 and "no checkpoints" in err
    code, _, err = cli(capsys, "play", trained_run, "--headless", "--checkpoint", "ep_0999")
    assert code != 0 and "ep_0010, ep_0020" in err
    broken = make_run(tmp_path, name="broken")
    (broken / "config.toml").write_text((broken / "config.toml").read_text().replace('"tinygame"', '"gone_game"', 1))
    code, _, err = cli(capsys, "eval", broken)
    assert code != 0 and "game.module" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["create", "train", "play", "eval", "plot", "info", "clean"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "RUN_DIR" in capsys.readouterr().out


def test_console_script_entry_point(trained_run):
    result = subprocess.run([sys.executable, "-m", "jaxdqn.cli", "info", str(trained_run)], capture_output=True,
                            text=True, timeout=120, env=env())
    assert result.returncode == 0 and "Checkpoints" in result.stdout


def test_trained_policy_and_policy_input_drive_a_game_to_its_end(trained_run):
    from jaxdqn.games.metadata import game_factory
    from jaxdqn.policy import PolicyInput, TrainedPolicy

    ai = TrainedPolicy(trained_run)
    assert ai.checkpoint == "ep_0020"
    game = game_factory("tinygame", "tinygame:build")()
    assert ai.get_action(game) in ("KEY_LEFT", "KEY_RIGHT", None)
    inp = PolicyInput(ai, game)
    game.input_source = inp
    game.start()
    turns = 0
    while game.playing:
        game.step()
        turns += 1
    assert turns == 12
    assert all(ai.metadata.action_key(i) in ("KEY_LEFT", "KEY_RIGHT", None) for i in range(3))
