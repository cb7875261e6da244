"""The update pipeline: played transitions into device replay, and one fused update every ``train_every``.

Transitions collect on the host in a chunk of ``train_every``. At each update point the
chunk rides along with a single jitted call that writes last update's priorities, adds
the chunk, samples a batch, updates the learner and returns the new priorities; before the
buffer holds a batch, chunks are only added. An MLP's boards are stored as row lists
(:mod:`jaxdqn.core.rows`); when a board outgrows them, every place that holds lists (the buffer,
the chunk, batches the loop is holding) is widened, and the jitted calls compile once for
the new width.
"""
from __future__ import annotations

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.core import learner
from jaxdqn.core.acting import make_greedy
from jaxdqn.core.rows import BoardOutgrewRows, as_rows, rows_dtype, rows_width, widen_replay, widen_rows
from jaxdqn.core.types import Observation, RowsObservation, Transition, example_transition


class Chunk:
    """Transitions collected on the host between two updates, in the form replay stores."""

    def __init__(self, capacity: int, empty, ended: bool = False):
        """``ended``: keep the episode-end flag too (for n-step returns)."""
        def alloc(x):
            x = np.asarray(x)
            return np.zeros((capacity,) + x.shape, x.dtype)
        self.data = Transition(jax.tree.map(alloc, empty), alloc(np.int32(0)), alloc(np.float32(0)),
                               jax.tree.map(alloc, empty), alloc(False), ended=alloc(False) if ended else None)
        self.size = 0

    def append(self, obs, next_obs, k: int, action: int, reward: float, done: bool, ended: bool) -> None:
        """Add game ``k``'s transition from the batches ``obs`` and ``next_obs``."""
        i, d = self.size, self.data
        for store, value in zip(d.obs, obs):
            store[i] = value[k]
        for store, value in zip(d.next_obs, next_obs):
            store[i] = value[k]
        d.action[i], d.reward[i], d.done[i] = action, reward, done
        if d.ended is not None:
            d.ended[i] = ended
        self.size += 1

    def take(self, start: int = 0, stop: int | None = None) -> Transition:
        """A copy of items ``start:stop`` (the device may read it after this chunk is reused)."""
        stop = self.size if stop is None else stop
        return jax.tree.map(lambda x: x[start:stop].copy(), self.data)


def _fused_step(learner_state, buffer_state, key, chunk, pending, loss_sum, *, core_step):
    """The core train step, plus the key split and the running loss sum kept on the device."""
    key, sample_key = jax.random.split(key)
    learner_state, buffer_state, metrics, pending = core_step(learner_state, buffer_state, sample_key, chunk, pending)
    return learner_state, buffer_state, key, pending, loss_sum + metrics.loss


