"""The compiled trainer: a run of a JAX game, trained in chunks of one jitted program each.

Everything a user sees is the host trainer's: config keys and their meaning, the progress
bar, training.log lines every ``checkpoint_every`` episodes, metrics.csv, Orbax checkpoints
with fingerprints, resume (from the exact state: games mid-episode, keys, schedules and,
with ``save_replay_buffer``, the replay), Ctrl+C, the NaN guard. Between chunks the host
only logs, checkpoints and looks for a stop request. ``num_seeds`` agents train in lockstep
in the same program (side by side under ``jax.vmap`` on a GPU; on a CPU one after another within each
chunk, where each agent's weights stay in cache): a checkpoint is taken when every agent has finished the
interval's episodes, the log's averages are over all of them, and metrics.csv has each
agent's episodes (its ``agent`` column). A ``[sweep]`` trains ``num_seeds`` agents for each of its
configurations, each agent with its configuration's hyperparameters (agent ``c * num_seeds + s``
is seed ``s`` of configuration ``c``, on the key seed ``s`` has without a sweep); training.log adds
a line per configuration at each checkpoint and metrics.csv names it (its ``config`` column).
``[distributed]`` spreads the agents, or each agent's games and replay, over devices and machines
(:mod:`jaxdqn.core.sharding`); every process runs the same trainer, and only process 0 writes the
log, metrics.csv and checkpoint names.
"""
from __future__ import annotations

import contextlib
import functools
from concurrent.futures import Future

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.config import RunConfig
from jaxdqn.config.assembly import RunParts, assemble_config
from jaxdqn.config.schema import configuration_label
from jaxdqn.core.hyperparameters import grid
from jaxdqn.core.rows import rows_width, widen_replay, widen_rows
from jaxdqn.core.runner import Clock, RunnerState, make_runner
from jaxdqn.core.settings import Settings
from jaxdqn.core.sharding import gather, make_distributed_runner
from jaxdqn.device import select_device
from jaxdqn.errors import JaxdqnError
from jaxdqn.trainers.compiled_checkpoints import CompiledCheckpoints, Episode
from jaxdqn.trainers.memory import check_run_fits
from jaxdqn.trainers.processes import barrier, join_processes, layout_for
from jaxdqn.trainers.progress import ProgressBar
from jaxdqn.trainers.randomness import draw_seed, seed_line
from jaxdqn.trainers.run_directory import RunDirectory
from jaxdqn.trainers.stats import EpisodeResult

CHUNK_SECONDS = 0.5  # the host looks at the run (progress, Ctrl+C) about this often
MIN_ROWS = 32  # the narrowest row lists a compiled run starts with


