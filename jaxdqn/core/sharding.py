"""The compiled loop over many devices, and many machines, with JAX's own sharding.

A mesh has two axes: ``agents`` and ``data``. Along ``agents``, the ``num_seeds`` independent
agents are split (each device group trains its share). Along ``data``, one agent is split
(Stoix / Podracer "Anakin"): each device plays ``1 / data`` of the agent's games, keeps its own
replay shard and samples its share of each batch from it; gradients are averaged across the
axis, so the parameters stay identical on every device. What this changes against one device:
prioritized replay is prioritized within each shard (each device samples its share of the batch
by its own priorities), and each shard's buffer holds ``memory_capacity / data`` transitions.

The whole chunk runs under ``shard_map`` on the mesh, so it is the same program on every
device; with ``jax.distributed`` initialized, the mesh spans every process's devices and the
same command runs on every host. Global arrays have one block per device along their first
axis (device ``(a, d)``'s block holds the agents of group ``a``, data shard ``d``).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdqn.core.runner import Runner, make_runner

AXES = ("agents", "data")


class Layout(NamedTuple):
    mesh: Mesh
    agent_groups: int  # size of the "agents" axis
    data: int  # size of the "data" axis: devices per agent
    per_device: int  # agents on each device

    @property
    def devices(self) -> int:
        return self.agent_groups * self.data

    def describe(self) -> str:
        return (f"{self.devices} device(s) in {jax.process_count()} process(es): {self.agent_groups} group(s) of "
                f"{self.per_device} agent(s), each agent split over {self.data} device(s)")

    def as_meta(self) -> dict:
        return {"agent_groups": self.agent_groups, "data": self.data, "per_device": self.per_device,
                "processes": jax.process_count()}

    def row(self, agent: int) -> int:
        """The first-axis row of an agent's block on data shard 0."""
        group, j = divmod(agent, self.per_device)
        return (group * self.data) * self.per_device + j


def make_layout(num_devices: int, data: int, num_seeds: int) -> Layout:
    """A mesh over the first ``num_devices`` devices (of every process), ``data`` devices per agent."""
    devices = jax.devices()[:num_devices]
    groups = num_devices // data
    mesh = Mesh(np.array(devices).reshape(groups, data), AXES)
    return Layout(mesh, groups, data, num_seeds // groups)


class DistributedRunner(NamedTuple):
    init: Any  # seed -> global agents state (each agent's key split from the seed)
    init_clock: Any  # () -> the clock, on every device
    run_chunk: Any  # as Runner.run_chunk, on global arrays (pass host numbers, not arrays of one device)
    runner: Runner  # one device's runner (its settings and records capacity)
    layout: Layout


def make_distributed_runner(game, network, settings, records: int, layout: Layout) -> DistributedRunner:
    runner = make_runner(game, network, settings, records, data_axis="data" if layout.data > 1 else None,
                         data_shards=layout.data, mesh_axes=AXES)
    blocks = P(AXES)  # one block per device along the first axis

    def local_init(keys):
        shard = jax.lax.axis_index("data")
        return jax.vmap(lambda k: runner.init(k, shard))(keys)

    init = jax.shard_map(local_init, mesh=layout.mesh, in_specs=blocks, out_specs=blocks)
    chunk = jax.shard_map(runner.run_chunk, mesh=layout.mesh, in_specs=(blocks, P(), P(), P()),
                          out_specs=(blocks, P(), P()), check_vma=False)

    def init_agents(seed):
        """Each agent's key, on every data shard of its group (so its parameters start the same there); made
        inside the program, so no process sends arrays to another's devices."""
        keys = jax.random.split(jax.random.PRNGKey(seed), layout.agent_groups * layout.per_device)
        m = layout.per_device
        rows = [keys[group * m + j] for group in range(layout.agent_groups) for _ in range(layout.data)
                for j in range(m)]
        return init(jnp.stack(rows))

    everywhere = NamedSharding(layout.mesh, P())
    return DistributedRunner(jax.jit(init_agents), jax.jit(runner.init_clock, out_shardings=everywhere),
                             jax.jit(chunk), runner, layout)


def gather(x) -> np.ndarray:
    """A global array on this host in full (every process's blocks)."""
    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
