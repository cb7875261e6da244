import json

import pytest


def test_eval_json(trained_run, cli):
    code, out, err = cli("eval", trained_run, "--episodes", "3", "--seed", "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["checkpoint"] == "ep_0020" and data["episodes"] == 3 and data["reward_key"] == "points"
    for key in ("episode_reward", "episode_length"):
        assert set(data[key]) == {"mean", "std", "min", "max"}
    assert "final_reward_value" not in data  # points start at 0: the final value repeats the episode reward
    assert data["episode_length"]["mean"] == 12
    assert [e["length"] for e in data["per_episode"]] == [12, 12, 12]
    assert data["episode_reward"]["mean"] == pytest.approx(sum(e["reward"] for e in data["per_episode"]) / 3)
    code, again, _ = cli("eval", trained_run, "--episodes", "3", "--seed", "1", "--json")
    assert json.loads(again)["episode_reward"] == data["episode_reward"]
    code, text, _ = cli("eval", trained_run, "--episodes", "2")
    assert "episode reward" in text and "mean" in text
