"""Checkpoints of a compiled run: what :class:`~jaxdqn.trainers.compiled.CompiledTrainer` saves and how it
resumes (from its own checkpoints, or from a host-trained checkpoint of the retro counterpart).

A checkpoint holds the learner and key as the host trainer's do, the replay when
``save_replay_buffer``, and one more item: the rest of the agents' state (games mid-episode,
schedules, statistics) and the clock, so training continues exactly where it stopped.
"""
from __future__ import annotations

import abc
import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.config.fingerprint import check_compatible
from jaxdqn.core import learner
from jaxdqn.core.runner import Clock, RunnerState
from jaxdqn.core.sharding import Layout
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoints import checkpoint_name
from jaxdqn.run.log import IntervalStats, sweep_line
from jaxdqn.run.restore import READABLE_REPLAY_LAYOUTS, replay_fits, replay_not_restored, restore_state
from jaxdqn.trainers.base import Trainer
from jaxdqn.trainers.processes import describe_layout
from jaxdqn.trainers.schedules import restarted_schedules

HOST_ONLY = ("learner", "key", "replay")  # runner fields saved as items of their own
FROM_CONFIG = ("hyper",)  # runner fields config.toml gives again at resume (so a changed decay applies)
SHAPING_KEYS = ("num_envs", "batch_size", "train_every", "checkpoint_every")  # what the runner item's shapes follow
GAME_FIELDS = ("games", "obs", "ep_reward", "ep_length", "ep_loss", "ep_updates")  # one entry per game


@dataclasses.dataclass
class Episode:
    """One finished episode of one agent."""

    agent: int
    reward: float
    length: int
    loss: float
    epsilon: float | None = None  # once it ended (None: from a checkpoint that did not keep it)


