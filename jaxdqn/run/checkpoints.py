"""Checkpoints: ``RUN_DIR/checkpoints/ep_0100/{state,replay,meta}``, written with Orbax.

What a reader sees is always true: a directory named ``ep_NNNN`` is complete, and there are
never more than ``keep`` of them. A save first writes ``.pending-ep_NNNN`` (Orbax writes a
temporary directory and renames it when every array is on disk), then the caller writes the
checkpoint's line in training.log, then the oldest checkpoint is renamed out of the way,
and only then is the new one renamed into place. Old checkpoints are renamed before they
are deleted, so an interrupted deletion never leaves a half-removed ``ep_NNNN``. The one
process holding the run's lock finishes or discards interrupted saves when it starts
(:meth:`Checkpoints.recover`); readers never change the directory.

Arrays are restored into templates built on the local device, so a checkpoint written on a
GPU loads on a CPU-only machine. Metadata is JSON; nothing in a checkpoint is executed or
unpickled. A checkpoint that cannot be read raises :class:`DamagedCheckpoint` naming it.
"""
from __future__ import annotations

import collections
import functools
import os
from pathlib import Path

from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoint_directory import DELETING, PENDING, CheckpointDirectory, checkpoint_name
from jaxdqn.run.disk import DiskFull, directory_size, format_bytes, is_disk_full, short_reason


