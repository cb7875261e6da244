"""A run directory from the trainer's side: who may write it, and what it holds when a run starts.

Opening one checks that every path the trainer writes is writable (before any slow work),
takes the run's lock (a second trainer refuses at once), and finishes whatever an
interrupted run left half done. Everything that happened while opening and resuming is
kept as notes and written to training.log under the session's marker, in order.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from jaxdqn.config import CONFIG_NAME
from jaxdqn.config.assembly import network_identity
from jaxdqn.config.schema import TRAINING_KEYS
from jaxdqn.config.writing import record_discovered, write_config
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoints import Checkpoints, DamagedCheckpoint, checkpoint_name
from jaxdqn.run.lock import RunLock
from jaxdqn.run.log import LOG_NAME, TrainingLog
from jaxdqn.run.metrics import EpisodeMetrics
from jaxdqn.run.tensorboard import TensorBoardEvents


class RunNotWritable(JaxdqnError):
    pass


class TrainingDiverged(JaxdqnError):
    pass


def check_writable(run_dir: Path) -> None:
    """Raise :class:`RunNotWritable` naming the first path the trainer would fail to write."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunNotWritable(f"{run_dir} is a file, not a run directory. Choose a directory for RUN_DIR.")
    targets = [run_dir] if run_dir.is_dir() else [_existing_parent(run_dir)]
    for name in (CONFIG_NAME, LOG_NAME, "checkpoints"):
        if (run_dir / name).exists():
            targets.append(run_dir / name)
    for path in targets:
        if not os.access(path, os.W_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
            raise RunNotWritable(
                f"cannot write to {path}: the trainer saves config.toml values, training.log and checkpoints "
                f"in {run_dir}, and this user has no write permission there (or the disk is mounted read-only). "
                f"Make it writable (e.g. chmod -R u+w {run_dir}), or copy the run somewhere writable and train "
                "that copy.")


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")  # pragma: no cover


class RunDirectory:
    """The trainer's handle on a run directory: the lock, training.log, metrics.csv, checkpoints and
    start-up notes."""

    def __init__(self, run_dir: str | Path, keep_checkpoints: int, primary: bool = True, barrier=None):
        """``primary=False`` for the other processes of a run on several machines: they neither lock nor
        write anything but their share of each checkpoint (see :class:`~jaxdqn.run.checkpoints.Checkpoints`)."""
        self.path = Path(run_dir)
        self.primary = primary
        check_writable(self.path)
        self.lock = RunLock(self.path)
        if primary:
            self.path.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
        self.log = TrainingLog(self.path) if primary else _Discard()
        self.metrics = EpisodeMetrics(self.path) if primary else _Discard()
        self.checkpoints = Checkpoints(self.path / "checkpoints", keep=keep_checkpoints, primary=primary,
                                       barrier=barrier)
        self.notes: list[str] = self.checkpoints.recover(self.log.checkpoint_episodes()) if primary else []
        self.skipped: list[DamagedCheckpoint] = []  # newer checkpoints a resume passed over as damaged
        self.tensorboard: TensorBoardEvents | None = None

    def open_tensorboard(self, first_episode: int) -> None:
        """TensorBoard event files for the session that starts at ``first_episode`` (``[training]
        tensorboard``), fed the rows metrics.csv gets."""
        if not self.primary or self.tensorboard is not None:
            return
        self.tensorboard = TensorBoardEvents(self.path, first_episode)
        self.metrics.listeners.append(self.tensorboard.episodes)

    def write_config(self, parts, factory) -> None:
        """Record measured values in config.toml, or write a whole one when the Python API made this run."""
        if not self.primary:
            return
        path = self.path / CONFIG_NAME
        if path.exists():
            record_discovered(path, parts.game.config_updates())
            return
        module = getattr(factory, "__module__", None) or "unknown"
        game = {"module": module}
        if getattr(factory, "__name__", "create_game") != "create_game":
            game["factory"] = f"{module}:{factory.__qualname__}"
        header = ["Written by jaxdqn's DQNTrainer; edit freely (comments are kept)."]
        custom = network_identity(parts.network)
        if custom:
            header.append(f"Trained with your module {custom}: for jaxdqn play and eval, add to [model] "
                          'network = "package.module:attribute" naming it (or a function of the spec returning it).')
        write_config(self.path, game=game, metadata=parts.metadata.to_dict(),
                     preprocessing={k: v for k, v in parts.game.preprocessing.items() if v is not None},
                     hidden_sizes=list(parts.hp["hidden_sizes"]),
                     training={k: v for k, v in parts.hp.items() if k in TRAINING_KEYS and v is not None},
                     header=header)

    def start_session(self, header: list[str], seed_line: str | None, resumed_from: str | None) -> None:
        """training.log for a session that trains: the header for a new log, the seed for a fresh start,
        the session's marker, then the notes gathered while opening and resuming."""
        if not self.primary:
            return
        if resumed_from is None:  # from the beginning: what a session left before its first save is not kept
            rows, lines = self.metrics.drop_after(0), self.log.drop_after(0)
            if rows or lines:
                self.notes.append(f"[INIT] removed {rows} metrics.csv row(s) and {len(lines)} log line(s) of an "
                                  "earlier session that stopped before its first checkpoint")
        if self.log.is_new:
            self.log.write(*header)
        if seed_line is not None:
            self.log.write(seed_line)
        self.log.marker(resumed_from)
        if self.notes:
            self.log.write(*self.notes)
            self.notes = []

    def resume(self, load: Callable[[str], None], checkpoint: str | None = None) -> str | None:
        """``load(name)`` the checkpoint asked for, or else the newest that restores; its name, or None
        when there is none. Damaged ones are skipped (and named: set aside if newer, or in the error
        when none restores); a damaged chosen one is an error that suggests another."""
        if checkpoint is not None:
            candidates = [self.checkpoints.resolve(checkpoint)]
        else:
            candidates = list(reversed(self.checkpoints.steps()))
        damaged: list[DamagedCheckpoint] = []
        for episode in candidates:
            try:
                load(checkpoint_name(episode))
            except DamagedCheckpoint as exc:
                if checkpoint is not None:
                    others = [n for n in self.checkpoints.names() if n != exc.name]
                    raise JaxdqnError(f"{exc}. " + (f"Resume from another one: jaxdqn train {self.path} "
                                                    f"--checkpoint {others[-1]}" if others else
                                                    f"Start fresh with: jaxdqn clean {self.path}")) from None
                damaged.append(exc)
                continue
            self.after_resuming(episode, damaged)
            return checkpoint_name(episode)
        if damaged:
            raise self.none_restores(damaged)
        return None

    def after_resuming(self, episode: int, damaged: list[DamagedCheckpoint]) -> None:
        """Checkpoints newer than the one resumed from are set aside (kept, never overwritten) and log
        lines past it are dropped, so the log and the checkpoints agree; all of it noted."""
        self.skipped = list(damaged)
        if not self.primary:
            return
        reasons = {d.name: d.reason for d in damaged}
        for newer in [s for s in self.checkpoints.steps() if s > episode]:
            name = checkpoint_name(newer)
            why = "damaged" if name in reasons else "superseded"
            moved = self.checkpoints.set_aside(newer, why)
            if why == "damaged":
                self.notes.append(f"[RESUME] {name} cannot be restored ({reasons[name]}); kept as "
                                  f"checkpoints/{moved.name}")
            else:
                self.notes.append(f"[RESUME] {name} is newer than {checkpoint_name(episode)}, which training "
                                  f"continues from; kept as checkpoints/{moved.name}")
        self.metrics.drop_after(episode)
        dropped = self.log.drop_after(episode)
        if dropped:
            names = ", ".join(checkpoint_name(e) for e in dropped)
            self.notes.append(f"[RESUME] removed the log lines of {names}: their checkpoints are not the "
                              f"ones training continues from ({checkpoint_name(episode)})")

    def note_changes(self, saved: dict, now: dict) -> None:
        """A note for each [training] value that differs from the one the checkpoint was trained with."""
        for key, value in now.items():
            if key in saved and saved[key] != value and key in TRAINING_KEYS:
                self.notes.append(f"[RESUME] {key} changed: {saved[key]!r} -> {value!r}")

    def none_restores(self, damaged: list[DamagedCheckpoint]) -> JaxdqnError:
        listed = "\n".join(f"  {d.name}: {d.reason}" for d in damaged)
        return JaxdqnError(
            f"no checkpoint in {self.checkpoints.directory} can be restored:\n{listed}\n"
            f"To start this run from the beginning (this removes its checkpoints and training.log): "
            f"jaxdqn clean {self.path}")

    def diverged(self, episode: int) -> TrainingDiverged:
        """The error for a NaN or infinite loss or parameter; the last checkpoint is left as it is."""
        last = self.checkpoints.latest()
        kept = (f"The last good checkpoint, {checkpoint_name(last)}, is untouched." if last is not None
                else "No checkpoint was saved.")
        return TrainingDiverged(
            f"training diverged in episode {episode}: the loss became NaN or infinite. {kept}\n"
            "Likely causes: a learning_rate that is too high (try 10x smaller), or rewards that are very large "
            "per step (scale the game's reward down to roughly -10..+50 per step).")

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        self.lock.release()


class _Discard:
    """training.log and metrics.csv for a process that is not the primary one: nothing is written."""

    is_new = False

    def write(self, *lines: str) -> None:
        pass

    def marker(self, resumed_from) -> None:
        pass

    def add(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass

    def checkpoint_episodes(self) -> set[int]:
        return set()

    def drop_after(self, episode: int) -> list[int]:
        return []
