import pytest

from runs import TINYGAME
from jaxdqn.config import load_config


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
    code, out, err = cli("create", "retro.examples.nav", tmp_path / "nav")
    assert code == 0, err
    assert "['^', 'O']" in out and "CNN" in out
    code, _, err = cli("create", "no.such.game", tmp_path / "x")
    assert code != 0 and "cannot" in err and "Traceback" not in err