class CompiledCheckpoints(Trainer):
    """Saving and resuming, for :class:`~jaxdqn.trainers.compiled.CompiledTrainer`, which holds the state
    declared here (and in :class:`~jaxdqn.trainers.base.Trainer`) and implements the methods below."""

    state: RunnerState  # every agent's learner, replay, games and schedules, on the devices
    clock: Clock
    num_seeds: int  # agents: num_seeds for each configuration of the sweep
    labels: list[str] | None  # the sweep's configurations, None without a [sweep]
    layout: Layout | None  # how the agents lie on several devices, None on one
    width: int  # the row lists' width (see jaxdqn.core.rows)
    logged: int  # every agent's episodes up to here are in training.log
    pending: list[Episode]  # finished after ``logged``, not yet logged
    steps_played: int
    rate: float  # game steps per second in the last chunk

    @abc.abstractmethod
    def widen(self, width: int) -> None:
        """Row lists of ``width`` from now on (see :meth:`~jaxdqn.trainers.compiled.CompiledTrainer.widen`)."""

    @abc.abstractmethod
    def per_agent(self, x) -> np.ndarray:
        """An agent-level field of the state, one value per agent."""

    @abc.abstractmethod
    def _local_runner(self, hp: dict):
        """A runner on one device for ``hp``, and its jitted ``init(seed)``."""

    def load_checkpoint(self, path) -> None:
        episode = self.checkpoints.resolve(Path(path).name)
        name = checkpoint_name(episode)
        meta = self.checkpoints.read_meta(episode)
        check_compatible(meta.get("config", {}), self.parts.snapshot(), name, self.run_dir)
        compiled = meta.get("loop") == "compiled"
        if compiled and meta.get("sweep") != self.labels:
            raise JaxdqnError(f"{name} was trained with {_sweep_words(meta.get('sweep'))}, and config.toml now asks "
                              f"for {_sweep_words(self.labels)}: set [sweep] back to resume, or start fresh with: "
                              f"jaxdqn clean {self.run_dir}")
        if compiled and meta.get("num_seeds") != self.num_seeds:
            raise JaxdqnError(f"{name} holds {meta.get('num_seeds')} agent(s), and num_seeds is now {self.num_seeds}: "
                              f"set num_seeds back, or start fresh with: jaxdqn clean {self.run_dir}")
        layout = self.layout.as_meta() if self.layout is not None else None
        if compiled and meta.get("layout") != layout:
            raise JaxdqnError(f"{name} was written by {describe_layout(meta.get('layout'))}, and this run has "
                              f"{describe_layout(layout)}: resume with the same [distributed] settings and number "
                              "of processes (a checkpoint holds each device's share of the games and replay)")
        if not compiled and layout is not None:
            raise JaxdqnError(f"{name} was written by the retro game's trainer: continue it on one device first "
                              f"(remove [distributed]), then start a distributed run from a fresh directory")
        if meta.get("rows_width", 0) > self.width:
            self.widen(meta["rows_width"])
        saved_hp = meta.get("hyperparams", {})

        def saved(key):
            return saved_hp.get(key, self.hp[key])

        s, replay = self.state, None
        with jax.default_device(self.device):
            if compiled:
                replay = s.replay if (self.hp["save_replay_buffer"] and replay_fits(saved_hp, self.hp)
                                      and meta.get("replay_layout") in READABLE_REPLAY_LAYOUTS) else None
                template = {"runner": self._saved_runner_item(saved_hp)}
                state, meta, replay, extras = self.checkpoints.restore(
                    episode, {"learner": s.learner, "key": s.key}, replay, template)
                runner = extras["runner"]
                self.clock = Clock(**runner.pop("clock"), target_update_freq=self.clock.target_update_freq)
                runner["records"] = s.records  # emptied by every chunk; their size follows the settings
                if saved("batch_size") != self.hp["batch_size"]:  # the last update's priorities: another batch
                    runner.update(pending=s.pending, has_pending=s.has_pending)
                if saved("num_envs") != self.hp["num_envs"]:
                    runner.update({f: getattr(s, f) for f in GAME_FIELDS})
                    self.run.notes.append(f"[RESUME] the games in progress are not continued (num_envs changed): "
                                          f"{self.hp['num_envs']} new games start")
                self.state = RunnerState(learner=state["learner"], key=state["key"],  # on the templates' devices
                                         replay=s.replay if replay is None else replay, hyper=s.hyper, **runner)
                if replay is None:  # a fresh buffer: the pending priorities point into the old one
                    none = jax.jit(jnp.zeros_like, out_shardings=s.has_pending.sharding)(s.has_pending)
                    self.state = self.state._replace(has_pending=none)
            else:  # the host trainer's checkpoint of the retro game: its network and schedules, fresh games
                one = ({"learner": s.learner, "key": s.key} if self.num_seeds == 1 else
                       {"learner": jax.tree.map(lambda x: x[0], s.learner), "key": s.key[0]})
                state, meta, _ = restore_state(self.checkpoints, episode, meta, self.spec,
                                               self.parts.settings.optimizer(), one)
                stacked = state["learner"] if self.num_seeds == 1 else jax.tree.map(
                    lambda x: jnp.broadcast_to(x, (self.num_seeds,) + x.shape), state["learner"])
                self.state = s._replace(learner=stacked, epsilon=jnp.full_like(s.epsilon, meta["epsilon"]),
                                        learning_rate=jnp.full_like(s.learning_rate, meta["learning_rate"]),
                                        episodes=jnp.full_like(s.episodes, meta["episode"]))
        self.logged = int(meta["episode"])
        self.pending = [Episode(**e) for e in meta.get("pending_episodes", [])]
        self.steps_played = int(meta["total_steps"])
        self.total_training_seconds = float(meta["total_training_seconds"])
        self.compile_seconds = meta.get("compile_seconds")
        self.run.note_changes(saved_hp, self.hp)
        self._restart_changed_schedules(saved_hp)
        if compiled and self.hp["save_replay_buffer"] and replay is None:
            self.run.notes.append(replay_not_restored(self.checkpoints.has_replay(episode), saved_hp, self.hp))
        self._resumed_from = name

    def _saved_runner_item(self, saved_hp: dict) -> dict:
        """A template for the checkpoint's runner item: shaped by the settings it was saved with (``num_envs``,
        ``batch_size``, ``train_every`` and ``checkpoint_every`` size its arrays), which may have changed since."""
        hp = {**self.hp, **{k: saved_hp[k] for k in SHAPING_KEYS if k in saved_hp}}
        if hp == self.hp:
            return self._runner_item()
        changed = ", ".join(f"{k} ({saved_hp[k]} -> {self.hp[k]})" for k in SHAPING_KEYS if hp[k] != self.hp[k])
        if self.layout is not None:
            raise JaxdqnError(f"{changed} changed since the checkpoint, and a distributed run holds each device's "
                              f"share of the games and batch as saved: set them back to resume")
        _, init = self._local_runner(hp)
        with jax.default_device(self.device):
            return self._runner_item(init(np.int32(self.seed)))

    def _restart_changed_schedules(self, saved_hp: dict) -> None:
        """As the host trainer does: a changed ``epsilon`` or ``learning_rate`` restarts that schedule at the new
        value, and epsilon never stays below a raised ``epsilon_min`` (each agent's own, in a sweep)."""
        restart = restarted_schedules(saved_hp, self.hp)

        def restarted(state: RunnerState) -> RunnerState:
            state = state._replace(**{k: jnp.full_like(getattr(state, k), v) for k, v in restart.items()})
            return state._replace(epsilon=jnp.maximum(state.epsilon, state.hyper.epsilon_min))

        self.state = self._placed(restarted)(self.state)

    def _save(self, episode: int, interval: list[Episode], seconds: float) -> IntervalStats:
        """Checkpoint every agent at ``episode``; the interval's episodes up to it go to the log and metrics."""
        if not bool(learner.all_finite(self.state.learner.params)):
            self._diverged(episode)
        counted = dict.fromkeys(range(self.num_seeds), self.logged)
        done, self.pending = [], []
        for e in interval:
            counted[e.agent] += 1
            if counted[e.agent] <= episode:
                done.append(e)
                self.run.metrics.add(counted[e.agent], e.reward, e.length,
                                     self.epsilon if e.epsilon is None else e.epsilon, e.loss, self.rate,
                                     self.total_training_seconds, agent=e.agent,
                                     ended="turn_limit" if e.length >= self.hp["max_turns_per_episode"] else "game",
                                     config=self._label(e.agent))
            else:
                self.pending.append(e)
        losses = [e.loss for e in done if e.loss > 0]
        n = max(1, len(done))
        stats = IntervalStats(episode, self.logged + 1, sum(e.reward for e in done) / n,
                              sum(e.length for e in done) / n, self.epsilon,
                              sum(losses) / len(losses) if losses else 0.0, seconds, self.total_training_seconds)
        s = self.state
        meta = {"epsilon": self.epsilon, "learning_rate": float(np.mean(self.per_agent(s.learning_rate))),
                "rows_width": self.width, "num_seeds": self.num_seeds, "loop": "compiled", "sweep": self.labels,
                "layout": self.layout.as_meta() if self.layout is not None else None,
                "pending_episodes": [dataclasses.asdict(e) for e in self.pending]}
        self._save_checkpoint(episode, {"learner": s.learner, "key": s.key}, meta,
                              s.replay if self.hp["save_replay_buffer"] else None,
                              "\n".join([stats.line()] + self._sweep_lines(episode, done)),
                              extras={"runner": self._runner_item()})
        self.logged = episode
        return stats

    def _label(self, agent: int) -> str:
        """The configuration an agent trains with (empty without a sweep)."""
        return "" if self.labels is None else self.labels[agent // self.hp["num_seeds"]]

    def _sweep_lines(self, episode: int, done: list[Episode]) -> list[str]:
        """training.log's lines for each configuration of a sweep: its agents' averages over the interval."""
        lines = []
        for label in self.labels or []:
            mine = [e for e in done if self._label(e.agent) == label]
            epsilon = np.mean([e.epsilon for e in mine if e.epsilon is not None] or [self.epsilon])
            lines.append(sweep_line(episode, label, sum(e.reward for e in mine) / max(1, len(mine)),
                                    sum(e.length for e in mine) / max(1, len(mine)), float(epsilon)))
        return lines

    def _placed(self, fn):
        """``fn`` over the agents' state, jitted so its result lies on the devices the state lies on now."""
        shardings = jax.tree.map(lambda x: x.sharding, self.state) if self.layout is not None else None
        return jax.jit(fn, out_shardings=shardings)

    def _runner_item(self, state: RunnerState | None = None) -> dict:
        """What a checkpoint holds besides the learner, the key and replay: games, statistics, the clock's
        progress (its target period, as the agents' hyperparameters, comes from config.toml)."""
        state = self.state if state is None else state
        clock = {k: v for k, v in self.clock._asdict().items() if k != "target_update_freq"}
        return dict({k: v for k, v in state._asdict().items() if k not in HOST_ONLY + FROM_CONFIG}, clock=clock)


def _sweep_words(labels: list[str] | None) -> str:
    return f"the sweep {'; '.join(labels)}" if labels else "no sweep"
