import pytest

from jaxdqn.config import load_config
from jaxdqn.train import main
from tests.support.runs import TINY_CONFIG, TINYGAME, make_run, run_cli


def _edit(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


# (name, transform of the tiny config, text the message must contain)
BAD_CONFIGS = [
    ("toml syntax", lambda t: t + "\nbroken = [1, 2\n", "not valid TOML"),
    ("unknown section", lambda t: t + "\n[trainning]\nseed = 1\n", "[training]"),
    ("unknown training key", lambda t: _edit(t, "seed = 7", "sead = 7"), "did you mean 'seed'"),
    ("unknown model key", lambda t: _edit(t, "hidden_sizes = [16]", "hidden_sizes = [16]\nlayers = 3"), "model.layers"),
    ("unknown preprocessing key", lambda t: _edit(t, "observe_state =", "observe_states ="), "'observe_state'"),
    ("unknown game key", lambda t: _edit(t, 'module = "tinygame"', 'module = "tinygame"\nmodul = "x"'), "game.modul"),
    ("missing game module", lambda t: _edit(t, 'module = "tinygame"', 'module = "no_such_game_module"'),
     "game.module"),
    ("game module absent", lambda t: _edit(t, 'module = "tinygame"\n', ""), "game.module: is missing"),
    ("game module misspelt", lambda t: _edit(t, 'module = "tinygame"', 'module = "tinygam"'),
     "did you mean module = 'tinygame'?"),
    ("wrong type learning_rate", lambda t: _edit(t, "learning_rate = 0.001", 'learning_rate = "fast"'),
     "training.learning_rate"),
    ("negative learning_rate", lambda t: _edit(t, "learning_rate = 0.001", "learning_rate = -1.0"),
     "training.learning_rate"),
    ("gamma above one", lambda t: _edit(t, "[training]\n", "[training]\ngamma = 1.5\n"), "training.gamma"),
    ("epsilon out of range", lambda t: _edit(t, "[training]\n", "[training]\nepsilon = 2\n"), "training.epsilon"),
    ("epsilon_min above epsilon", lambda t: _edit(t, "[training]\n", "[training]\nepsilon = 0.1\nepsilon_min = 0.5\n"),
     "training.epsilon_min"),
    ("batch larger than memory", lambda t: _edit(t, "memory_capacity = 200", "memory_capacity = 4"),
     "training.batch_size: 8 is larger than memory_capacity = 4"),
    ("zero batch", lambda t: _edit(t, "batch_size = 8", "batch_size = 0"), "training.batch_size"),
    ("float episodes", lambda t: _edit(t, "training_episodes = 30", "training_episodes = 30.5"),
     "training.training_episodes"),
    ("boolean as int", lambda t: _edit(t, "target_update_freq = 20", "target_update_freq = true"),
     "training.target_update_freq"),
    ("prioritize not bool", lambda t: _edit(t, "[training]\n", '[training]\nprioritize_experiences = "yes"\n'),
     "training.prioritize_experiences"),
    ("bad unknown strategy", lambda t: _edit(t, "[training]\n", '[training]\nunknown_character_strategy = "skip"\n'),
     "training.unknown_character_strategy"),
    ("bad device", lambda t: _edit(t, "[training]\n", '[training]\ndevice = "tpu"\n'), "training.device"),
    ("negative seed", lambda t: _edit(t, "seed = 7", "seed = -3"), "training.seed"),
    ("seed past 32 bits", lambda t: _edit(t, "seed = 7", "seed = 9223372036854775807"),
     "training.seed: 9223372036854775807 is not a whole number from 0 to 2,147,483,647"),
    ("empty hidden sizes", lambda t: _edit(t, "hidden_sizes = [16]", "hidden_sizes = []"), "model.hidden_sizes"),
    ("hidden sizes not ints", lambda t: _edit(t, "hidden_sizes = [16]", "hidden_sizes = [16, 0.5]"),
     "model.hidden_sizes"),
    ("empty actions", lambda t: _edit(t, 'actions = ["KEY_LEFT", "KEY_RIGHT"]', "actions = []"), "metadata.actions"),
    ("missing reward", lambda t: _edit(t, 'reward = "points"\n', ""), "metadata.reward"),
    ("multi-char character_set", lambda t: _edit(t, "[metadata]\n", '[metadata]\ncharacter_set = ["AB"]\n'),
     "metadata.character_set"),
    ("bad factory", lambda t: _edit(t, 'factory = "tinygame:build"', 'factory = "tinygame:missing"'),
     "metadata.factory"),
    ("egocentric without radius", lambda t: _edit(t, "[preprocessing]\n", '[preprocessing]\negocentric = true\negocentric_player = "player"\n'),
     "preprocessing.egocentric_radius"),
    ("board off and nothing observed", lambda t: _edit(t, 'observe_state = ["where"]', "board = false"),
     "preprocessing.board"),
    ("exploration_turns negative", lambda t: _edit(t, "[training]\n", "[training]\nexploration_turns = -1\n"),
     "training.exploration_turns"),
    ("distributed retro game", lambda t: t + "\n[distributed]\ndevices = 2\n", "needs the game written in JAX"),
    ("distributed unknown key", lambda t: t + "\n[distributed]\ndevice = 2\n", "did you mean 'devices'"),
    ("distributed devices", lambda t: t + '\n[distributed]\ndevices = "many"\n', "distributed.devices"),
    ("data_parallel not dividing", lambda t: t + "\n[distributed]\ndevices = 3\ndata_parallel = 2\n",
     "distributed.data_parallel: 2 does not divide devices = 3"),
    ("batch not split", lambda t: t + "\n[distributed]\ndevices = 2\ndata_parallel = 2\n",
     "training.num_envs: 1 is not a multiple of data_parallel = 2"),
    ("coordinator format", lambda t: t + '\n[distributed]\ncoordinator = "localhost"\nnum_processes = 2\n',
     "distributed.coordinator"),
    ("coordinator without processes", lambda t: t + '\n[distributed]\ncoordinator = "10.0.0.1:1234"\n',
     "distributed.num_processes"),
    ("timeout not positive", lambda t: t + '\n[distributed]\ntimeout = 0\n',
     "distributed.timeout: 0 is not a positive number of seconds"),
    ("huber_delta not positive", lambda t: _edit(t, "[training]\n", "[training]\nhuber_delta = 0\n"),
     "training.huber_delta: 0 is not a positive number"),
    ("max_grad_norm not a number", lambda t: _edit(t, "[training]\n", '[training]\nmax_grad_norm = "ten"\n'),
     "training.max_grad_norm"),
    ("sweep for a retro game", lambda t: t + "\n[sweep]\ngamma = [0.9, 0.99]\n", "sweep: is set for a retro game"),
    ("sweep of a shape", lambda t: t + "\n[sweep]\nbatch_size = [8, 16]\n", "sweep.batch_size: cannot be swept"),
    ("sweep misspelt", lambda t: t + "\n[sweep]\ngama = [0.9, 0.99]\n", "sweep.gama: is not a known training"),
    ("sweep not a list", lambda t: t + "\n[sweep]\ngamma = 0.9\n", "sweep.gamma: 0.9 is not a list of values"),
    ("sweep and training", lambda t: t + "\n[sweep]\nlearning_rate = [0.001, 0.01]\n",
     "training.learning_rate: is swept in [sweep] too"),
    ("sweep bad value", lambda t: t + "\n[sweep]\ngamma = [0.9, 1.5]\n", "sweep.gamma: value 1.5 is not in (0, 1]"),
    ("sweep value twice", lambda t: t + "\n[sweep]\ngamma = [0.9, 0.9]\n", "lists a value twice"),
    ("sweep combination", lambda t: t + "\n[sweep]\nepsilon = [1.0, 0.2]\nepsilon_min = [0.05, 0.5]\n",
     "sweep (epsilon=0.2 epsilon_min=0.5): 0.5 is above epsilon = 0.2"),
    ("sweep distributed", lambda t: t + "\n[distributed]\ndevices = 2\n[sweep]\ngamma = [0.9, 0.99]\n",
     "sweep: is set with [distributed]"),
]


@pytest.mark.parametrize("name, transform, words", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_explained_and_file_untouched(tmp_path, capsys, name, transform, words):
    run = make_run(tmp_path, transform(TINY_CONFIG))
    before = (run / "config.toml").read_bytes()
    code = main([str(run)])
    err = capsys.readouterr().err
    assert code != 0
    assert words in err, err
    assert "fix:" in err and "Traceback" not in err
    assert (run / "config.toml").read_bytes() == before
    assert not (run / "checkpoints").exists() and not (run / "training.log").exists()


def test_every_problem_is_listed_at_once(tmp_path):
    text = _edit(_edit(TINY_CONFIG, "batch_size = 8", "batch_size = 0"), "seed = 7", "sead = 7")
    with pytest.raises(Exception) as err:
        load_config(make_run(tmp_path, text))
    assert "Found 2 problems" in str(err.value)


def test_cli_bad_config_subprocess_has_no_traceback(tmp_path):
    run = make_run(tmp_path, TINY_CONFIG.replace("batch_size = 8", "batch_size = 9000"))
    result = run_cli(run)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "training.batch_size" in result.stderr


def test_missing_run_dir_and_missing_config(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) != 0
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) != 0
    assert "config.toml does not exist" in capsys.readouterr().err


def test_shipped_snake_config_is_valid():
    from pathlib import Path
    config = load_config(Path(__file__).resolve().parents[2] / "runs" / "snake")
    assert config.metadata.reward == "reward" and config.training["seed"] is not None


def test_loading_without_importing_the_game_runs_none_of_its_code(tmp_path):
    game = tmp_path / "noisy_game.py"
    game.write_text("import pathlib\npathlib.Path(__file__).with_suffix('.imported').touch()\n"
                    "def create_game():\n    pass\n")
    text = TINY_CONFIG.replace('module = "tinygame"', 'module = "noisy_game"').replace(
        'factory = "tinygame:build"', 'factory = "noisy_game:create_game"')
    text = text.replace('path = "', f'path = "{tmp_path.as_posix()}"\n# was: path = "', 1)
    run = make_run(tmp_path, text)
    config = load_config(run, import_game=False)
    assert config.game["module"] == "noisy_game" and config.metadata.reward == "points"
    assert not game.with_suffix(".imported").exists()
    load_config(run)  # the default imports the game to check it
    assert game.with_suffix(".imported").exists()


def test_a_byte_order_mark_is_read_past_and_bytes_that_are_not_utf8_are_named(tmp_path, capsys):
    bom = make_run(tmp_path, name="bom")
    (bom / "config.toml").write_bytes(b"\xef\xbb\xbf" + (bom / "config.toml").read_bytes())
    assert load_config(bom).training["seed"] == 7
    latin = make_run(tmp_path, TINY_CONFIG.replace("# a tiny run for the tests", "# caf\xe9"), name="latin")
    (latin / "config.toml").write_bytes((latin / "config.toml").read_text().encode("latin-1"))
    before = (latin / "config.toml").read_bytes()
    assert main([str(latin)]) == 2
    err = capsys.readouterr().err
    assert "config.toml: is not UTF-8 text (byte 0xe9 on line 1)" in err and "Traceback" not in err
    assert (latin / "config.toml").read_bytes() == before


def test_a_game_module_that_exits_while_imported_is_named(tmp_path, capsys):
    games = tmp_path / "games"
    games.mkdir()
    (games / "quitter.py").write_text("import sys\nsys.exit(3)\n")
    run = make_run(tmp_path, TINY_CONFIG.replace('module = "tinygame"', 'module = "quitter"')
                   .replace(str(TINYGAME.as_posix()), games.as_posix()))
    assert main([str(run)]) == 2
    err = capsys.readouterr().err
    assert "'quitter'" in err and "called sys.exit(3)" in err and 'if __name__ == "__main__"' in err