class UpdatePipeline:
    """Learner state, replay and the update schedule's device side, for one run on one device."""

    def __init__(self, parts, device, seed: int, occupied: int):
        settings, spec = parts.settings, parts.spec
        self.settings, self.spec, self.device = settings, spec, device
        self.rows_width = parts.rows_width(occupied)
        self.network = parts.network
        self.buffer = settings.buffer(stride=parts.hp["num_envs"])  # a step adds one transition per game
        self.optimizer = optimizer = settings.optimizer()
        core = learner.make_train_step(self.network, optimizer, self.buffer, batch_size=settings.batch_size,
                                       gamma=settings.gamma, double_dqn=settings.double_dqn, jit=False,
                                       huber_delta=settings.huber_delta)
        self.step_fn = jax.jit(functools.partial(_fused_step, core_step=core), donate_argnums=(0, 1))
        self.add_fn = jax.jit(self.buffer.add, donate_argnums=0)
        self.flush_fn = jax.jit(functools.partial(learner.flush, self.buffer), donate_argnums=0)
        self.greedy_fn = make_greedy(self.network.apply)
        self._empty_obs = parts.game.encoder.empty()
        with jax.default_device(device):
            self.learner = learner.init_learner(jax.random.PRNGKey(seed), self.network, optimizer)
            self.key = jax.random.PRNGKey(seed + 3)
            self.replay = self.empty_replay(self.rows_width)
        self.pending = None
        self.chunk = Chunk(settings.train_every, self._empty_stored(self.rows_width), ended=settings.n_step > 1)
        self.buffer_items = 0
        self.loss_sum, self.updates = jnp.zeros((), jnp.float32), 0
        self.compiling = contextlib.nullcontext  # wraps an update that compiles the step (a new signature)
        self._compiled: set[tuple] = set()

    # ------------------------------------------------------------------ stored form
    def _empty_stored(self, width: int):
        """One empty observation in the form replay stores: row lists of ``width``, or the board."""
        if not width:
            return self._empty_obs
        return RowsObservation(np.full((width,), self.spec.flat_board_size, rows_dtype(self.spec)),
                               self._empty_obs.extras)

    def empty_replay(self, width: int):
        stored = jax.tree.map(jnp.asarray, self._empty_stored(width))
        return jax.jit(self.buffer.init)(example_transition(stored, ended=self.settings.n_step > 1))

    def store(self, obs: Observation):
        """A batch of observations in the form replay stores (widening the lists when a board outgrows them)."""
        if not self.rows_width:
            return obs
        try:
            return as_rows(obs, self.spec, self.rows_width)
        except BoardOutgrewRows as outgrown:
            self.widen(rows_width(outgrown.occupied))
            return as_rows(obs, self.spec, self.rows_width)

    def conform(self, stored):
        """``stored`` (held since before a widening) at the current width."""
        if self.rows_width and stored.rows.shape[-1] < self.rows_width:
            return widen_rows(stored, self.rows_width, self.spec.flat_board_size)
        return stored

    def widen(self, width: int) -> None:
        """Longer row lists in replay and the chunk; the jitted calls compile once for the new shape."""
        fill = self.spec.flat_board_size
        self.replay = widen_replay(self.replay, width, fill)
        self.chunk.data = widen_rows(self.chunk.data, width, fill)
        self.rows_width = width

    # ------------------------------------------------------------------ acting and learning
    def greedy(self, stored) -> np.ndarray:
        return np.asarray(self.greedy_fn(self.learner.params, self.conform(stored)))

    def add(self, stored, next_stored, k: int, action: int, reward: float, done: bool, *,
            ended: bool | None = None) -> None:
        """Game ``k``'s transition; ``ended``: its episode ended there (a game over, the turn limit, a stop;
        default ``done``), kept for n-step returns."""
        self.chunk.append(self.conform(stored), self.conform(next_stored), k, action, reward, done,
                          done if ended is None else ended)

    def train(self, sync_target: bool) -> None:
        """Move the chunk to the device and train on a sampled batch (call when :meth:`will_train`)."""
        n = self.chunk.size
        if sync_target:
            self.learner = learner.sync_target(self.learner)
        if n == self.settings.train_every:  # a full chunk rides along with the update
            [chunk] = self._drain_chunk()
        else:
            chunk = None
            self.flush_chunk()
        signature = (chunk is None, self.pending is None, self.rows_width)
        if signature in self._compiled:
            self._step(chunk)
        else:
            with self.compiling():
                self._step(chunk)
                self.loss_sum.block_until_ready()
            self._compiled.add(signature)
        self.updates += 1

    def _step(self, chunk) -> None:
        self.learner, self.replay, self.key, self.pending, self.loss_sum = self.step_fn(
            self.learner, self.replay, self.key, chunk, self.pending, self.loss_sum)

    def will_train(self) -> bool:
        """Whether an update point now trains: the buffer and the chunk hold a batch between them."""
        return self.buffer_items + self.chunk.size >= self.settings.batch_size

    def _drain_chunk(self) -> list[Transition]:
        """Empty the chunk and count it into the buffer: one piece when full, else one per transition.

        Only two shapes ever reach the device (``train_every`` and 1), so nothing recompiles.
        """
        n = self.chunk.size
        if n == self.settings.train_every:
            pieces = [self.chunk.take()]
        else:
            pieces = [self.chunk.take(i, i + 1) for i in range(n)]
        self.chunk.size = 0
        self.buffer_items = min(self.buffer_items + n, self.settings.memory_capacity)
        return pieces

    def flush_chunk(self) -> None:
        """Add collected transitions now."""
        for piece in self._drain_chunk():
            self.replay = self.add_fn(self.replay, piece)

    def episode_loss(self) -> tuple[float, int]:
        """The average loss and number of updates since the last call."""
        updates = self.updates
        avg = float(self.loss_sum) / updates if updates else 0.0
        self.loss_sum, self.updates = jnp.zeros((), jnp.float32), 0
        return avg, updates

    def set_learning_rate(self, lr: float) -> None:
        self.learner = self.learner._replace(opt_state=learner.set_learning_rate(self.learner.opt_state, lr))

    # ------------------------------------------------------------------ checkpoints
    def params_finite(self) -> bool:
        return bool(learner.all_finite(self.learner.params))

    def replay_for_saving(self):
        """Replay with everything collected and every pending priority written in."""
        self.flush_chunk()
        self.replay = self.flush_fn(self.replay, self.pending)
        self.pending = None
        return self.replay

    def state(self) -> dict:
        return {"learner": self.learner, "key": self.key}

    def load(self, state: dict, replay=None, buffer_items: int = 0, saved_width: int = 0) -> None:
        """Continue from a checkpoint's state (and replay, stored at ``saved_width``)."""
        self.learner, self.key = state["learner"], state["key"]
        if replay is not None:
            self.replay, self.buffer_items = replay, buffer_items
            if saved_width != self.rows_width:
                self.widen(max(saved_width, self.rows_width))
