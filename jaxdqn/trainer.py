"""The trainer: plays episodes, learns from replay, logs, checkpoints and resumes.

The reference trainer's semantics, step for step: epsilon-greedy over the actions plus the
no-op, an update every ``train_every`` game steps once the buffer holds a batch, the target
network copied every ``target_update_freq`` game steps, epsilon and learning rate decayed
once per episode. What changes is how: transitions go to the device in chunks, a single
jitted call adds them, samples, updates and writes priorities, and the host only waits on
the device when it needs a greedy action or an episode's loss.
"""
from __future__ import annotations

import functools
import random
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import tomlkit

from jaxdqn import __version__, learner
from jaxdqn.checkpoints import Checkpoints, checkpoint_name
from jaxdqn.config import (CONFIG_NAME, MODEL_DEFAULTS, TRAINING_DEFAULTS, TRAINING_KEYS, _validate_model,
                           _validate_training, fingerprint, record_discovered, snapshot, snapshot_differences)
from jaxdqn.device import select_device
from jaxdqn.errors import ConfigError, JaxdqnError, raise_if
from jaxdqn.games.encoding import start_game
from jaxdqn.games.env import GameEnv, VectorEnv
from jaxdqn.games.metadata import GameMetadata
from jaxdqn.games.preprocessing import DEFAULTS as PREPROCESSING_DEFAULTS
from jaxdqn.games.preprocessing import build_encoder
from jaxdqn.networks import (NetworkSpec, Observation, RowsObservation, board_rows, describe, make_network,
                             rows_dtype, rows_width, stored_rows_width)
from jaxdqn.replay import (PrioritizedState, Transition, example_transition, make_prioritized_buffer,
                           make_uniform_buffer)
from jaxdqn.training_log import IntervalStats, TrainingLog


REPLAY_LAYOUT = 2  # bump when the saved replay's arrays change shape or meaning


class TrainingDiverged(JaxdqnError):
    pass


class IncompatibleCheckpoint(JaxdqnError):
    pass


class _Chunk:
    """Transitions collected on the host between two training steps, in the form replay stores."""

    def __init__(self, capacity: int, empty):
        def alloc(x):
            x = np.asarray(x)
            return np.zeros((capacity,) + x.shape, x.dtype)
        self.data = Transition(jax.tree.map(alloc, empty), alloc(np.int32(0)), alloc(np.float32(0)),
                               jax.tree.map(alloc, empty), alloc(False))
        self.size = 0

    def append(self, obs, next_obs, k: int, action: int, reward: float, done: bool):
        """Add game ``k``'s transition from the batches ``obs`` and ``next_obs``."""
        i, d = self.size, self.data
        for store, value in zip(d.obs, obs):
            store[i] = value[k]
        for store, value in zip(d.next_obs, next_obs):
            store[i] = value[k]
        d.action[i], d.reward[i], d.done[i] = action, reward, done
        self.size += 1

    def take(self, start: int = 0, stop: int | None = None) -> Transition:
        """A copy of items ``start:stop`` (the device may read it after this buffer is reused)."""
        stop = self.size if stop is None else stop
        return jax.tree.map(lambda x: x[start:stop].copy(), self.data)


def _widen_rows(transitions: Transition, width: int, fill: int, xp=np) -> Transition:
    """Pad the row lists of ``transitions`` (leading axes any) to ``width`` entries."""
    def pad(obs):
        rows = obs.rows
        return obs._replace(rows=xp.pad(rows, [(0, 0)] * (rows.ndim - 1) + [(0, width - rows.shape[-1])],
                                        constant_values=fill))
    return transitions._replace(obs=pad(transitions.obs), next_obs=pad(transitions.next_obs))


