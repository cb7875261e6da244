"""TensorBoard event files from both loops and from eval, read back from disk."""
import struct
import sys

import pytest

from jaxdqn.config import load_config
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.metrics import read_metrics
from jaxdqn.trainers import trainer_from_config
from tests.support.runs import PAINT_CONFIG, make_run

pytest.importorskip("tensorboardX")


def scalars(directory) -> dict[str, dict[int, float]]:
    """Every scalar in the event files under ``directory``: tag -> {step: value} (later files win, as
    TensorBoard shows them)."""
    from tensorboardX.proto import event_pb2
    out: dict[str, dict[int, float]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):  # TFRecord: length, its crc, the record, its crc
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def train(run):
    with trainer_from_config(load_config(run)) as trainer:
        trainer.resume()
        trainer.train(on_episode=lambda: None)


def cli(*args):
    from jaxdqn.cli import main
    return main([str(a) for a in args])


@pytest.mark.slow
def test_the_host_loop_writes_what_metrics_csv_has(tmp_path):
    run = make_run(tmp_path, training_episodes=10, checkpoint_every=5, tensorboard="true")
    train(run)
    events = scalars(run / "tensorboard" / "agent_0")
    rows = read_metrics(run / "metrics.csv")
    assert events["episode/reward"] == {int(r["episode"]): pytest.approx(float(r["reward"])) for r in rows}
    assert sorted(events["episode/length"]) == list(range(1, 11))
    assert sorted(events["train/learning_rate"]) == [5, 10] and "train/epsilon" in events
    assert cli("eval", run, "-k", "2") == 0
    evaluation = scalars(run / "tensorboard" / "eval")
    assert list(evaluation["retro/episode_reward_mean"]) == [10]
    assert cli("clean", run, "--yes") == 0 and not (run / "tensorboard").exists()


@pytest.mark.slow
def test_the_compiled_loop_writes_one_run_per_agent(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG, num_seeds=2, num_envs=2, tensorboard="true")
    train(run)
    rows = read_metrics(run / "metrics.csv")
    for agent in (0, 1):
        events = scalars(run / "tensorboard" / f"agent_{agent}")
        mine = {int(r["episode"]): float(r["reward"]) for r in rows if r["agent"] == str(agent)}
        assert events["episode/reward"] == pytest.approx(mine) and sorted(events["train/learning_rate"]) == [10, 20]


def test_tensorboard_without_tensorboardx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    run = make_run(tmp_path, training_episodes=2, tensorboard="true")
    with pytest.raises(JaxdqnError) as err:
        train(run)
    assert "needs the tensorboardX package: pip install tensorboardX" in str(err.value)
