"""What both trainers share: the run directory they hold, ``train()``'s skeleton, the session header
and every checkpoint's common part.

A trainer declares here the state the shared code (and its checkpoint code) reads and writes; a
subclass implements the abstract methods: :meth:`Trainer._train` (the episodes between two
checkpoints and the checkpoints themselves), :meth:`Trainer.load_checkpoint`,
:meth:`Trainer._session_lines` and the counters. tests/trainers/test_base.py checks that the trainers
and their checkpoint classes use no attribute that is not declared.
"""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Callable, Self

from jaxdqn import __version__, native
from jaxdqn.config import CONFIG_NAME
from jaxdqn.config.architecture import describe
from jaxdqn.config.assembly import RunParts, network_identity
from jaxdqn.config.fingerprint import fingerprint
from jaxdqn.config.schema import TRAINING_KEYS
from jaxdqn.core.networks.migrate import PARAM_LAYOUT
from jaxdqn.core.types import NetworkSpec
from jaxdqn.device import DeviceChoice
from jaxdqn.errors import JaxdqnError
from jaxdqn.games.metadata import GameMetadata
from jaxdqn.run.checkpoints import Checkpoints, checkpoint_name
from jaxdqn.run.restore import REPLAY_LAYOUT
from jaxdqn.trainers.run_directory import RunDirectory
from jaxdqn.trainers.stats import EpisodeResult, TrainingClock