class _StopRequests:
    """Turns the first Ctrl+C / SIGTERM into a polite request; a second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping after this step and saving a checkpoint (press Ctrl+C again to quit without saving)...",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class EpisodeResult(NamedTuple):
    reward: float
    steps: int
    avg_loss: float
    trained: bool


def _trainer_step(learner_state, buffer_state, key, chunk, pending, loss_sum, *, core_step):
    """The core train step, plus the key split and the running loss sum kept on the device."""
    key, sample_key = jax.random.split(key)
    learner_state, buffer_state, metrics, pending = core_step(learner_state, buffer_state, sample_key, chunk, pending)
    return learner_state, buffer_state, key, pending, loss_sum + metrics.loss


class _Interval:
    """Per-episode results between two checkpoints."""

    def __init__(self, start: float):
        self.start = start
        self.rewards: list[float] = []
        self.steps: list[int] = []
        self.losses: list[float] = []

    def add(self, result: EpisodeResult) -> None:
        self.rewards.append(result.reward)
        self.steps.append(result.steps)
        if result.avg_loss > 0:  # as the reference: episodes without updates do not count
            self.losses.append(result.avg_loss)

    def stats(self, episode: int, epsilon: float, now: float, total_seconds: float) -> IntervalStats:
        n = len(self.rewards)
        return IntervalStats(
            episode=episode, first_episode=episode - n + 1, avg_reward=sum(self.rewards) / n,
            avg_steps=sum(self.steps) / n, epsilon=epsilon,
            avg_loss=sum(self.losses) / len(self.losses) if self.losses else 0.0,
            seconds=now - self.start, total_seconds=total_seconds)


class DQNTrainer:
    """Trains a DQN agent on a retro game; the reference's API, with a JAX core underneath.

    >>> from retro.examples.snake import create_game
    >>> meta = GameMetadata(["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], "reward")
    >>> trainer = DQNTrainer(create_game, meta, "runs/my_snake", {"observe_state": ["apple_dx", "apple_dy"]},
    ...                      training_episodes=500)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(self, game_factory: Callable, metadata: GameMetadata, run_dir: str | Path,
                 preprocessing: dict | None = None, **hyperparams):
        model = {k: hyperparams.pop(k) for k in list(hyperparams) if k in MODEL_DEFAULTS}
        raise_if(_validate_model(model) + _validate_training(hyperparams), "the hyperparameters")
        self.hp = {**MODEL_DEFAULTS, **TRAINING_DEFAULTS, **model, **hyperparams}
        self.game_factory = game_factory
        self.metadata = metadata
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = TrainingLog(self.run_dir)

        self.seed_was_drawn = self.hp["seed"] is None
        self.seed = secrets.randbelow(2**31) if self.seed_was_drawn else int(self.hp["seed"])
        random.seed(self.seed)  # retro games draw from the global random module
        np.random.seed(self.seed % 2**32)
        self._explore = random.Random(self.seed + 1)

        pre = {**PREPROCESSING_DEFAULTS, "spatial": metadata.spatial, **(preprocessing or {})}
        metadata.spatial = pre["spatial"]
        encoder, discovered = build_encoder(
            game_factory, metadata, pre, exploration_turns=self.hp["exploration_turns"],
            unknown_character_strategy=self.hp["unknown_character_strategy"], rng=random.Random(self.seed + 2))
        if "character_set" in discovered:
            metadata.character_set = discovered["character_set"]
        if "board_size" in discovered:
            metadata.board_size = tuple(discovered["board_size"])
        if "observe_state_sizes" in discovered:
            pre["observe_state_sizes"] = discovered["observe_state_sizes"]
        self.preprocessing = pre
        self.games = VectorEnv([GameEnv(game_factory, metadata.actions, metadata.reward, encoder)
                                for _ in range(self.hp["num_envs"])])
        self.env = self.games.envs[0]
        self.last_episode: EpisodeResult | None = None
        self._write_config(discovered)

        self.device_choice = select_device(self.hp["device"])
        self.device = self.device_choice.device
        board_h, board_w = encoder.board_shape
        occupied = int((encoder.encode(start_game(game_factory)).board > 0).sum()) if encoder.uses_board else 0
        self.spec = NetworkSpec(board_h, board_w, encoder.num_channels, encoder.num_extras,
                                tuple(self.hp["hidden_sizes"]), metadata.num_actions, bool(pre["spatial"]))
        # An MLP over a board reads it as row lists (see RowsObservation), widened when a board outgrows them.
        self._rows_width = stored_rows_width(self.spec, occupied)
        self.network = make_network(self.spec)
        capacity = self.hp["memory_capacity"]
        self.buffer = (make_prioritized_buffer(capacity) if self.hp["prioritize_experiences"]
                       else make_uniform_buffer(capacity))
        self._optimizer = learner.make_optimizer(self.hp["learning_rate"])
        core = learner.make_train_step(self.network, self._optimizer, self.buffer, batch_size=self.hp["batch_size"],
                                       gamma=self.hp["gamma"], target_update_period=None,
                                       double_dqn=self.hp["double_dqn"], jit=False)
        self._step = jax.jit(functools.partial(_trainer_step, core_step=core), donate_argnums=(0, 1))
        self._add = jax.jit(self.buffer.add, donate_argnums=0)
        self._flush = jax.jit(functools.partial(learner.flush, self.buffer), donate_argnums=0)
        apply = self.network.apply
        self._greedy = jax.jit(lambda params, obs: jnp.argmax(apply(params, obs), -1))

        with jax.default_device(self.device):
            self.learner = learner.init_learner(jax.random.PRNGKey(self.seed), self.network, self._optimizer)
            self.key = jax.random.PRNGKey(self.seed + 3)
            self.replay = self._empty_replay(self._rows_width)
        self._pending = None
        self._chunk = _Chunk(self.hp["train_every"], self._empty_stored(self._rows_width))
        self._buffer_items = 0
        self._last_update_step: int | None = None

        self.epsilon = float(self.hp["epsilon"])
        self.learning_rate = float(self.hp["learning_rate"])
        self.total_steps = 0
        self.total_training_seconds = 0.0
        self.start_episode = 1
        self._resumed_from: str | None = None
        self.checkpoints = Checkpoints(self.run_dir / "checkpoints", keep=self.hp["keep_checkpoints"])

        header = [describe(self.spec, metadata.actions), f"[INIT] Device: {self.device_choice.description}"]
        if self.device_choice.note:
            header.append(f"[INIT] {self.device_choice.note}")
        for key, value in discovered.items():
            header.append(f"[INIT] {key} not given: measured {value} and recorded in {CONFIG_NAME}")
        self.log.start(header)
        seed_line = (f"[INIT] seed = {self.seed} (drawn; add seed = {self.seed} to [training] to repeat this run)"
                     if self.seed_was_drawn else f"[INIT] seed = {self.seed}")
        self.log.write(seed_line)

    # ------------------------------------------------------------------ config
    def _config_snapshot(self) -> dict:
        return snapshot(self.metadata, self.preprocessing, {"hidden_sizes": list(self.hp["hidden_sizes"])})

    def _write_config(self, discovered: dict) -> None:
        """Record measured values in config.toml, or write a full one when the API made this run."""
        path = self.run_dir / CONFIG_NAME
        if path.exists():
            updates = {f"metadata.{k}": v for k, v in discovered.items() if k in ("character_set", "board_size")}
            if "observe_state_sizes" in discovered:
                updates["preprocessing.observe_state_sizes"] = discovered["observe_state_sizes"]
            record_discovered(path, updates)
            return
        factory = self.game_factory
        module = getattr(factory, "__module__", None) or "unknown"
        doc = tomlkit.document()
        doc.add(tomlkit.comment("Written by jaxdqn's DQNTrainer; edit freely (comments are kept)."))
        game = {"module": module}
        if getattr(factory, "__name__", "create_game") != "create_game":
            game["factory"] = f"{module}:{factory.__qualname__}"
        doc["game"] = game
        doc["metadata"] = self.metadata.to_dict()
        doc["preprocessing"] = {k: v for k, v in self.preprocessing.items() if v is not None}
        doc["model"] = {"hidden_sizes": list(self.hp["hidden_sizes"])}
        doc["training"] = {k: v for k, v in self.hp.items() if k in TRAINING_KEYS and v is not None}
        path.write_text(tomlkit.dumps(doc), encoding="utf-8")

    # ------------------------------------------------------------------ public API
    def train(self, on_checkpoint: Callable | None = None, on_episode: Callable | None = None) -> None:
        """Play episodes until ``training_episodes``, checkpointing every ``checkpoint_every``.

        ``on_checkpoint(stats)`` gets the interval's averages; ``on_episode()`` runs after
        each episode. Supplying either turns the progress bar off (the caller shows progress).
        Ctrl+C or SIGTERM ends the current episode after the current step, saves a checkpoint
        and returns normally.
        """
        last = self.hp["training_episodes"]
        if self.start_episode > last:
            print(f"Training already complete ({last} episodes). To train further, raise training_episodes "
                  f"in {self.run_dir / CONFIG_NAME} and run again.")
            return
        existing = self.checkpoints.latest()
        if existing is not None and existing >= self.start_episode:
            raise JaxdqnError(
                f"{self.run_dir} already has checkpoints (the newest is {checkpoint_name(existing)}). Resume with "
                f"trainer.load_checkpoint({checkpoint_name(existing)!r}) (the CLI does this for you), or start "
                f"fresh with: jaxdqn clean {self.run_dir}")
        self.log.marker(self._resumed_from)
        use_bar = on_checkpoint is None and on_episode is None
        bar = None
        if use_bar:
            from tqdm import tqdm
            print("Training; press Ctrl+C to stop (a checkpoint is saved and nothing is lost).")
            bar = tqdm(total=last, initial=self.start_episode - 1, unit="ep", dynamic_ncols=True)
        interval = _Interval(time.perf_counter())
        speed = {"last": time.perf_counter(), "rate": None}  # steps/s, a moving average over episodes

        def end_episode(result: EpisodeResult, stopping: bool) -> bool:
            """Schedules, callbacks, logging and checkpoints after one finished episode; True = stop."""
            episode = self.start_episode
            if not np.isfinite(result.avg_loss):
                self._diverged(episode)
            interval.add(result)
            now = time.perf_counter()
            rate = result.steps / max(now - speed["last"], 1e-9)
            speed["rate"] = rate if speed["rate"] is None else 0.9 * speed["rate"] + 0.1 * rate
            speed["last"] = now
            self.start_episode = episode + 1
            self.last_episode = result
            self.epsilon = max(self.hp["epsilon_min"], self.epsilon * self.hp["epsilon_decay"])
            if result.trained:
                self.learning_rate *= self.hp["learning_rate_decay"]
                self._set_learning_rate(self.learning_rate)
            if on_episode:
                on_episode()
            if bar is not None:
                bar.set_postfix(reward=f"{result.reward:.1f}", eps=f"{self.epsilon:.3f}",
                                loss=f"{result.avg_loss:.3f}", steps_s=f"{speed['rate']:,.0f}", refresh=False)
                bar.update(1)
            if episode % self.hp["checkpoint_every"] == 0 or episode == last or stopping:
                now = time.perf_counter()
                self.total_training_seconds += now - interval.start
                stats = interval.stats(episode, self.epsilon, now, self.total_training_seconds)
                self.save_checkpoint(episode)
                self.log.write(stats.line())
                interval.__init__(time.perf_counter())
                if on_checkpoint:
                    on_checkpoint(stats.as_dict())
            if stopping:
                stopped_at.append(episode)
            return stopping or episode == last

        stopped_at: list[int] = []
        try:
            with jax.default_device(self.device), _StopRequests() as stop:
                self._play(stop, end_episode)
        finally:
            if bar is not None:
                bar.close()
        if stopped_at:
            where = self.checkpoints.directory / checkpoint_name(stopped_at[0])
            print(f"Stopped after episode {stopped_at[0]}. Saved {where}; run the same command to continue.")

    def load_checkpoint(self, path: str | Path) -> None:
        """Resume from a checkpoint (a directory like ``checkpoints/ep_0100`` or its name).

        Raises :class:`IncompatibleCheckpoint` listing each changed field (was / now / why)
        when the config changed in a way the saved network cannot follow.
        """
        episode = self.checkpoints.resolve(Path(path).name)
        meta = self.checkpoints.read_meta(episode)
        self._check_compatible(meta, checkpoint_name(episode))
        template = {"learner": self.learner, "key": self.key}
        saved_width = meta.get("rows_width", 0)
        # Replay saved in an older layout (before row lists and 16-way trees) is not read back.
        readable = meta.get("replay_layout") == REPLAY_LAYOUT and bool(saved_width) == bool(self._rows_width)
        with jax.default_device(self.device):
            replay_template = None
            if self.hp["save_replay_buffer"] and readable:
                replay_template = self.replay if saved_width == self._rows_width else self._empty_replay(saved_width)
            state, meta, replay = self.checkpoints.restore(episode, template, replay_template)
        self.learner, self.key = state["learner"], state["key"]
        self.total_steps = int(meta["total_steps"])
        self.total_training_seconds = float(meta["total_training_seconds"])
        self._last_update_step = meta.get("last_update_step")
        self.start_episode = int(meta["episode"]) + 1
        self.epsilon = float(meta["epsilon"])
        self.learning_rate = float(meta["learning_rate"])
        random.setstate(_to_tuple(meta["python_random"]))
        self._explore.setstate(_to_tuple(meta["explore_random"]))
        np.random.set_state(tuple(meta["numpy_random"][:1]) + (np.asarray(meta["numpy_random"][1], np.uint32),)
                            + tuple(meta["numpy_random"][2:]))
        if replay is not None:
            self.replay, self._buffer_items = replay, int(meta["buffer_items"])
            if saved_width != self._rows_width:
                self._widen(max(saved_width, self._rows_width))
        elif self.hp["save_replay_buffer"]:
            why = "has no replay buffer" if readable or not self.checkpoints.has_replay(episode) else \
                "holds its replay buffer in an older layout"
            self.log.write(f"[RESUME] this checkpoint {why}; starting with an empty one")
        self._note_changes(meta.get("hyperparams", {}))
        self._resumed_from = checkpoint_name(episode)

    def save_checkpoint(self, episode: int) -> None:
        if not bool(learner.all_finite(self.learner.params)):
            self._diverged(episode)
        replay = None
        if self.hp["save_replay_buffer"]:
            self._flush_chunk_into_buffer()
            self.replay = self._flush(self.replay, self._pending)
            self._pending = None
            replay = self.replay
        snap = self._config_snapshot()
        meta = {
            "episode": episode, "total_steps": self.total_steps, "last_update_step": self._last_update_step,
            "epsilon": self.epsilon, "learning_rate": self.learning_rate,
            "total_training_seconds": self.total_training_seconds, "buffer_items": self._buffer_items,
            "rows_width": self._rows_width, "replay_layout": REPLAY_LAYOUT,
            "python_random": random.getstate(), "explore_random": self._explore.getstate(),
            "numpy_random": _numpy_state(), "config": snap, "fingerprint": fingerprint(snap),
            "hyperparams": {k: v for k, v in self.hp.items() if k in TRAINING_KEYS},
            "seed": self.seed, "jaxdqn_version": __version__, "device": self.device_choice.kind,
        }
        self.checkpoints.save(episode, {"learner": self.learner, "key": self.key}, meta, replay)

    # ------------------------------------------------------------------ internals
    def _empty_stored(self, width: int):
        """One empty observation in the form replay stores: row lists of ``width``, or the board."""
        empty = self.env.encoder.empty()
        if not width:
            return empty
        return RowsObservation(np.full((width,), self.spec.flat_board_size, rows_dtype(self.spec)), empty.extras)

    def _empty_replay(self, width: int):
        return jax.jit(self.buffer.init)(example_transition(jax.tree.map(jnp.asarray, self._empty_stored(width))))

    def _store(self, obs: Observation):
        """A batch of observations in the form replay stores (row lists widened when a board outgrows them)."""
        if not self._rows_width:
            return obs
        try:
            rows = board_rows(obs.board, self.spec, self._rows_width)
        except ValueError:  # a board outgrew the lists
            self._widen(rows_width(int(np.count_nonzero(obs.board.reshape(len(obs.board), -1), axis=1).max())))
            rows = board_rows(obs.board, self.spec, self._rows_width)
        return RowsObservation(rows, obs.extras)

    def _widen(self, width: int) -> None:
        """Longer row lists for replay and the chunk; the jitted steps compile once for the new shape."""
        fill = self.spec.flat_board_size
        ring = self.replay.ring if isinstance(self.replay, PrioritizedState) else self.replay
        ring = ring._replace(data=_widen_rows(ring.data, width, fill, jnp))
        self.replay = self.replay._replace(ring=ring) if isinstance(self.replay, PrioritizedState) else ring
        self._chunk.data = _widen_rows(self._chunk.data, width, fill)
        self._rows_width = width

    def _play(self, stop: _StopRequests, end_episode: Callable[[EpisodeResult, bool], bool]) -> None:
        """Step every game in lockstep until ``end_episode`` says to stop.

        One batched greedy call serves all games per step; each transition then goes through
        the reference's schedule (an update at every ``train_every``-th transition). A stop
        request ends every game's episode after the current step, so no played step is lost.
        """
        hp, games = self.hp, self.games
        n = len(games)
        obs = Observation(np.zeros((n,) + self.env.encoder.board_shape, np.uint8),
                          np.zeros((n, self.env.encoder.num_extras), np.float32))
        stored = None
        fresh = [True] * n
        rewards, turns = [0.0] * n, [0] * n
        self._loss_sum, self._updates = jnp.zeros((), jnp.float32), 0
        while True:
            if any(fresh):
                for i in range(n):
                    if fresh[i]:
                        obs.board[i], obs.extras[i] = games.reset(i)
                        fresh[i], rewards[i], turns[i] = False, 0.0, 0
                stored = self._store(obs)
            actions = self._select_actions(stored)
            next_obs, step_rewards, dones = games.step(actions)
            next_stored = self._store(next_obs)
            finished = []
            for i in range(n):
                reward = float(step_rewards[i])
                self._chunk.append(stored, next_stored, i, actions[i], reward, bool(dones[i]))
                if self.total_steps % hp["train_every"] == 0:
                    self._learn()
                self.total_steps += 1
                rewards[i] += reward
                turns[i] += 1
                if dones[i] or turns[i] >= hp["max_turns_per_episode"]:
                    finished.append(i)
            obs, stored = next_obs, next_stored
            if stop.requested:
                finished = [i for i in range(n) if turns[i] > 0]
            for k, i in enumerate(finished):
                updates = self._updates
                avg_loss = float(self._loss_sum) / updates if updates else 0.0
                self._loss_sum, self._updates = jnp.zeros((), jnp.float32), 0
                stopping = stop.requested and k == len(finished) - 1
                if end_episode(EpisodeResult(rewards[i], turns[i], avg_loss, updates > 0), stopping):
                    return
                fresh[i] = True

    def _select_actions(self, obs) -> list[int]:
        """Epsilon-greedy per game (host random numbers), one device call for all greedy choices."""
        actions: list[int | None] = []
        for _ in range(obs.extras.shape[0]):
            explore = self._explore.random() < self.epsilon
            actions.append(self._explore.randrange(self.metadata.num_actions) if explore else None)
        if any(a is None for a in actions):
            greedy = np.asarray(self._greedy(self.learner.params, obs))
            actions = [int(greedy[i]) if a is None else a for i, a in enumerate(actions)]
        return actions

    def _learn(self) -> None:
        """At an update point: move the chunk to the device and, once a batch fits, train."""
        t = self.total_steps
        n = self._chunk.size
        if self._buffer_items + n < self.hp["batch_size"]:
            self._flush_chunk_into_buffer()
            return
        freq = self.hp["target_update_freq"]
        last = self._last_update_step
        if last is not None and t // freq > last // freq:
            # The reference copies the network every target_update_freq game steps; the copy it
            # makes after step k*freq first matters at the next update, so it is made here.
            self.learner = learner.sync_target(self.learner)
        self._last_update_step = t
        if n == self.hp["train_every"]:  # a full chunk rides along with the update
            [chunk] = self._drain_chunk()
        else:
            chunk = None
            self._flush_chunk_into_buffer()
        self.learner, self.replay, self.key, self._pending, self._loss_sum = self._step(
            self.learner, self.replay, self.key, chunk, self._pending, self._loss_sum)
        self._updates += 1

    def _drain_chunk(self) -> list[Transition]:
        """Empty the chunk and count it into the buffer: one piece when full, else one per transition.

        Only two shapes ever reach the device (``train_every`` and 1), so nothing recompiles.
        """
        n = self._chunk.size
        if n == self.hp["train_every"]:
            pieces = [self._chunk.take()]
        else:
            pieces = [self._chunk.take(i, i + 1) for i in range(n)]
        self._chunk.size = 0
        self._buffer_items = min(self._buffer_items + n, self.hp["memory_capacity"])
        return pieces

    def _flush_chunk_into_buffer(self) -> None:
        """Add collected transitions now."""
        for piece in self._drain_chunk():
            self.replay = self._add(self.replay, piece)

    def _set_learning_rate(self, lr: float) -> None:
        self.learner = self.learner._replace(opt_state=learner.set_learning_rate(self.learner.opt_state, lr))

    def _diverged(self, episode: int):
        last = self.checkpoints.latest()
        kept = f"The last good checkpoint, {checkpoint_name(last)}, is untouched." if last else "No checkpoint was saved."
        raise TrainingDiverged(
            f"training diverged in episode {episode}: the loss became NaN or infinite. {kept}\n"
            "Likely causes: a learning_rate that is too high (try 10x smaller), or rewards that are very large "
            "per step (scale the game's reward down to roughly -10..+50 per step).")

    def _check_compatible(self, meta: dict, name: str) -> None:
        changes = snapshot_differences(meta.get("config", {}), self._config_snapshot())
        if not changes:
            return
        lines = [f"cannot resume from {name}: config.toml changed in ways the saved network cannot follow.", ""]
        for field, was, now, why in changes:
            lines += [f"  {field}", f"    was: {was!r}", f"    now: {now!r}", f"    why: {why}", ""]
        lines += [f"To start fresh, remove the old run's checkpoints and log: jaxdqn clean {self.run_dir}",
                  "(or undo the change above to keep training the saved network)."]
        raise IncompatibleCheckpoint("\n".join(lines))

    def _note_changes(self, saved: dict) -> None:
        """Allowed hyperparameter changes take effect and are noted in training.log."""
        for key, value in self.hp.items():
            if key in saved and saved[key] != value and key in TRAINING_KEYS:
                self.log.write(f"[RESUME] {key} changed: {saved[key]!r} -> {value!r}")
        if "learning_rate" in saved and saved["learning_rate"] != self.hp["learning_rate"]:
            self.learning_rate = float(self.hp["learning_rate"])
        if "epsilon" in saved and saved["epsilon"] != self.hp["epsilon"]:
            self.epsilon = float(self.hp["epsilon"])
        self.epsilon = max(self.epsilon, self.hp["epsilon_min"])
        self._set_learning_rate(self.learning_rate)


def _to_tuple(value):
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _numpy_state() -> list:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]


def trainer_from_config(config) -> DQNTrainer:
    """A trainer for a validated :class:`~jaxdqn.config.RunConfig`."""
    from jaxdqn.games.metadata import game_factory

    factory = game_factory(config.game["module"], config.game.get("factory"), config.game.get("path"))
    return DQNTrainer(factory, config.metadata, config.run_dir, dict(config.preprocessing), **config.hyperparams)


__all__ = ["DQNTrainer", "IncompatibleCheckpoint", "TrainingDiverged", "trainer_from_config", "ConfigError"]
