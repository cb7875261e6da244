"""The trainer: plays episodes, learns from replay, logs, checkpoints and resumes.

The reference trainer's semantics, step for step: epsilon-greedy over the actions plus the
no-op, an update every ``train_every`` game steps once the buffer holds a batch, the target
network copied every ``target_update_freq`` game steps, epsilon and learning rate decayed
once per episode. :class:`DQNTrainer` ties the pieces together: the run directory
(:mod:`~jaxdqn.trainer.lifecycle`), the acting loop (:mod:`~jaxdqn.trainer.acting`), the
update pipeline (:mod:`~jaxdqn.trainer.updates`), the schedules and the interval statistics.
"""
from __future__ import annotations

import contextlib
import functools
import math
import random
import secrets
import time
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from jaxdqn import __version__
from jaxdqn.assembly import RunParts, assemble
from jaxdqn.config import CONFIG_NAME, MODEL_DEFAULTS, TRAINING_KEYS, RunConfig, validate_model, validate_training
from jaxdqn.device import select_device
from jaxdqn.config_file import record_discovered, write_config
from jaxdqn.errors import JaxdqnError, raise_if
from jaxdqn.fingerprint import IncompatibleCheckpoint, check_compatible, fingerprint
from jaxdqn.games.encoding import start_game
from jaxdqn.games.env import VectorEnv
from jaxdqn.games.metadata import GameMetadata
from jaxdqn.memory import check_fits, observation_bytes
from jaxdqn.rows import rows_dtype, stored_rows_width
from jaxdqn.run.checkpoints import DamagedCheckpoint, checkpoint_name
from jaxdqn.trainer.acting import HostActors
from jaxdqn.trainer.lifecycle import RunDirectory
from jaxdqn.trainer.schedules import Schedules
from jaxdqn.trainer.stats import EpisodeResult, Interval, StepRate, TrainingClock
from jaxdqn.trainer.updates import UpdatePipeline
from jaxdqn.types import RowsObservation

REPLAY_LAYOUT = 2  # bump when the saved replay's arrays change shape or meaning


class TrainingDiverged(JaxdqnError):
    pass


