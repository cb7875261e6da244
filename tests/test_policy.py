from jaxdqn.games.metadata import game_factory
from jaxdqn.policy import PolicyInput, TrainedPolicy


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
