"""Checkpoints of a host-loop run: what :class:`~jaxdqn.trainers.host.DQNTrainer` saves and how it resumes
(network, optimizer, schedules, host random generators and, with ``save_replay_buffer``, the replay)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jax

from jaxdqn.config.fingerprint import check_compatible
from jaxdqn.run.checkpoints import checkpoint_name
from jaxdqn.run.restore import READABLE_REPLAY_LAYOUTS, replay_fits, replay_not_restored, restore_state
from jaxdqn.trainers.base import Trainer
from jaxdqn.trainers.host_updates import UpdatePipeline
from jaxdqn.trainers.randomness import HostRandomness
from jaxdqn.trainers.schedules import Schedules

if TYPE_CHECKING:
    from jaxdqn.trainers.host import HostActors


class HostCheckpoints(Trainer):
    """Saving and resuming, for :class:`~jaxdqn.trainers.host.DQNTrainer`, which holds the state declared
    here (and in :class:`~jaxdqn.trainers.base.Trainer`)."""

    pipeline: UpdatePipeline  # the learner, replay and optimizer on the device
    actors: HostActors  # the games and the step counter
    schedules: Schedules
    randomness: HostRandomness
    next_episode: int
    _warned_characters: set[str]  # characters outside character_set already warned about in the log
    _noted_last_frame: set[str]  # ... or noted as met on a game's last frame only

    def load_checkpoint(self, path: str | Path) -> None:
        """Resume from a checkpoint (a directory like ``checkpoints/ep_0100`` or its name).

        Raises :class:`IncompatibleCheckpoint` listing each changed field (was / now / why) when
        the config changed in a way the saved network cannot follow, and
        :class:`~jaxdqn.run.checkpoints.DamagedCheckpoint` when its files cannot be read.
        """
        pipeline = self.pipeline
        episode = self.checkpoints.resolve(Path(path).name)
        name = checkpoint_name(episode)
        meta = self.checkpoints.read_meta(episode)
        check_compatible(meta.get("config", {}), self.parts.snapshot(), name, self.run_dir)
        saved_width = meta.get("rows_width", 0)
        saved_hp = meta.get("hyperparams", {})
        # Replay saved in an older layout (before row lists and 16-way trees), or of another kind or size, is not read.
        readable = (meta.get("replay_layout") in READABLE_REPLAY_LAYOUTS
                    and bool(saved_width) == bool(pipeline.rows_width) and replay_fits(saved_hp, self.hp))
        with jax.default_device(self.device):
            replay_template = None
            if self.hp["save_replay_buffer"] and readable:
                replay_template = (pipeline.replay if saved_width == pipeline.rows_width
                                   else pipeline.empty_replay(saved_width))
            state, meta, replay = restore_state(self.checkpoints, episode, meta, self.spec, pipeline.optimizer,
                                                pipeline.state(), replay_template)
        pipeline.load(state, replay, int(meta.get("buffer_items", 0)), saved_width)
        self.actors.total_steps = int(meta["total_steps"])
        self.total_training_seconds = float(meta["total_training_seconds"])
        self.compile_seconds = meta.get("compile_seconds")
        # counted on, and warned about (or noted) once per run
        unknown, last_frame = meta.get("unknown_characters") or {}, meta.get("unknown_on_last_frame") or {}
        encoder = self.parts.game.encoder
        encoder.unknown_on_last_frame.update(last_frame)
        encoder.unknown_seen.update({ch: n - last_frame.get(ch, 0) for ch, n in unknown.items()
                                     if n > last_frame.get(ch, 0)})
        self._warned_characters = set(encoder.unknown_seen)
        self._noted_last_frame = set(last_frame)
        self.next_episode = int(meta["episode"]) + 1
        self.schedules.load(meta, saved_hp)
        self.randomness.load(meta)
        if replay is None and self.hp["save_replay_buffer"]:
            saved = not readable and self.checkpoints.has_replay(episode)
            self.run.notes.append(replay_not_restored(saved, saved_hp, self.hp))
        self.run.note_changes(saved_hp, self.hp)
        pipeline.set_learning_rate(self.schedules.learning_rate)
        self._resumed_from = name

    def _unknown_characters(self) -> dict:
        """For the checkpoint: how often each character outside character_set was met (``info`` shows it),
        and how often on a game's last frame."""
        encoder = self.parts.game.encoder
        total = dict(encoder.unknown_seen)
        for ch, n in encoder.unknown_on_last_frame.items():
            total[ch] = total.get(ch, 0) + n
        return {"unknown_characters": total, "unknown_on_last_frame": dict(encoder.unknown_on_last_frame)}

    def _save(self, episode: int, log_line: str) -> None:
        """Checkpoint ``episode``; its training.log line is written just before it becomes visible."""
        if not self.pipeline.params_finite():
            self._diverged(episode)
        replay = self.pipeline.replay_for_saving() if self.hp["save_replay_buffer"] else None
        meta = {**self.schedules.state(), **self.randomness.state(), "buffer_items": self.pipeline.buffer_items,
                "rows_width": self.pipeline.rows_width,
                **self._unknown_characters()}
        self._save_checkpoint(episode, self.pipeline.state(), meta, replay, log_line)
