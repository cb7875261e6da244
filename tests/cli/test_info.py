import shutil
import subprocess
import sys

from jaxdqn.device import select_device
from tests.support.runs import TINY_CONFIG, env, make_run, rotated_while_read


def test_info(trained_run, cli):
    code, out, err = cli("info", trained_run)
    assert code == 0, err
    assert "tinygame" in out and "  ep_0010  ok\n  ep_0020  ok\n" in out and "episode 20, 240 game steps" in out
    assert f"Device (now)   : {select_device().kind} (" in out and "steps/s" in out and "nan" not in out
    assert "Actions        : KEY_LEFT, KEY_RIGHT + no-op" in out and "{" not in out  # for people, not Python dicts


def test_info_marks_a_damaged_checkpoint(trained_run, tmp_path, cli):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    (run / "checkpoints" / "ep_0020" / "meta" / "metadata").write_bytes(b"\xff garbage")
    code, out, err = cli("info", run)
    assert code == 0, err
    assert "  ep_0010  ok\n" in out and "  ep_0020  DAMAGED, does not restore" in out
    assert "Latest         : episode 10," in out and "Traceback" not in out + err


def test_metadata_that_is_json_but_not_jaxdqns_is_damage(trained_run, tmp_path, cli):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    (run / "checkpoints" / "ep_0020" / "meta" / "metadata").write_text('{"episode": 20, "note": "edited"}')
    code, out, err = cli("info", run)
    assert code == 0, err
    assert "  ep_0020  DAMAGED, does not restore: its metadata is not jaxdqn's (no number for total_steps" in out
    assert "Latest         : episode 10," in out and "Traceback" not in out + err


def test_a_checkpoint_the_running_trainer_removed_is_not_called_damaged(trained_run, tmp_path, cli, monkeypatch):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    rotated_while_read(monkeypatch, 10)
    code, out, err = cli("info", run)
    assert code == 0, err
    assert "  ep_0010  gone: removed while it was being read" in out and "DAMAGED" not in out
    assert "  ep_0020  ok\n" in out


def test_reading_commands_leave_checkpoints_alone(trained_run, tmp_path, cli):
    """info, eval and play read a run a trainer may be writing: its in-progress files must survive."""
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    (run / "checkpoints" / "ep_0030.orbax-checkpoint-tmp-12345").mkdir()
    (run / "checkpoints" / ".pending-ep_0030").mkdir()
    before = sorted(str(p.relative_to(run)) for p in (run / "checkpoints").rglob("*"))
    assert cli("info", run)[0] == 0
    assert cli("eval", run, "-k", "1")[0] == 0
    assert cli("play", run, "--headless", "--turns", "3")[0] == 0
    assert sorted(str(p.relative_to(run)) for p in (run / "checkpoints").rglob("*")) == before


def test_info_plot_and_clean_never_run_the_games_code(tmp_path, cli):
    (tmp_path / "noisy_game.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_suffix('.imported').touch()\n"
        "from tinygame import build\n")
    text = TINY_CONFIG.replace('module = "tinygame"', 'module = "noisy_game"').replace(
        'factory = "tinygame:build"', 'factory = "noisy_game:build"')
    run = make_run(tmp_path, text)
    (run / "training.log").write_text("[ep_0010] ep=0001-0010 avg_reward=+1.0 avg_steps=12 epsilon=0.599 "
                                      "avg_loss=0.5 time=0m01s total=0m01s\n")
    (tmp_path / "noisy_game.py").rename(run / "noisy_game.py")
    text = (run / "config.toml").read_text().replace('path = "', f'path = "{run.as_posix()}"\n# path = "', 1)
    (run / "config.toml").write_text(text)
    for command in (["info", run], ["plot", run], ["clean", run, "--yes"]):
        code, _, err = cli(*command)
        assert code == 0, err
    assert not (run / "noisy_game.imported").exists()


def test_console_script_entry_point(trained_run):
    result = subprocess.run([sys.executable, "-m", "jaxdqn.cli", "info", str(trained_run)], capture_output=True,
                            text=True, timeout=120, env=env())
    assert result.returncode == 0 and "Checkpoints" in result.stdout