class DQNTrainer:
    """Trains a DQN agent on a retro game; the reference's API, with a JAX core underneath.

    >>> from retro.examples.snake import create_game
    >>> meta = GameMetadata(["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], "reward")
    >>> trainer = DQNTrainer(create_game, meta, "runs/my_snake", {"observe_state": ["apple_dx", "apple_dy"]},
    ...                      training_episodes=500)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP

    The trainer holds its run directory's lock from construction until :meth:`close` (or the
    end of a ``with`` block, or the process); a second trainer on the same directory refuses.
    """

    def __init__(self, game_factory: Callable, metadata: GameMetadata, run_dir: str | Path,
                 preprocessing: dict | None = None, **hyperparams):
        model = {k: hyperparams.pop(k) for k in list(hyperparams) if k in MODEL_DEFAULTS}
        raise_if(validate_model(model) + validate_training(hyperparams), "the hyperparameters")
        self.run = RunDirectory(run_dir, hyperparams.get("keep_checkpoints", TRAINING_KEYS["keep_checkpoints"][0]))
        try:
            self._build(game_factory, metadata, preprocessing, {**model, **hyperparams})
        except BaseException:
            self.run.close()
            raise

    def _build(self, game_factory, metadata, preprocessing, hyperparams) -> None:
        self.seed_was_drawn = hyperparams.get("seed") is None
        self.seed = secrets.randbelow(2**31) if self.seed_was_drawn else int(hyperparams["seed"])
        random.seed(self.seed)  # retro games draw from the global random module
        np.random.seed(self.seed % 2**32)
        self._explore = random.Random(self.seed + 1)

        self.parts: RunParts = assemble(game_factory, metadata, preprocessing, hyperparams,
                                        rng=random.Random(self.seed + 2))
        self.hp = self.parts.hp
        self.metadata = self.parts.metadata
        self.preprocessing = self.parts.game.preprocessing
        self.spec = self.parts.spec
        encoder = self.parts.game.encoder
        occupied = int((encoder.encode(start_game(game_factory)).board > 0).sum()) if encoder.uses_board else 0
        encoder.unknown_seen.clear()  # count what training meets, not this measurement
        self.games = VectorEnv([self.parts.game.env() for _ in range(self.hp["num_envs"])])
        self.env = self.games.envs[0]
        self._write_config(game_factory)

        self.device_choice = select_device(self.hp["device"])
        self.device = self.device_choice.device
        self._check_memory(occupied)
        self.pipeline = UpdatePipeline(self.parts, self.device, self.seed, occupied)
        self.schedules = Schedules(self.hp)
        self.actors = HostActors(self.games, self.pipeline, self.schedules, self._explore, self.hp)
        self.total_training_seconds = 0.0
        self.start_episode = 1
        self.last_episode: EpisodeResult | None = None
        self.stopped_at: int | None = None
        self._resumed_from: str | None = None
        self.compile_seconds: float | None = None  # the first update's compile time, as last measured
        self._compiled_this_session = False
        self._warned_characters: set[str] = set()

    def _check_memory(self, occupied: int) -> None:
        """Refuse a run that cannot fit, before allocating it (see :mod:`jaxdqn.memory`)."""
        network = self.parts.network()
        shapes = jax.eval_shape(network.init, jax.random.PRNGKey(0))
        num_params = sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))
        width = stored_rows_width(self.spec, occupied)
        encoder = self.parts.game.encoder
        stored = RowsObservation(np.zeros(width, rows_dtype(self.spec)), encoder.empty().extras) if width \
            else encoder.empty()
        check_fits(num_params, self.spec, self.hp, observation_bytes(stored), self.device)

    # ------------------------------------------------------------------ the run directory
    @property
    def run_dir(self) -> Path:
        return self.run.path

    @property
    def checkpoints(self):
        return self.run.checkpoints

    @property
    def log(self):
        return self.run.log

    @property
    def epsilon(self) -> float:
        return self.schedules.epsilon

    @property
    def learning_rate(self) -> float:
        return self.schedules.learning_rate

    @property
    def total_steps(self) -> int:
        return self.actors.total_steps

    def close(self) -> None:
        """Release the run directory's lock (the trainer can no longer save)."""
        self.run.close()

    def __enter__(self) -> DQNTrainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_config(self, factory: Callable) -> None:
        """Record measured values in config.toml, or write a whole one when the API made this run."""
        path = self.run_dir / CONFIG_NAME
        if path.exists():
            record_discovered(path, self.parts.game.config_updates())
            return
        module = getattr(factory, "__module__", None) or "unknown"
        game = {"module": module}
        if getattr(factory, "__name__", "create_game") != "create_game":
            game["factory"] = f"{module}:{factory.__qualname__}"
        training = {k: v for k, v in self.hp.items() if k in TRAINING_KEYS and v is not None}
        write_config(self.run_dir, game=game, metadata=self.metadata.to_dict(),
                     preprocessing={k: v for k, v in self.preprocessing.items() if v is not None},
                     hidden_sizes=list(self.hp["hidden_sizes"]), training=training,
                     header=["Written by jaxdqn's DQNTrainer; edit freely (comments are kept)."])

    # ------------------------------------------------------------------ training
    def train(self, on_checkpoint: Callable[[dict], None] | None = None,
              on_episode: Callable[[], None] | None = None, stop=None) -> None:
        """Train until ``training_episodes``; a checkpoint every ``checkpoint_every`` episodes.

        ``on_checkpoint(stats)`` gets the interval's averages; ``on_episode()`` runs after each
        episode. Supplying either turns the progress bar off (the caller shows progress).
        ``stop`` is a :class:`jaxdqn.run.stop.StopRequests` (the command line passes one wired
        to Ctrl+C and SIGTERM): once it is requested, the current episode ends after the
        current game step, a checkpoint is saved, and ``train`` returns.
        """
        last = self.hp["training_episodes"]
        if self.start_episode > last:
            print(f"Training already complete ({last} episodes). To train further, raise training_episodes "
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
            print(f"Stopped after episode {self.stopped_at}. Saved {where}; run the same command to continue.")

    def _train(self, clock: TrainingClock, last: int, on_checkpoint, on_episode, stop) -> None:
        bar = None
        if on_checkpoint is None and on_episode is None:
            from tqdm import tqdm
            print("Training; press Ctrl+C to stop (a checkpoint is saved and nothing is lost).")
            bar = tqdm(total=last, initial=self.start_episode - 1, unit="ep", dynamic_ncols=True)
            bar._time = clock  # the bar's rate and ETA leave compilation out, as the log does
            bar.start_t = bar.last_print_t = clock()
            self.pipeline.compiling = functools.partial(self._compiling_notice, bar)
        interval = Interval(clock())
        rate = StepRate(clock())
        saving = stop.saving if stop is not None else contextlib.nullcontext

        def end_episode(result: EpisodeResult, stopping: bool) -> bool:
            """Schedules, callbacks, logging and checkpoints after one finished episode; True = stop."""
            episode = self.start_episode
            if not np.isfinite(result.avg_loss):
                self._diverged(episode)
            interval.add(result)
            self._warn_unknown_characters()
            now = clock()
            steps_per_second = rate.episode(result.steps, now)
            self.start_episode = episode + 1
            self.last_episode = result
            if self.schedules.episode_finished(result.trained):
                self.pipeline.set_learning_rate(self.schedules.learning_rate)
            self.run.metrics.add(episode, result.reward, result.steps, self.epsilon, result.avg_loss,
                                 steps_per_second, self.total_training_seconds + now - interval.start)
            if on_episode:
                on_episode()
            if bar is not None:
                bar.set_postfix(reward=f"{result.reward:.1f}", eps=f"{self.epsilon:.3f}",
                                loss=f"{result.avg_loss:.3f}", steps_s=f"{steps_per_second:,.0f}", refresh=False)
                bar.update(1)
            if episode % self.hp["checkpoint_every"] == 0 or episode == last or stopping:
                now = clock()
                self.total_training_seconds += now - interval.start
                stats = interval.stats(episode, self.epsilon, now, self.total_training_seconds)
                with saving():
                    self._save(episode, stats.line())
                interval.__init__(clock())
                if on_checkpoint:
                    on_checkpoint(stats.as_dict())
            if stopping:
                self.stopped_at = episode
            return stopping or episode == last

        try:
            with jax.default_device(self.device):
                self.actors.run(lambda: stop is not None and stop.requested, end_episode)
        finally:
            if bar is not None:
                bar.close()

    def _warn_unknown_characters(self) -> None:
        """A board character outside character_set is ignored: say so once per character, in the log."""
        unknown = self.parts.game.encoder.unknown_seen
        for ch in sorted(set(unknown) - self._warned_characters):
            self.log.write(f"[WARN] character {ch!r} is not in character_set; it is ignored: add it to "
                           f"character_set in {CONFIG_NAME} and start fresh (jaxdqn clean {self.run_dir})")
            self._warned_characters.add(ch)

    @contextlib.contextmanager
    def _compiling_notice(self, bar):
        """Say so on the bar while an update compiles (the first ones of a session take seconds)."""
        known = self.compile_seconds
        bar.set_description_str("compiling the training step (" + (
            f"about {known:.0f} s)" if known is not None else "first call, usually under a minute)"))
        bar.refresh()
        start = time.perf_counter()
        yield
        if not self._compiled_this_session:  # the session's first compile is the one to expect next time
            self.compile_seconds = time.perf_counter() - start
            self._compiled_this_session = True
        bar.set_description_str("")

    def _start_session(self) -> None:
        """training.log: the header for a new log, the seed for a fresh start, the marker, then the notes."""
        if self.log.is_new:
            from jaxdqn.networks import describe
            header = [describe(self.spec, self.metadata.actions), f"[INIT] Device: {self.device_choice.description}"]
            if self.device_choice.note:
                header.append(f"[INIT] {self.device_choice.note}")
            for key, value in self.parts.game.discovered.items():
                header.append(f"[INIT] {key} not given: measured {value} and recorded in {CONFIG_NAME}")
            self.log.write(*header)
        if self._resumed_from is None:
            self.log.write(f"[INIT] seed = {self.seed} (drawn; add seed = {self.seed} to [training] to repeat this "
                           "run)" if self.seed_was_drawn else f"[INIT] seed = {self.seed}")
        self.log.marker(self._resumed_from)
        if self.run.notes:
            self.log.write(*self.run.notes)
            self.run.notes = []

    # ------------------------------------------------------------------ checkpoints
    def resume(self, checkpoint: str | None = None) -> str | None:
        """Continue from ``checkpoint`` (a name like ``ep_0100``), or else from the newest checkpoint
        that restores; returns its name, or None when the run has none (training starts fresh).

        Damaged checkpoints are skipped and kept under another name, checkpoints newer than the one
        resumed from are set aside, and training.log lines past it are dropped; all noted in the log.
        """
        damaged: list[DamagedCheckpoint] = []
        for episode in self.run.resume_candidates(checkpoint):
            try:
                self.load_checkpoint(checkpoint_name(episode))
            except DamagedCheckpoint as exc:
                if checkpoint is not None:
                    others = [n for n in self.checkpoints.names() if n != exc.name]
                    raise JaxdqnError(f"{exc}. " + (f"Resume from another one: jaxdqn train {self.run_dir} "
                                                    f"--checkpoint {others[-1]}" if others else
                                                    f"Start fresh with: jaxdqn clean {self.run_dir}")) from None
                damaged.append(exc)
                continue
            self.run.after_resuming(episode, damaged)
            return self._resumed_from
        if damaged:
            raise self.run.none_restores(damaged)
        return None

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
        # Replay saved in an older layout (before row lists and 16-way trees) is not read back.
        readable = meta.get("replay_layout") == REPLAY_LAYOUT and bool(saved_width) == bool(pipeline.rows_width)
        with jax.default_device(self.device):
            replay_template = None
            if self.hp["save_replay_buffer"] and readable:
                replay_template = (pipeline.replay if saved_width == pipeline.rows_width
                                   else pipeline.empty_replay(saved_width))
            state, meta, replay = self.checkpoints.restore(episode, pipeline.state(), replay_template)
        pipeline.load(state, replay, int(meta.get("buffer_items", 0)), saved_width)
        self.actors.total_steps = int(meta["total_steps"])
        self.total_training_seconds = float(meta["total_training_seconds"])
        self.compile_seconds = meta.get("compile_seconds")
        unknown = meta.get("unknown_characters") or {}
        self.parts.game.encoder.unknown_seen.update(unknown)  # counted on, and warned about once per run
        self._warned_characters = set(unknown)
        self.start_episode = int(meta["episode"]) + 1
        saved_hp = meta.get("hyperparams", {})
        self.schedules.load(meta, saved_hp)
        random.setstate(_to_tuple(meta["python_random"]))
        self._explore.setstate(_to_tuple(meta["explore_random"]))
        np.random.set_state(tuple(meta["numpy_random"][:1]) + (np.asarray(meta["numpy_random"][1], np.uint32),)
                            + tuple(meta["numpy_random"][2:]))
        if replay is None and self.hp["save_replay_buffer"]:
            why = "has no replay buffer" if readable or not self.checkpoints.has_replay(episode) else \
                "holds its replay buffer in an older layout"
            self.run.notes.append(f"[RESUME] this checkpoint {why}; starting with an empty one")
        for key, value in self.hp.items():
            if key in saved_hp and saved_hp[key] != value and key in TRAINING_KEYS:
                self.run.notes.append(f"[RESUME] {key} changed: {saved_hp[key]!r} -> {value!r}")
        pipeline.set_learning_rate(self.schedules.learning_rate)
        self._resumed_from = name

    def _save(self, episode: int, log_line: str) -> None:
        """Checkpoint ``episode``; its training.log line is written just before it becomes visible."""
        if not self.pipeline.params_finite():
            self._diverged(episode)
        replay = self.pipeline.replay_for_saving() if self.hp["save_replay_buffer"] else None
        snap = self.parts.snapshot()
        meta = {
            "episode": episode, "total_steps": self.total_steps, **self.schedules.state(),
            "total_training_seconds": self.total_training_seconds, "buffer_items": self.pipeline.buffer_items,
            "rows_width": self.pipeline.rows_width, "replay_layout": REPLAY_LAYOUT,
            "python_random": random.getstate(), "explore_random": self._explore.getstate(),
            "numpy_random": _numpy_state(), "config": snap, "fingerprint": fingerprint(snap),
            "hyperparams": {k: v for k, v in self.hp.items() if k in TRAINING_KEYS},
            "seed": self.seed, "jaxdqn_version": __version__, "device": self.device_choice.kind,
            "compile_seconds": self.compile_seconds,
            "unknown_characters": dict(self.parts.game.encoder.unknown_seen),
        }
        def before_commit():
            self.run.metrics.flush()
            self.log.write(log_line)

        self.checkpoints.save(episode, self.pipeline.state(), meta, replay, before_commit=before_commit)

    def _diverged(self, episode: int):
        last = self.checkpoints.latest()
        kept = f"The last good checkpoint, {checkpoint_name(last)}, is untouched." if last else "No checkpoint was saved."
        raise TrainingDiverged(
            f"training diverged in episode {episode}: the loss became NaN or infinite. {kept}\n"
            "Likely causes: a learning_rate that is too high (try 10x smaller), or rewards that are very large "
            "per step (scale the game's reward down to roughly -10..+50 per step).")


def _to_tuple(value):
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _numpy_state() -> list:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]


def trainer_from_config(config: RunConfig) -> DQNTrainer:
    """A trainer for a validated :class:`~jaxdqn.config.RunConfig`."""
    from jaxdqn.assembly import config_factory
    return DQNTrainer(config_factory(config), config.metadata, config.run_dir, dict(config.preprocessing),
                      **config.hyperparams)


__all__ = ["DQNTrainer", "IncompatibleCheckpoint", "TrainingDiverged", "trainer_from_config"]
