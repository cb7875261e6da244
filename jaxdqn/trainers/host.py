"""The trainer: plays episodes, learns from replay, logs, checkpoints and resumes.

The reference trainer's semantics, step for step: epsilon-greedy over the actions plus the
no-op, an update every ``train_every`` game steps once the buffer holds a batch, the target
network copied every ``target_update_freq`` game steps, epsilon and learning rate decayed
once per episode. :class:`DQNTrainer` ties the pieces together: the run directory
(:mod:`~jaxdqn.trainers.run_directory`), the acting loop (:class:`HostActors`, below), the
update pipeline (:mod:`~jaxdqn.trainers.host_updates`), checkpoints (:mod:`~jaxdqn.trainers.host_checkpoints`),
the schedules and the interval statistics.

Each step of the acting loop draws one explore-or-greedy choice per game from the host's random
generator (so a seed repeats a run exactly), makes one batched greedy call for the games that need
it, steps every game, and hands each transition to the pipeline in the reference's order: an update
point at every ``train_every``-th transition. A stop request ends every game's episode after the
current step, so no played step is lost.
"""
from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from jaxdqn.config import CONFIG_NAME
from jaxdqn.config.assembly import RunParts, assemble
from jaxdqn.config.schema import MODEL_DEFAULTS, TRAINING_KEYS, validate_model, validate_training
from jaxdqn.core.settings import Settings
from jaxdqn.core.types import Observation
from jaxdqn.device import select_device
from jaxdqn.errors import raise_if
from jaxdqn.games.encoding import start_game
from jaxdqn.games.env import VectorEnv
from jaxdqn.games.metadata import GameMetadata
from jaxdqn.trainers.host_checkpoints import HostCheckpoints
from jaxdqn.trainers.host_updates import UpdatePipeline
from jaxdqn.trainers.memory import check_run_fits, retro_game_bytes
from jaxdqn.trainers.progress import ProgressBar
from jaxdqn.trainers.randomness import HostRandomness, seed_line
from jaxdqn.trainers.run_directory import RunDirectory
from jaxdqn.trainers.schedules import Schedules
from jaxdqn.trainers.stats import EpisodeResult, Interval, StepRate, TrainingClock

MEASURED_GAMES_FROM = 256  # num_envs above which the memory check measures a retro game first


class DQNTrainer(HostCheckpoints):
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
        self.randomness = HostRandomness(hyperparams.get("seed"))
        self.seed = self.randomness.seed
        self.parts: RunParts = assemble(game_factory, metadata, preprocessing, hyperparams,
                                        rng=self.randomness.discovery())
        self.hp = self.parts.hp
        self.metadata = self.parts.metadata
        self.preprocessing = self.parts.game.preprocessing
        self.spec = self.parts.spec
        encoder = self.parts.game.encoder
        occupied = int((encoder.encode(start_game(game_factory)).board > 0).sum()) if encoder.uses_board else 0
        encoder.unknown_seen.clear()  # count what training meets, not this measurement
        encoder.unknown_on_last_frame.clear()
        self.device_choice = select_device(self.hp["device"])
        self.device = self.device_choice.device
        # before allocating; many games are many Python objects, measured on a few first
        many = self.hp["num_envs"] > MEASURED_GAMES_FROM
        check_run_fits(self.parts, self.parts.rows_width(occupied), self.device,
                       retro_game_bytes=retro_game_bytes(self.parts.game.env) if many else None)
        self.games = VectorEnv([self.parts.game.env() for _ in range(self.hp["num_envs"])])
        self.env = self.games.envs[0]
        self._factory = game_factory  # config.toml is written when a session starts, after resume's checks
        self.pipeline = UpdatePipeline(self.parts, self.device, self.seed, occupied)
        settings = self.parts.settings
        self.schedules = Schedules(settings)
        self.actors = HostActors(self.games, self.pipeline, self.schedules, self.randomness.explore, settings)
        self.total_training_seconds = 0.0
        self.next_episode = 1
        self.last_episode: EpisodeResult | None = None
        self.stopped_at: int | None = None
        self._resumed_from: str | None = None
        self.compile_seconds: float | None = None  # the first update's compile time, as last measured
        self._warned_characters: set[str] = set()
        self._noted_last_frame: set[str] = set()

    # ------------------------------------------------------------------ schedules and counters
    @property
    def epsilon(self) -> float:
        return self.schedules.epsilon

    @property
    def learning_rate(self) -> float:
        return self.schedules.learning_rate

    @property
    def total_steps(self) -> int:
        return self.actors.total_steps

    @property
    def start_episode(self) -> int:
        return self.next_episode

    # ------------------------------------------------------------------ training
    def _train(self, clock: TrainingClock, last: int, on_checkpoint, on_episode, stop) -> None:
        bar = None
        if on_checkpoint is None and on_episode is None:
            bar = ProgressBar(last, self.start_episode - 1, clock, self.compile_seconds)
            self.pipeline.compiling = bar.compiling
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
            self.next_episode = episode + 1
            self.last_episode = result
            if self.schedules.episode_finished(result.trained):
                self.pipeline.set_learning_rate(self.schedules.learning_rate)
            self.run.metrics.add(episode, result.reward, result.steps, self.epsilon, result.avg_loss,
                                 steps_per_second, self.total_training_seconds + now - interval.start,
                                 ended=result.ended)
            if on_episode:
                on_episode()
            if bar is not None:
                bar.episode(result, self.epsilon, steps_per_second)
                self.compile_seconds = bar.compile_seconds
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
                self.pipeline.compiling = contextlib.nullcontext

    def _warn_unknown_characters(self) -> None:
        """A board character outside character_set is ignored: say so once per character, in the log; one
        met only on a game's last frame (no action is chosen from it, and its value is not bootstrapped) is
        harmless, and said to be."""
        encoder = self.parts.game.encoder
        for ch in sorted(set(encoder.unknown_seen) - self._warned_characters):
            self.log.write(f"[WARN] character {ch!r} is not in character_set, so the network does not see it "
                           f"while it plays: add it to character_set in {CONFIG_NAME} and start fresh (jaxdqn clean "
                           f"{self.run_dir})")
            self._warned_characters.add(ch)
        for ch in sorted(set(encoder.unknown_on_last_frame) - set(encoder.unknown_seen) - self._noted_last_frame):
            self.log.write(f"[NOTE] character {ch!r} is not in character_set but has only appeared on a game's last "
                           "frame, which no action is chosen from: ignoring it is harmless")
            self._noted_last_frame.add(ch)

    def _session_lines(self) -> tuple[list[str], str | None]:
        lines = [f"[INIT] {key} not given: measured {value} and recorded in {CONFIG_NAME}"
                 for key, value in self.parts.game.discovered.items()]
        return lines, seed_line(self.seed, self.randomness.drawn)

    def _game_factory(self) -> Callable:
        return self._factory


