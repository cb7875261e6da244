import pytest

from jaxdqn.cli import main
from tests.support.runs import make_run


def test_errors_are_one_clear_message(trained_run, tmp_path, cli):
    code, _, err = cli("info", tmp_path / "missing")
    assert code != 0 and "does not exist" in err
    fresh = make_run(tmp_path)
    code, _, err = cli("eval", fresh)
    assert code != 0 and "no checkpoints" in err
    code, _, err = cli("play", trained_run, "--headless", "--checkpoint", "ep_0999")
    assert code != 0 and "ep_0010, ep_0020" in err
    broken = make_run(tmp_path, name="broken")
    (broken / "config.toml").write_text((broken / "config.toml").read_text().replace('"tinygame"', '"gone_game"', 1))
    code, _, err = cli("eval", broken)
    assert code != 0 and "game.module" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["create", "train", "play", "eval", "plot", "info", "clean"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "RUN_DIR" in capsys.readouterr().out


@pytest.mark.parametrize("command, runs_code", [("create", True), ("train", True), ("play", True), ("eval", True),
                                                ("plot", False), ("info", False), ("clean", False)])
def test_help_says_whether_a_command_runs_the_games_code(command, runs_code, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    says = "imports GAME and runs its code" if command == "create" else "imports the game named in config.toml"
    assert (says in text) == runs_code
    assert ("never imports or runs the game's code" in text) == (not runs_code)


def test_the_command_does_not_put_the_current_directory_on_the_path(trained_run, cli):
    import os
    import sys
    before = list(sys.path)
    assert cli("info", trained_run)[0] == 0
    assert sys.path == before and os.getcwd() not in sys.path[:1]


def test_the_help_is_quick_because_jax_is_not_imported():
    import subprocess
    import sys
    code = "import sys; from jaxdqn.cli import build_parser; build_parser(); print('jax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("argv, words", [
    (["train", "RUN", "--checkpont", "ep_0100"], "did you mean --checkpoint?"),
    (["train", "RUN", "--learnig-rate", "3"], "--learnig-rate looks like the setting 'learning_rate': settings are "
                                              "not options; set learning_rate = ... under [training]"),
    (["eval", "RUN", "--hidden-size", "3"], "under [model]"),
])
def test_a_misspelt_option_gets_a_suggestion(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert words in " ".join(capsys.readouterr().err.split())