class DamagedCheckpoint(JaxdqnError):
    """A checkpoint whose files cannot be read back."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"checkpoint {name} is damaged and cannot be restored ({reason})")


class CheckpointRemoved(DamagedCheckpoint):
    """A checkpoint that went away while it was being read: a trainer running on the run keeps only the newest
    ``keep_checkpoints`` and removes older ones as it saves. Not damage: a newer checkpoint is there."""

    def __init__(self, name: str):
        self.name = name
        self.reason = "removed while it was being read: a trainer running on this run keeps only the newest ones"
        JaxdqnError.__init__(self, f"checkpoint {name} was {self.reason}. Take a newer one (jaxdqn info lists "
                                   "them), or leave out --checkpoint for the newest")


class CheckpointWriteError(JaxdqnError):
    pass


def _drop_empty(tree):
    """Orbax refuses zero-size arrays (a run without extras has ``[N, 0]`` leaves); they carry no data."""
    import jax
    return jax.tree.map(lambda x: None if x.size == 0 else x, tree)


def _abstract(template):
    import jax
    import orbax.checkpoint as ocp
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, _drop_empty(template))


@functools.cache
def _fields_only(name: str, fields: tuple[str, ...]):
    return collections.namedtuple(name, fields)


def _without_unset_fields(tree):
    """``tree`` with every NamedTuple's None fields left out (a one-step transition's ``discount`` and
    ``ended``): replay is stored as it was before those optional fields existed, so checkpoints written
    either side of them read back the same. The leaves, and their order, are unchanged."""
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        kept = [f for f in tree._fields if getattr(tree, f) is not None]
        values = [_without_unset_fields(getattr(tree, f)) for f in kept]
        if len(kept) == len(tree._fields):
            return type(tree)(*values)
        return _fields_only(type(tree).__name__, tuple(kept))(*values)
    if isinstance(tree, (list, tuple)):
        return type(tree)(_without_unset_fields(v) for v in tree)
    if isinstance(tree, dict):
        return {k: _without_unset_fields(v) for k, v in tree.items()}
    return tree


def _refill_empty(restored, template):
    """Zero-size arrays (not saved: Orbax cannot) made again, on the devices of their template."""
    import functools

    import jax
    import jax.numpy as jnp

    def empty(t):
        make = functools.partial(jnp.zeros, t.shape, t.dtype)
        sharding = getattr(t, "sharding", None)
        return jax.jit(make, out_shardings=sharding)() if sharding is not None else make()
    def refill(t, r):
        if t is None:  # a field the tree does not have (a one-step transition's n-step fields)
            return None
        return empty(t) if r is None else r
    return jax.tree.map(refill, template, restored, is_leaf=lambda x: x is None)


class Checkpoints(CheckpointDirectory):
    """The checkpoints of one run. Listing and reading never modify anything; ``save``, ``recover``
    and ``set_aside`` are for the process holding the run's lock.

    With several processes (``jax.distributed``), every process calls ``save`` (Orbax writes each
    process's share of the arrays), and only the primary one touches the directory's names; ``barrier``
    then keeps the others from running ahead of it.
    """

    def __init__(self, directory: str | Path, keep: int = 5, primary: bool = True, barrier=None):
        super().__init__(directory, keep, primary)
        self._barrier = barrier or (lambda name: None)
        self._checkpointer = None

    @property
    def _orbax(self):
        if self._checkpointer is None:
            import orbax.checkpoint as ocp
            self._checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
        return self._checkpointer

    def _settle(self) -> None:
        """After a failed save: let Orbax's threads still writing the other parts finish where they can,
        and start a fresh checkpointer."""
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            try:
                checkpointer.close()
            except Exception:  # noqa: BLE001 - it failed already; only its threads matter here
                pass

    # ------------------------------------------------------------------ reading
    def _read(self, episode: int, items: dict) -> dict:
        import orbax.checkpoint as ocp
        name, path = checkpoint_name(episode), self.path(episode)
        try:
            if not path.is_dir():
                raise CheckpointRemoved(name)
            missing = [item for item in items if not (path / item).is_dir()]
        except OSError as exc:  # e.g. no permission to look inside: not this process's to read
            raise DamagedCheckpoint(name, f"it cannot be read ({short_reason(exc)})") from exc
        if missing:
            raise CheckpointRemoved(name) if not path.is_dir() else DamagedCheckpoint(
                name, f"its {', '.join(missing)} part is missing")
        try:
            return self._orbax.restore(path, args=ocp.args.Composite(**items))
        except Exception as exc:  # noqa: BLE001 - any failure to read is damage; say which checkpoint
            if not path.is_dir():
                raise CheckpointRemoved(name) from None
            raise DamagedCheckpoint(name, short_reason(exc)) from exc

    def read_meta(self, episode: int) -> dict:
        import orbax.checkpoint as ocp
        meta = self._read(episode, {"meta": ocp.args.JsonRestore()})["meta"]
        numbers = {key: (int, float) for key in ("total_steps", "total_training_seconds", "epsilon")}
        wanted = {"episode": (int,), **numbers}
        wrong = ([key for key, kinds in wanted.items() if not isinstance(meta.get(key), kinds)]
                 if isinstance(meta, dict) else list(wanted))
        if wrong:
            raise DamagedCheckpoint(checkpoint_name(episode), f"its metadata is not jaxdqn's (no number for "
                                                              f"{', '.join(wrong)})")
        return meta

    def restore(self, episode: int, state_template, replay_template=None, extra_templates: dict | None = None):
        """``(state, meta, replay)``; replay is None unless a template is given and it was saved. With
        ``extra_templates`` (item name -> template), ``(state, meta, replay, extras)``: the items saved."""
        import jax
        import orbax.checkpoint as ocp
        templates = {"state": state_template}
        if replay_template is not None and self.has_replay(episode):
            templates["replay"] = replay_template
        for item, template in (extra_templates or {}).items():
            if self.has_item(episode, item):
                templates[item] = template
        stored = {item: _without_unset_fields(t) if item == "replay" else t for item, t in templates.items()}
        items = {item: ocp.args.StandardRestore(_abstract(t)) for item, t in stored.items()}
        out = self._read(episode, {**items, "meta": ocp.args.JsonRestore()})
        try:
            restored = {item: jax.tree.unflatten(jax.tree.structure(templates[item]),
                                                 jax.tree.leaves(_refill_empty(out[item], t)))
                        for item, t in stored.items()}
        except Exception as exc:  # noqa: BLE001 - arrays of the wrong structure are damage too
            raise DamagedCheckpoint(checkpoint_name(episode), short_reason(exc)) from exc
        result = (restored["state"], out["meta"], restored.get("replay"))
        if extra_templates is None:
            return result
        return (*result, {item: restored[item] for item in extra_templates if item in restored})

    def verify(self, episode: int) -> DamagedCheckpoint | None:
        """None when every part of the checkpoint reads back, else why not (reads all its arrays)."""
        import orbax.checkpoint as ocp
        items = {"meta": ocp.args.JsonRestore(), "state": ocp.args.StandardRestore()}
        path = self.path(episode)
        try:
            for item in sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []:
                if item not in items:
                    items[item] = ocp.args.StandardRestore()
        except OSError as exc:
            return DamagedCheckpoint(checkpoint_name(episode), f"it cannot be read ({short_reason(exc)})")
        try:
            self._read(episode, items)
            self.read_meta(episode)
        except DamagedCheckpoint as exc:
            return exc
        return None

    # ------------------------------------------------------------------ writing (lock holder only)
    def save(self, episode: int, state, meta: dict, replay=None, before_commit=None, extras: dict | None = None
             ) -> Path:
        """Write checkpoint ``episode`` (``extras``: more items, name -> tree); ``before_commit()`` runs once
        its files are complete, just before it becomes visible (the trainer writes its log line there)."""
        import orbax.checkpoint as ocp
        name = checkpoint_name(episode)
        final = self.path(episode)
        if final.exists():
            raise CheckpointWriteError(f"{final} already exists; it is never overwritten")
        pending = self.directory / f"{PENDING}{name}"
        if self.primary:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._remove(pending)
        self._barrier(f"jaxdqn-save-{episode}-start")
        items = {"state": ocp.args.StandardSave(_drop_empty(state)), "meta": ocp.args.JsonSave(meta)}
        if replay is not None:
            items["replay"] = ocp.args.StandardSave(_drop_empty(_without_unset_fields(replay)))
        for item, tree in (extras or {}).items():
            items[item] = ocp.args.StandardSave(_drop_empty(tree))
        try:
            self._orbax.save(pending, args=ocp.args.Composite(**items))
        except Exception as exc:  # noqa: BLE001 - clean up, then say what happened in one line
            self._settle()
            if self.primary:
                self.remove_temporaries(pending)
            if is_disk_full(exc):
                raise DiskFull(self._disk_full_message(name)) from exc
            raise CheckpointWriteError(f"could not write checkpoint {name} in {self.directory} "
                                       f"({short_reason(exc)})") from exc
        if self.primary:
            if before_commit is not None:
                before_commit()
            self._make_room(self.keep - 1)
            os.replace(pending, final)
            self._sync_directory()
            self._purge(DELETING)
        self._barrier(f"jaxdqn-save-{episode}-done")
        return final

    def _disk_full_message(self, name: str) -> str:
        latest = self.latest()
        if latest is not None:
            size = directory_size(self.path(latest))
            kept = (f"Each checkpoint takes about {format_bytes(size)} here and keep_checkpoints = {self.keep} "
                    f"keeps up to {format_bytes(size * self.keep)}. The last good checkpoint, "
                    f"{checkpoint_name(latest)}, is untouched.")
        else:
            kept = "No checkpoint was saved yet."
        return (f"the disk holding {self.directory} is full: checkpoint {name} could not be written. {kept} "
                "Free some space, or lower keep_checkpoints (or set save_replay_buffer = false) in [training], "
                "then run the same command again to continue.")