class HostActors:
    """The acting loop: retro games stepped in lockstep, epsilon-greedy, every transition into the update
    pipeline, an update every ``train_every`` game steps once replay holds a batch."""

    def __init__(self, games: VectorEnv, pipeline: UpdatePipeline, schedules: Schedules,
                 explore: random.Random, settings: Settings):
        self.games, self.pipeline, self.schedules, self.explore = games, pipeline, schedules, explore
        self.settings = settings
        self.total_steps = 0

    def select_actions(self, stored) -> list[int]:
        """Epsilon-greedy per game (host random numbers), one device call for all greedy choices."""
        actions: list[int | None] = []
        num_actions = self.games.envs[0].num_actions
        for _ in range(stored.extras.shape[0]):
            explore = self.explore.random() < self.schedules.epsilon
            actions.append(self.explore.randrange(num_actions) if explore else None)
        if any(a is None for a in actions):
            greedy = self.pipeline.greedy(stored)
            actions = [int(greedy[i]) if a is None else a for i, a in enumerate(actions)]
        return actions

    def run(self, should_stop: Callable[[], bool], end_episode: Callable[[EpisodeResult, bool], bool]) -> None:
        """Play until ``end_episode(result, stopping)`` returns True."""
        s, games, pipeline = self.settings, self.games, self.pipeline
        n = len(games)
        encoder = games.envs[0].encoder
        obs = Observation(np.zeros((n,) + encoder.board_shape, np.uint8), np.zeros((n, encoder.num_extras), np.float32))
        stored = None
        fresh = [True] * n
        rewards, turns = [0.0] * n, [0] * n
        pipeline.episode_loss()  # start counting this run's losses from zero
        while True:
            if any(fresh):
                for i in range(n):
                    if fresh[i]:
                        obs.board[i], obs.extras[i] = games.reset(i)
                        fresh[i], rewards[i], turns[i] = False, 0.0, 0
                stored = pipeline.store(obs)
            actions = self.select_actions(stored)
            next_obs, step_rewards, dones = games.step(actions)
            next_stored = pipeline.store(next_obs)
            stopping_now = should_stop()  # this step's transitions end their episodes then
            finished = []
            for i in range(n):
                reward = float(step_rewards[i])
                ended = bool(dones[i]) or turns[i] + 1 >= s.max_turns_per_episode or stopping_now
                pipeline.add(stored, next_stored, i, actions[i], reward, bool(dones[i]), ended=ended)
                if self.total_steps % s.train_every == 0:
                    if pipeline.will_train():
                        pipeline.train(sync_target=self.schedules.update_at(self.total_steps))
                    else:
                        pipeline.flush_chunk()
                self.total_steps += 1
                rewards[i] += reward
                turns[i] += 1
                if dones[i] or turns[i] >= s.max_turns_per_episode:
                    finished.append(i)
            obs, stored = next_obs, next_stored
            if stopping_now:
                finished = [i for i in range(n) if turns[i] > 0]
            for k, i in enumerate(finished):
                avg_loss, updates = pipeline.episode_loss()
                stopping = stopping_now and k == len(finished) - 1
                ended = ("turn_limit" if turns[i] >= s.max_turns_per_episode else "game" if dones[i]
                         else "stopped")
                if end_episode(EpisodeResult(rewards[i], turns[i], avg_loss, updates > 0, ended), stopping):
                    return
                fresh[i] = True
