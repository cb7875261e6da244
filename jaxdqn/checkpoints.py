"""Checkpoints with Orbax: ``checkpoints/ep_0100/{state,replay,meta}``.

Saves are atomic (Orbax writes a temporary directory and renames it when complete, so a
crash mid-save leaves nothing that looks like a checkpoint), old checkpoints are removed
only after a newer one is committed, and arrays are restored into templates built on the
local device, so a checkpoint written on a GPU loads on a CPU-only machine. Metadata is
JSON; nothing in a checkpoint is ever executed or unpickled.
"""
from __future__ import annotations

import re
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from jaxdqn.errors import JaxdqnError

PREFIX = "ep"
NAME = re.compile(r"^(?:ep_?)?(\d+)$")


def checkpoint_name(episode: int) -> str:
    return f"{PREFIX}_{episode:04d}"


def _abstract(template):
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, template)


class Checkpoints:
    def __init__(self, directory: str | Path, keep: int = 5):
        self.directory = Path(directory).resolve()
        options = ocp.CheckpointManagerOptions(
            step_prefix=PREFIX,
            step_format_fixed_length=4,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            enable_async_checkpointing=False,  # the next update donates these buffers
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest(self) -> int | None:
        return self._manager.latest_step()

    def names(self) -> list[str]:
        return [checkpoint_name(s) for s in self.steps()]

    def resolve(self, name: str | None) -> int:
        """The episode of a checkpoint named like ``ep_0100`` (or ``100``); the latest when None."""
        steps = self.steps()
        if not steps:
            raise JaxdqnError(f"no checkpoints in {self.directory}. Train first: jaxdqn train {self.directory.parent}")
        if name is None:
            return steps[-1]
        m = NAME.match(name.strip())
        if not m or int(m.group(1)) not in steps:
            raise JaxdqnError(f"no checkpoint named {name!r} in {self.directory}; available: {', '.join(self.names())}")
        return int(m.group(1))

    def save(self, episode: int, state, meta: dict, replay=None) -> None:
        items = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
        if replay is not None:
            items["replay"] = ocp.args.StandardSave(replay)
        self._manager.save(episode, args=ocp.args.Composite(**items), force=True)
        self._manager.wait_until_finished()

    def has_replay(self, episode: int) -> bool:
        return (self.directory / checkpoint_name(episode) / "replay").is_dir()

    def read_meta(self, episode: int) -> dict:
        return self._manager.restore(episode, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

    def restore(self, episode: int, state_template, replay_template=None):
        """``(state, meta, replay)``; replay is None unless a template is given and it was saved."""
        items = {"state": ocp.args.StandardRestore(_abstract(state_template)), "meta": ocp.args.JsonRestore()}
        if replay_template is not None and self.has_replay(episode):
            items["replay"] = ocp.args.StandardRestore(_abstract(replay_template))
        out = self._manager.restore(episode, args=ocp.args.Composite(**items))
        return out["state"], out["meta"], out["replay"] if "replay" in items else None

    def close(self) -> None:
        self._manager.close()
