"""The compiled loop on a mesh of 4 CPU devices (forced host devices, each check in a process of its own)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import env

WORKER = Path(__file__).with_name("sharded_worker.py")
RANDOM_PAINT = 17.8  # mean reward of a random walk on paint (2,000 games)


def check(name: str) -> dict:
    done = subprocess.run([sys.executable, str(WORKER), name], capture_output=True, text=True, timeout=300, env=env())
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_seeds_sharded_over_four_devices_play_the_episodes_of_one_device():
    """Every episode (reward, length) is the one the same seed plays on one device. The parameters agree to
    float32 rounding, not bit for bit: XLA compiles the 4-device program differently from the 1-device one
    (measured: the same with one thread per device and a batch of one agent on both)."""
    found = check("seeds")
    assert found["devices"] == 4 and found["iterations"] > 0
    assert found["same_episodes"]
    assert found["max_param_diff"] < 1e-6


@pytest.mark.slow
def test_a_data_parallel_agent_keeps_one_set_of_parameters_and_learns():
    found = check("data_parallel")
    assert found["identical_on_shards"] and found["agents_differ"]
    assert found["episodes"] == [300] * 4 and found["shard_episodes"] == [150] * 4  # each shard half the games
    assert min(found["last"]) >= RANDOM_PAINT + 6, found