class Trainer(abc.ABC):
    """A DQN trainer holding one run directory (its lock until :meth:`close`, or the end of a ``with``)."""

    run: RunDirectory
    parts: RunParts  # the run's game, encoder, network and hyperparameters (jaxdqn.config.assembly)
    hp: dict
    metadata: GameMetadata
    spec: NetworkSpec
    device_choice: DeviceChoice
    device: object  # a jax.Device
    seed: int
    total_training_seconds: float
    compile_seconds: float | None  # the first update's (or chunk's) compile time, as last measured
    stopped_at: int | None  # the episode a stop request ended the last train() at
    last_episode: EpisodeResult | None
    _resumed_from: str | None  # the checkpoint this session continues, None for a fresh start

    # ------------------------------------------------------------------ what a trainer implements
    @property
    @abc.abstractmethod
    def start_episode(self) -> int:
        """The next episode to play (1 for a fresh run)."""

    @property
    @abc.abstractmethod
    def total_steps(self) -> int:
        """Game steps played so far, over every game and agent."""

    @property
    @abc.abstractmethod
    def epsilon(self) -> float:
        """The exploration rate now (the agents' mean)."""

    @abc.abstractmethod
    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint (its directory or name)."""

    @abc.abstractmethod
    def _train(self, clock: TrainingClock, last: int, on_checkpoint, on_episode, stop) -> None:
        """Play from :attr:`start_episode` to ``last``, checkpointing as configured (see :meth:`train`)."""

    @abc.abstractmethod
    def _session_lines(self) -> tuple[list[str], str | None]:
        """This loop's lines for a new training.log after the network and device, and the seed line."""

    @abc.abstractmethod
    def _game_factory(self) -> Callable:
        """The retro game's factory (config.toml names it when the Python API made the run)."""

    # ------------------------------------------------------------------ the run directory
    @property
    def run_dir(self) -> Path:
        return self.run.path

    @property
    def checkpoints(self) -> Checkpoints:
        return self.run.checkpoints

    @property
    def log(self):
        return self.run.log

    def close(self) -> None:
        """Release the run directory's lock (the trainer can no longer save)."""
        self.run.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def say(self, text: str) -> None:
        """Print ``text`` for the run: with several processes, only the first one speaks."""
        if self.run.primary:
            print(text)

    # ------------------------------------------------------------------ training
    def resume(self, checkpoint: str | None = None) -> str | None:
        """Continue from ``checkpoint`` (a name like ``ep_0100``), or else from the newest checkpoint
        that restores; returns its name, or None when the run has none (training starts fresh).

        Damaged checkpoints are skipped and kept under another name, checkpoints newer than the one
        resumed from are set aside, and training.log lines past it are dropped; all noted in the log.
        """
        return self.run.resume(self.load_checkpoint, checkpoint)

    def train(self, on_checkpoint: Callable[[dict], None] | None = None,
              on_episode: Callable[[], None] | None = None, stop=None) -> None:
        """Train until ``training_episodes``; a checkpoint every ``checkpoint_every`` episodes.

        ``on_checkpoint(stats)`` gets the interval's averages; ``on_episode()`` runs after each
        episode (the first agent's, when several train side by side). Supplying either turns the
        progress bar off (the caller shows progress). ``stop`` is a :class:`jaxdqn.run.stop.StopRequests`
        (the command line passes one wired to Ctrl+C and SIGTERM): once it is requested, training
        stops soon after, a checkpoint is saved, and ``train`` returns.
        """
        last = self.hp["training_episodes"]
        if self.start_episode > last:
            self.say(f"Training already complete ({last} episodes). To train further, raise training_episodes "
                      f"in {self.run_dir / CONFIG_NAME} (or run: jaxdqn train {self.run_dir} --episodes N).")
            return
        existing = self.checkpoints.latest()
        if existing is not None and existing >= self.start_episode:
            raise JaxdqnError(
                f"{self.run_dir} already has checkpoints (the newest is {checkpoint_name(existing)}). Resume with "
                f"trainer.resume() or trainer.load_checkpoint({checkpoint_name(existing)!r}) (the command line "
                f"does this for you), or start fresh with: jaxdqn clean {self.run_dir}")
        self._start_session()
        with TrainingClock() as clock:
            self._train(clock, last, on_checkpoint, on_episode, stop)
        if self.stopped_at is not None:
            where = self.checkpoints.path(self.stopped_at)
            self.say(f"Stopped after episode {self.stopped_at}. Saved {where}; run the same command to continue.")

    def _start_session(self) -> None:
        """TensorBoard if asked for, config.toml's measured values (after resume's checks passed), and
        training.log's header, seed line and session marker."""
        if self.hp["tensorboard"]:
            self.run.open_tensorboard(self.start_episode)
        self.run.write_config(self.parts, self._game_factory())
        network = self.parts.network
        header = [describe(self.spec, self.metadata.actions, network, source=network_identity(network)),
                  f"[INIT] Device: {self.device_choice.description}"]
        if self.device_choice.note:
            header.append(f"[INIT] {self.device_choice.note}")
        if self.spec.spatial and self.device_choice.kind == "cpu":
            header.append(f"[INIT] Convolutions: {native.load().line}")
        lines, seed_line = self._session_lines()
        self.run.start_session(header + lines, None if self._resumed_from else seed_line, self._resumed_from)

    # ------------------------------------------------------------------ checkpoints
    def _diverged(self, episode: int):
        raise self.run.diverged(episode)

    def _save_checkpoint(self, episode: int, state, meta: dict, replay, log_line: str, extras=None) -> None:
        """Checkpoint ``episode`` with ``meta`` and what every checkpoint records (config and fingerprint,
        hyperparameters, layouts, seed, device, totals); its training.log line and metrics.csv rows are
        written just before it becomes visible."""
        snap = self.parts.snapshot()
        meta = {"episode": episode, "total_steps": self.total_steps,
                "total_training_seconds": self.total_training_seconds, "replay_layout": REPLAY_LAYOUT,
                "param_layout": PARAM_LAYOUT, "config": snap, "fingerprint": fingerprint(snap),
                "hyperparams": {k: v for k, v in self.hp.items() if k in TRAINING_KEYS}, "seed": self.seed,
                "jaxdqn_version": __version__, "device": self.device_choice.kind,
                "compile_seconds": self.compile_seconds, **meta}

        def before_commit():
            self.run.metrics.flush()
            if self.run.tensorboard is not None:
                self.run.tensorboard.checkpoint(episode, meta.get("learning_rate"), self.hp.get("num_seeds", 1))
            self.log.write(log_line)

        self.checkpoints.save(episode, state, meta, replay, before_commit, extras=extras)
