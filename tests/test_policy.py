import shutil

import pytest

from jaxdqn.errors import JaxdqnError
from jaxdqn.games.metadata import game_factory
from jaxdqn.policy import PolicyInput, TrainedPolicy
from tests.support.runs import rotated_while_read


def test_trained_policy_and_policy_input_drive_a_game_to_its_end(trained_run):
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


def test_the_newest_checkpoint_is_taken_when_a_running_trainer_removes_the_one_being_read(trained_run, tmp_path,
                                                                                          monkeypatch):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    rotated_while_read(monkeypatch, 20)
    assert TrainedPolicy(run).checkpoint == "ep_0010"  # the newest left
    shutil.copytree(trained_run / "checkpoints" / "ep_0020", run / "checkpoints" / "ep_0020")
    with pytest.raises(JaxdqnError, match=r"checkpoint ep_0020 was removed while it was being read.*newer one"):
        TrainedPolicy(run, checkpoint="ep_0020")  # asked for by name: said so, not called damaged