class CompiledTrainer(CompiledCheckpoints):
    """Trains the JAX game a config names; the same run directory, log, checkpoints and resume rules."""

    def __init__(self, config: RunConfig, process_id: int | None = None):
        """``process_id``: this process's number in a run on several machines (see
        :func:`~jaxdqn.trainers.processes.join_processes`, which must run before JAX is used)."""
        join_processes(config.distributed, process_id)
        self.layout = layout_for(config.distributed, config.hyperparams["num_seeds"])
        timeout = config.distributed["timeout"]
        self.run = RunDirectory(config.run_dir, config.hyperparams["keep_checkpoints"],
                                primary=jax.process_index() == 0, barrier=lambda name: barrier(name, timeout))
        try:
            self._build(config)
        except BaseException:
            self.run.close()
            raise

    def _build(self, config: RunConfig) -> None:
        self.game = config.jax_game
        self.parts: RunParts = assemble_config(config)  # the retro counterpart: play, eval, the fingerprint
        self.hp = hp = self.parts.hp
        self.metadata, self.spec = self.parts.metadata, self.parts.spec
        self.seed, self.seed_was_drawn = draw_seed(hp["seed"])
        if self.seed_was_drawn and jax.process_count() > 1:  # one program: every process takes process 0's draw
            from jax.experimental import multihost_utils
            self.seed = int(multihost_utils.broadcast_one_to_all(np.int32(self.seed)))
        self.sweep = config.sweep  # {} without a [sweep]
        self.configurations = config.configurations  # [{}] without one: the sweep's combinations, in grid's order
        self.labels = [configuration_label(c) for c in self.configurations] if config.sweep else None
        self.num_seeds = hp["num_seeds"] * len(self.configurations)  # every agent: configurations x seeds
        self.device_choice = select_device(hp["device"])
        self.device = self.device_choice.device
        _, start = self.game.reset(jax.random.PRNGKey(0))
        # boards fill up as games go on, and widening recompiles: start at twice the first board, 32 at least
        self.width = self.parts.rows_width(max(MIN_ROWS, 2 * int(np.count_nonzero(np.asarray(start.board)))))
        check_run_fits(self.parts, self.width, self.device, self.num_seeds, self.game)  # before allocating
        self.logged = 0  # every agent's episodes up to here are in training.log
        self.pending: list[Episode] = []  # finished after ``logged``, not yet logged
        self.steps_played = 0
        self.total_training_seconds = 0.0
        self.compile_seconds: float | None = None
        self.stopped_at: int | None = None
        self.last_episode: EpisodeResult | None = None
        self.rate = 0.0  # game steps per second in the last chunk, all agents together
        self._resumed_from: str | None = None
        self._make_runner()
        with jax.default_device(self.device):
            self.state: RunnerState = self._init(np.int32(self.seed))
            self.clock: Clock = self._init_clock()

    def _make_runner(self) -> None:
        if self.layout is not None:
            settings, records = self._settings(self.hp)
            distributed = make_distributed_runner(self.game, self.parts.network, settings, records, self.layout)
            self.runner, self._chunk = distributed.runner, distributed.run_chunk
            self._init, self._init_clock = distributed.init, distributed.init_clock
            return
        self.runner, self._init = self._local_runner(self.hp)
        periods = self._target_periods()
        apart = self.device.platform == "cpu"  # stacked agents one after another (see Runner.run_chunk)
        self._init_clock = lambda: self.runner.init_clock(periods)
        self._chunk = jax.jit(functools.partial(self.runner.run_chunk, one_at_a_time=apart))

    def _settings(self, hp: dict) -> tuple[Settings, int]:
        """The runner's settings for hyperparameters ``hp``, and how many episodes its records hold."""
        settings = Settings.from_hyperparameters(hp, rows_width=self.width)
        return settings, hp["checkpoint_every"] + settings.steps_per_iteration * settings.num_envs

    def _local_runner(self, hp: dict):
        """A runner on one device for ``hp``, and its jitted ``init(seed)`` of every agent: several agents
        stacked on a leading axis, one agent without it (see ``Runner.run_chunk``)."""
        settings, records = self._settings(hp)
        runner = make_runner(self.game, self.parts.network, settings, records)
        n, seeds, configurations = self.num_seeds, hp["num_seeds"], len(self.configurations)
        if self.labels is None:
            init = jax.vmap(runner.init) if n > 1 else lambda keys: runner.init(keys[0])
        else:  # each agent with its configuration's hyperparameters
            hyper = jax.tree.map(lambda x: jnp.repeat(x, seeds, axis=0), grid(settings, **self.sweep))
            init = lambda keys: jax.vmap(runner.init, in_axes=(0, None, 0))(keys, 0, hyper)  # noqa: E731
        # configuration c's seed s has the key seed s has without a sweep
        return runner, jax.jit(lambda seed: init(jnp.tile(jax.random.split(jax.random.PRNGKey(seed), seeds),
                                                          (configurations, 1))))

    def _target_periods(self):
        """The clock's target period: the settings' (None), or one per agent where configurations differ in it."""
        periods = [c.get("target_update_freq", self.hp["target_update_freq"]) for c in self.configurations]
        if len(set(periods)) == 1:
            return None
        return np.repeat(np.array(periods, np.int32), self.hp["num_seeds"])

    # ------------------------------------------------------------------ what DQNTrainer offers too
    @property
    def start_episode(self) -> int:
        return self.logged + 1

    @property
    def total_steps(self) -> int:
        return self.steps_played

    @property
    def epsilon(self) -> float:
        return float(np.mean(self.per_agent(self.state.epsilon)))

    def _host(self, x) -> np.ndarray:
        """A field of the agents' state on this host, whole (every process calls it: it may gather)."""
        return gather(x) if self.layout is not None else np.asarray(x)

    def _rows(self, agent: int) -> list[int]:
        """The first-axis rows of an agent in the state: one per data shard (see ``per_agent``)."""
        if self.layout is None:
            return [agent]
        layout = self.layout
        return [layout.row(agent) + d * layout.per_device for d in range(layout.data)]

    def per_agent(self, x) -> np.ndarray:
        """An agent-level field (one value per agent, the same on each of its data shards), ``[num_seeds]``
        first: one agent is kept without the axis, and on a mesh each device holds a block of rows."""
        x = self._host(x)
        if self.layout is not None:
            return x[[self._rows(agent)[0] for agent in range(self.num_seeds)]]
        return x[None] if self.num_seeds == 1 else x

    # ------------------------------------------------------------------ training
    def _train(self, clock, last: int, on_checkpoint, on_episode, stop) -> None:
        bar = None
        if on_checkpoint is None and on_episode is None and self.run.primary:
            bar = ProgressBar(last, self.logged, clock, self.compile_seconds)
        interval, interval_start = list(self.pending), clock()
        iterations, compiled = 8, False
        s = self.runner.settings
        try:
            with jax.default_device(self.device):
                while True:
                    boundary = min(last, self.logged + self.hp["checkpoint_every"])
                    started = clock()
                    notice = bar.compiling() if bar is not None and not compiled else contextlib.nullcontext()
                    with notice, self._first_chunk(stop) if not compiled else contextlib.nullcontext():
                        ran = self._call(stop, lambda: self._run_chunk(boundary, iterations))
                    compiled = True
                    elapsed = max(clock() - started, 1e-6)
                    steps = ran * s.steps_per_iteration * s.num_envs * self.num_seeds
                    self.steps_played += steps
                    self.rate = rate = steps / elapsed
                    epsilon = self.epsilon
                    for episode in self._finished_episodes():
                        interval.append(episode)
                        if episode.agent == 0:
                            self.last_episode = EpisodeResult(episode.reward, episode.length, episode.loss,
                                                              episode.loss > 0)
                            if on_episode:
                                on_episode()
                            if bar is not None:
                                bar.episode(self.last_episode, epsilon, rate)
                    iterations = max(1, min(1 << 20, int(iterations * CHUNK_SECONDS / elapsed)))
                    everyone = int(self.per_agent(self.state.episodes).min())
                    stopping = self._anyone(stop is not None and stop.requested)
                    if everyone < boundary and not stopping:
                        continue
                    episode = min(boundary, everyone)
                    if episode == self.logged:  # stopped before any agent finished another episode
                        self.stopped_at = None
                        return
                    now = clock()
                    self.total_training_seconds += now - interval_start
                    with stop.saving() if stop is not None else contextlib.nullcontext():  # a quit waits for it
                        stats = self._save(episode, interval, now - interval_start)
                    interval, interval_start = list(self.pending), clock()
                    if on_checkpoint:
                        on_checkpoint(stats.as_dict())
                    if stopping:
                        self.stopped_at = episode
                    if stopping or episode >= last:
                        return
        finally:
            if bar is not None:
                bar.close()
                self.compile_seconds = bar.compile_seconds

    def _anyone(self, flag: bool) -> bool:
        """Whether any process says so (a stop request reaches the processes at different times, and they
        must stop at the same checkpoint)."""
        if jax.process_count() == 1:
            return flag
        from jax.experimental import multihost_utils
        return bool(np.any(multihost_utils.process_allgather(np.array([flag]))))

    def _first_chunk(self, stop):
        """The session's first chunk, mostly compiling: nothing in it is saved yet, so a stop request quits at
        once (one process only; several must stop together at a checkpoint)."""
        if stop is None or jax.process_count() > 1:
            return contextlib.nullcontext()
        return stop.waiting("compiling the training step")

    def _call(self, stop, fn):
        """``fn()``, with stop requests still heard while it runs (see StopRequests.call)."""
        if stop is None:
            return fn()
        done: Future = Future()

        def on_this_device():  # the helper thread's own target: the chunk's code path stays in this module
            with jax.default_device(self.device):  # JAX's default device is per thread
                try:
                    done.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - raised again on the waiting thread
                    done.set_exception(exc)
        return stop.run(on_this_device, done)

    def _run_chunk(self, target: int, iterations: int):
        """One chunk (the number of iterations it ran); when a board outgrows the row lists, they widen and
        the chunk runs again from the same state (the program is deterministic: the run is the one wider
        lists would have given)."""
        while True:
            state, clock, ran = self._chunk(self.state, self.clock, np.int32(target), np.int32(iterations))
            if not bool(self._host(state.overflow).any()):
                self.state, self.clock = state, clock
                return int(self._host(ran))
            self.widen(rows_width(2 * self.width + 1))

    def widen(self, width: int) -> None:
        """Row lists of ``width`` from now on, in replay and the games' observations (one recompilation)."""
        pad = self.spec.flat_board_size

        def wider(state: RunnerState) -> RunnerState:
            return state._replace(replay=widen_replay(state.replay, width, pad),
                                  obs=widen_rows(state.obs, width, pad, jnp))

        self.state = self._placed(wider)(self.state)
        self.width = width
        self._make_runner()

    def _finished_episodes(self) -> list[Episode]:
        """The last chunk's finished episodes, in order, agent by agent. A reward that is not finite, in a
        finished episode or in a game still being played, stops the run as the game's doing; only then does
        a loss that is not finite stop it as divergence (a NaN reward reaches the loss through replay)."""
        records = self.state.records
        rewards, lengths, losses, epsilons, counts = (self._host(x) for x in records)
        if self.layout is None and self.num_seeds == 1:
            rewards, lengths, losses, epsilons, counts = (x[None] for x in (rewards, lengths, losses, epsilons, counts))
        out = [Episode(agent, float(rewards[row, i]), int(lengths[row, i]), float(losses[row, i]),
                       float(epsilons[row, i]))
               for agent in range(self.num_seeds) for row in self._rows(agent)  # each data shard's episodes
               for i in range(int(counts[row]))]
        running = self._host(self.state.ep_reward).ravel()
        bad = [e.reward for e in out if not np.isfinite(e.reward)] + list(running[~np.isfinite(running)])
        if bad:
            raise JaxdqnError(
                f"the reward of {self.game.name} became {bad[0]} in an episode after episode {self.logged}: the "
                "game produced it, not the training. Fix the game's step so the reward stays a finite number "
                "(check divisions and overflowing sums).")
        if any(not np.isfinite(e.loss) for e in out):
            self._diverged(self.logged + 1)
        return out

    def _session_lines(self) -> tuple[list[str], str | None]:
        lines = [f"[INIT] Compiled training of {self.game.name} (written in JAX): {self.hp['num_envs']} game(s) "
                 f"per agent, {self.num_seeds} agent(s), one update per {self.hp['train_every']} transitions"]
        if self.layout is not None:
            lines.append(f"[INIT] Distributed: {self.layout.describe()}")
        if self.labels is not None:
            seeds = self.hp["num_seeds"]
            lines.append(f"[INIT] Sweep: {len(self.labels)} configurations x {seeds} seed(s), in one program")
            lines += [f"[INIT]   agents {i * seeds}-{(i + 1) * seeds - 1}: {label}"
                      for i, label in enumerate(self.labels)]
        return lines, seed_line(self.seed, self.seed_was_drawn)

    def _game_factory(self):
        return self.parts.game.factory
