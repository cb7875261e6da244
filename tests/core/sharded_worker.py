"""Checks of the compiled loop on 4 CPU devices, run in a process of their own (the device count is fixed
when JAX starts): ``python sharded_worker.py seeds|data_parallel`` prints one JSON line of findings."""
import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4 " + os.environ.get("EXTRA_XLA", "")
os.environ["JAX_PLATFORMS"] = "cpu"  # the forced devices are the CPU's, also where a GPU is present

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxdqn.core import Settings, game_spec, make_runner  # noqa: E402
from jaxdqn.core.networks import make_network  # noqa: E402
from jaxdqn.core.sharding import make_distributed_runner, make_layout  # noqa: E402
from tests.support.games.paint import paint_jax  # noqa: E402

GAME = paint_jax.JAX_GAME
NETWORK = make_network(game_spec(GAME, (16,)))
BIG = np.int32(1 << 30)


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def seeds() -> dict:
    """4 agents, one per device, against the same 4 seeds trained one at a time on one device."""
    settings = Settings(num_envs=2, batch_size=8, memory_capacity=300, target_update_freq=20, learning_rate=1e-3,
                        epsilon_decay=0.95, train_every=2, rows_width=64)
    episodes, records = 12, 12 + 2
    layout = make_layout(4, 1, 4)
    sharded = make_distributed_runner(GAME, NETWORK, settings, records, layout)
    state, _, ran = sharded.run_chunk(sharded.init(np.int32(5)), sharded.init_clock(), np.int32(episodes), BIG)
    runner = make_runner(GAME, NETWORK, settings, records)
    chunk = jax.jit(runner.run_chunk)
    keys = jax.random.split(jax.random.PRNGKey(5), 4)
    out = {"devices": len(jax.devices()), "iterations": int(ran), "same_episodes": True, "same_params": True,
           "max_param_diff": 0.0}
    for agent in range(4):
        alone = jax.tree.map(lambda x: x[None], runner.init(keys[agent]))  # one agent on a batch axis of one
        alone, _, _ = chunk(alone, runner.init_clock(), np.int32(episodes), BIG)
        mine = jax.tree.map(lambda x: x[layout.row(agent)][None], state)
        for field in ("reward", "length", "count"):
            out["same_episodes"] &= bool(np.array_equal(getattr(mine.records, field), getattr(alone.records, field)))
        for a, b in zip(leaves(mine.learner.params), leaves(alone.learner.params)):
            out["same_params"] &= bool(np.array_equal(a, b))
            out["max_param_diff"] = max(out["max_param_diff"], float(np.max(np.abs(a - b))))
    return out


def data_parallel() -> dict:
    """One agent split over 2 devices (2 agents on 4): parameters equal on an agent's devices, and it learns
    (its last episodes, at epsilon 0.02, against its first, at random; paint pays a point per new cell)."""
    network = make_network(game_spec(GAME, (64,)))
    settings = Settings(num_envs=4, batch_size=32, memory_capacity=4000, target_update_freq=200, learning_rate=5e-4,
                        epsilon_decay=0.9, epsilon_min=0.02, train_every=1, rows_width=64, gamma=0.95)
    layout = make_layout(4, 2, 2)
    runner = make_distributed_runner(GAME, network, settings, 400, layout)
    state, _, _ = runner.run_chunk(runner.init(np.int32(1)), runner.init_clock(), np.int32(300), BIG)
    params = jax.tree.map(np.asarray, state.learner.params)
    rows = [[layout.row(agent), layout.row(agent) + layout.per_device] for agent in range(2)]  # its 2 shards
    rewards, counts = np.asarray(state.records.reward), np.asarray(state.records.count)
    return {"identical_on_shards": all(np.array_equal(x[a], x[b]) for x in jax.tree.leaves(params) for a, b in rows),
            "agents_differ": not all(np.array_equal(x[rows[0][0]], x[rows[1][0]]) for x in jax.tree.leaves(params)),
            "first": [float(np.mean([rewards[r, :3] for r in agent])) for agent in rows],
            "last": [float(np.mean([rewards[r, counts[r] - 20:counts[r]] for r in agent])) for agent in rows],
            "episodes": np.asarray(state.episodes).tolist(), "shard_episodes": counts.tolist(),
            "updates": np.asarray(state.learner.step).tolist()}


if __name__ == "__main__":
    print(json.dumps({"seeds": seeds, "data_parallel": data_parallel}[sys.argv[1]]()))
