import re

import pytest

from jaxdqn.config import load_config
from tests.support.runs import TINYGAME


def test_create_writes_commented_config_and_refuses_to_overwrite(tmp_path, cli):
    run = tmp_path / "new"
    code, out, err = cli("create", TINYGAME / "tinygame.py", run, "--learning-rate", "0.01",
                         "--no-prioritize-experiences", "--hidden-sizes", "32,16")
    assert code == 0, err
    assert "board       : 6 x 4" in out and "will be discovered" in out and "jaxdqn train" in out
    text = (run / "config.toml").read_text()
    assert "learning_rate = 0.01" in text and "prioritize_experiences = false" in text
    assert "hidden_sizes = [32, 16]" in text and "# transitions per gradient step" in text
    config = load_config(run)
    assert config.metadata.factory == "tinygame:build" and config.metadata.board_size == (6, 4)
    before = (run / "config.toml").read_bytes()
    code, _, err = cli("create", TINYGAME / "tinygame.py", run)
    assert code != 0 and "already exists" in err and (run / "config.toml").read_bytes() == before


def test_create_from_module_name_and_bad_game(tmp_path, cli):
    code, out, err = cli("create", "retro.examples.nav", tmp_path / "nav", "--no-estimate")
    assert code == 0, err
    assert "['^', 'O']" in out and "CNN" in out and "cost" not in out
    code, _, err = cli("create", "no.such.game", tmp_path / "x")
    assert code != 0 and "cannot" in err and "Traceback" not in err


def test_create_works_for_snake_which_ships_without_metadata(tmp_path, cli):
    run = tmp_path / "snake"
    code, out, err = cli("create", "retro.examples.snake", run, "--training-episodes", "5")
    assert code == 0, err
    assert "board       : 32 x 16" in out and "['apple_dx', 'apple_dy']" in out and "Parameters: 402,181" in out
    config = load_config(run)
    assert config.metadata.reward == "reward" and config.metadata.character_set == ["*", "<", ">", "@", "^", "v"]
    assert config.preprocessing["observe_state"] == ["apple_dx", "apple_dy"]
    assert "built-in metadata" in (run / "config.toml").read_text()


def test_create_checks_every_value_before_writing(tmp_path, cli):
    run = tmp_path / "bad"
    code, _, err = cli("create", "retro.examples.snake", run, "--learning-rate=-1", "--gamma", "1.5",
                       "--batch-size", "0")
    assert code == 2 and "Traceback" not in err
    for field in ("training.learning_rate", "training.gamma", "training.batch_size"):
        assert field in err
    assert "Nothing was written" in err and not run.exists()


def test_create_help_names_values_plainly(cli, capsys):
    with pytest.raises(SystemExit):
        cli("create", "--help")
    text = capsys.readouterr().out
    assert "--max-turns-per-episode N" in text and "--seed N" in text and "[drawn]" in text
    assert "EPISODE" not in text and "[None]" not in text


@pytest.mark.slow
def test_create_says_what_a_spatial_game_will_cost_here(tmp_path, cli):
    code, out, err = cli("create", "retro.examples.nav", tmp_path / "nav", "--training-episodes", "2000")
    assert code == 0, err
    cost = re.search(r"one update takes ([\d,]+) ms here, a greedy action ([\d.]+) ms, a game step ([\d.]+) ms:\n"
                     r" +about ([\d,]+) steps/s with train_every = 4; random episodes last ([\d,]+) steps, "
                     r"so 2,000 episodes take at least [\d.,]+ (s|min|h)\n"
                     r" +settings that finish in minutes: --train-every 16 --training-episodes (\d+)00 "
                     r"\(about ([\d,]+) steps/s, [\d.,]+ (s|min|h)\)", out)
    assert cost, out
    update_ms, action_ms, step_ms, rate, length = (float(cost[i].replace(",", "")) for i in range(1, 6))
    assert 0 < action_ms < update_ms and step_ms < update_ms and length >= 1
    assert rate == pytest.approx(1e3 / (update_ms / 4 + action_ms + step_ms), rel=0.05)
    assert float(cost[8].replace(",", "")) > rate  # sparser updates: more steps/s
