"""Training compiled end to end: acting, game steps, replay and updates inside one jitted program.

One carried :class:`RunnerState` holds everything a run is (learner, replay, the games,
their current observations, per-game episode statistics, schedules, counters, key). An
*iteration* plays ``S`` steps of all ``num_envs`` games (``lax.scan`` over steps,
``jax.vmap`` over games), adds their ``S * num_envs`` transitions to replay and makes ``U``
updates, where ``S * num_envs = U * train_every``: the reference's ratio of one update per
``train_every`` transitions, kept for any number of games. A *chunk* runs iterations in a
``lax.while_loop`` until an episode count or an iteration budget is reached, so the host
only logs, checkpoints and watches for Ctrl+C between chunks.

Semantics, as in the host trainer: epsilon-greedy over the actions plus the no-op; epsilon
decays after every finished episode and the learning rate after every finished episode
that trained; updates start once replay holds a batch; the target network is copied when
an update finds ``target_update_freq`` game steps passed since the previous update's
period; an episode cut at ``max_turns_per_episode`` is not terminal (its last transition
bootstraps). What differs is the phase: an iteration's updates come after its transitions.

The shape-free hyperparameters (:class:`~jaxdqn.core.hyperparameters.Hyperparameters`) are each
agent's own values in its state, so agents stacked or vmapped together may differ in them (a sweep);
the clock holds the target period, one for all agents or one each.

An MLP's observations are stored as row lists (see :class:`~jaxdqn.core.types.RowsObservation`): by
default as long as the board, so none overflows (:func:`~jaxdqn.core.rows.chosen_rows_width`); with a
narrower ``Settings.rows_width``, a board with more occupied cells sets ``overflow`` and ends the chunk,
and the caller reruns the chunk with wider lists.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.core import learner
from jaxdqn.core.acting import epsilon_greedy
from jaxdqn.core.hyperparameters import Hyperparameters
from jaxdqn.core.learner import LearnerState, PendingPriorities
from jaxdqn.core.member_loops import any_member, keep_where, member_runs
from jaxdqn.core.networks import Network
from jaxdqn.core.rows import chosen_rows_width, to_stored
from jaxdqn.core.schedules import decayed_epsilon, decayed_learning_rate, target_copy_due
from jaxdqn.core.settings import Settings
from jaxdqn.core.types import Transition, example_transition
from jaxdqn.jaxgames.protocol import JaxGame, replace_marked, step_and_reset_games


class EpisodeRecords(NamedTuple):
    """Finished episodes, in order: the first ``count`` entries are filled."""

    reward: jax.Array  # float32 [R]
    length: jax.Array  # int32 [R]
    loss: jax.Array  # float32 [R]: average loss of the episode's updates (0 without updates)
    epsilon: jax.Array  # float32 [R]: epsilon once the episode ended (decayed for it)
    count: jax.Array  # int32


class Clock(NamedTuple):
    """Counters every agent of a run shares (they all play the same number of steps): what decides
    when updates start and when the target network is copied, outside ``vmap`` so those decisions
    stay real branches. The target fields are scalars, or ``[agents]`` when stacked agents have
    target periods of their own (a sweep over ``target_update_freq``)."""

    added: jax.Array  # int32: transitions each agent has added to replay (saturating)
    period: jax.Array  # int32: game steps // target_update_freq
    phase: jax.Array  # int32: game steps % target_update_freq
    last_update_period: jax.Array  # int32: ``period`` at the last update (-1 before the first)
    target_update_freq: jax.Array  # int32: game steps between target copies (config, not progress)


class RunnerState(NamedTuple):
    """One agent: its learner, replay, games and statistics."""

    learner: LearnerState
    replay: Any
    pending: PendingPriorities
    has_pending: jax.Array  # bool: ``pending`` holds the last update's priorities
    games: Any  # the game states, leading axis num_envs
    obs: Any  # their current observations, in the stored form
    ep_reward: jax.Array  # float32 [num_envs]
    ep_length: jax.Array  # int32 [num_envs]
    ep_loss: jax.Array  # float32 [num_envs]: loss summed over updates during the episode
    ep_updates: jax.Array  # int32 [num_envs]
    epsilon: jax.Array  # float32
    learning_rate: jax.Array  # float32 (also in the optimizer's state)
    episodes: jax.Array  # int32: finished episodes
    key: jax.Array
    records: EpisodeRecords
    overflow: jax.Array  # bool: a board had more occupied cells than the row lists hold
    hyper: Hyperparameters  # this agent's shape-free hyperparameters (config, not progress)


def _append(records: EpisodeRecords, ended, reward, length, loss, epsilon) -> EpisodeRecords:
    slot = jnp.where(ended, records.count + jnp.cumsum(ended) - 1, records.reward.shape[0])
    return EpisodeRecords(records.reward.at[slot].set(reward, mode="drop"),
                          records.length.at[slot].set(length, mode="drop"),
                          records.loss.at[slot].set(loss, mode="drop"),
                          records.epsilon.at[slot].set(epsilon, mode="drop"),
                          records.count + jnp.sum(ended))


class Runner(NamedTuple):
    """The compiled loop's pure functions for one game, network and settings."""

    init: Any  # (key, shard=0, hyper=None) -> RunnerState (one agent; hyper: the settings' by default)
    run_chunk: Any  # (agent or stacked agents, clock, target_episodes, max_iterations, one_at_a_time=False)
    #   -> (agents, clock, iterations)
    updates: Any  # (agent, key, n) -> agent: n updates on its replay, no game played (the update's own cost)
    settings: Settings  # with rows_width made concrete
    records: int  # capacity of the episode records
    init_clock: Any  # (target_update_freq=None) -> Clock: the settings' period, or a scalar or [agents] of them


def make_runner(game: JaxGame, network: Network, settings: Settings, records: int, data_axis: str | None = None,
                data_shards: int = 1, mesh_axes: tuple = ()) -> Runner:
    """Bind a game, a network and settings into ``init`` (one agent) and ``run_chunk`` (agents stacked on
    a leading axis, each with its own seed; pure and jittable). ``records`` bounds the episodes one chunk
    may finish.

    Inside ``shard_map`` (see :mod:`jaxdqn.core.sharding`): with ``data_axis``, each of the
    ``data_shards`` devices along it holds ``1 / data_shards`` of every agent's games, replay and batch,
    gradients are averaged over it (parameters stay identical) and finished episodes are counted over it;
    ``mesh_axes`` are all the mesh's axes, over which a chunk's end is decided.
    """
    spec = network.spec
    s = settings if settings.rows_width is not None else settings._replace(rows_width=default_rows_width(game, network))
    n = s.num_envs // data_shards  # this device's games
    batch_size, capacity = s.batch_size // data_shards, s.memory_capacity // data_shards
    steps, updates = s.steps_per_iteration, s.updates_per_iteration
    pool = -(-n // 16)  # ended games whose fresh boards are made into row lists at a time
    buffer = s.buffer(capacity, stride=n)  # a step adds one transition per game

    def optimizer(hyper: Hyperparameters):
        return learner.make_optimizer(hyper.learning_rate, hyper.max_grad_norm)

    def learning(hyper: Hyperparameters):
        """The sampling buffer and update for an agent's hyperparameters (traced values, closed over in the
        trace: the optimizer's and buffer's states do not depend on them)."""
        return (s.buffer(capacity, stride=n, gamma=hyper.gamma),
                learner.make_update(network, optimizer(hyper), hyper.gamma, None, s.double_dqn, jit=False,
                                    axis_name=data_axis, huber_delta=hyper.huber_delta))

    def over_data(x):
        return jax.lax.psum(x, data_axis) if data_axis else x

    def init(key, shard=0, hyper: Hyperparameters | None = None) -> RunnerState:
        """One agent (its share of games and replay on data shard ``shard``: the same network, other games),
        with ``hyper`` (default: the settings' values)."""
        hyper = Hyperparameters.from_settings(s) if hyper is None else hyper
        init_key, game_key, run_key = jax.random.split(key, 3)
        if data_axis:
            game_key, run_key = jax.random.fold_in(game_key, shard), jax.random.fold_in(run_key, shard)
        games, obs = jax.vmap(game.reset)(jax.random.split(game_key, n))
        stored, overflow = to_stored(obs, spec, s.rows_width)
        example = example_transition(jax.tree.map(lambda x: x[0], stored), ended=s.n_step > 1)
        params = network.init(init_key)
        state = LearnerState(params, params, optimizer(hyper).init(params), jnp.zeros((), jnp.int32))
        zeros_f, zeros_i = jnp.zeros((n,), jnp.float32), jnp.zeros((n,), jnp.int32)
        return RunnerState(
            state, buffer.init(example),
            PendingPriorities(jnp.zeros((batch_size,), jnp.int32), jnp.zeros((batch_size,), jnp.float32)),
            jnp.bool_(False), games, stored, zeros_f, zeros_i, zeros_f, zeros_i,
            jnp.float32(hyper.epsilon), jnp.float32(hyper.learning_rate), jnp.int32(0), run_key,
            EpisodeRecords(jnp.zeros((records,), jnp.float32), jnp.zeros((records,), jnp.int32),
                           jnp.zeros((records,), jnp.float32), jnp.zeros((records,), jnp.float32), jnp.int32(0)),
            overflow, hyper)

    acting_fields = ("games", "obs", "ep_reward", "ep_length", "ep_loss", "ep_updates", "epsilon", "learning_rate",
                     "episodes", "records", "overflow")

    def restarted(obs, ended, final):
        """The stored form of the games' observations after a step: ``final`` (the step's, stored) where a game
        goes on, the fresh game's where it ended. Only the ended games' boards are converted to row lists,
        ``pool`` at a time (turning a board into a list costs about as much as the rest of a game's step)."""
        if not s.rows_width:
            return obs, jnp.bool_(False)

        def convert(take):  # the boards' lists, and for each whether its pool overflowed
            made, overflow = to_stored(jax.tree.map(lambda x: x[take], obs), spec, s.rows_width)
            return made, jnp.broadcast_to(overflow, take.shape)

        stored, overflow = replace_marked(ended, pool, convert, (final, jnp.zeros((n,), bool)))
        return stored, jnp.any(overflow)

    def game_step(params, hyper: Hyperparameters, a: dict, key):
        """One step of every game; ``a`` holds only the fields acting changes (a scan over the whole state
        would carry replay and learner through every step)."""
        act_key, env_key = jax.random.split(key)
        actions = epsilon_greedy(act_key, network.apply(params, a["obs"]), a["epsilon"])
        cut = a["ep_length"] + 1 >= s.max_turns_per_episode
        out = step_and_reset_games(game, a["games"], actions, jax.random.split(env_key, n), cut)
        ended = out.done | cut
        final, overflow = to_stored(out.final_obs, spec, s.rows_width)
        current, fresh_overflow = restarted(out.obs, ended, final)
        transition = Transition(a["obs"], actions, out.reward.astype(jnp.float32), final, out.done,
                                ended=ended if s.n_step > 1 else None)
        reward, length = a["ep_reward"] + out.reward, a["ep_length"] + 1
        loss = jnp.where(a["ep_updates"] > 0, a["ep_loss"] / jnp.maximum(a["ep_updates"], 1), 0.0)
        finished = over_data(jnp.sum(ended))
        trained = over_data(jnp.sum(ended & (a["ep_updates"] > 0)))
        keep = ~ended
        epsilon = decayed_epsilon(a["epsilon"], finished, hyper.epsilon_decay, hyper.epsilon_min, jnp.maximum)
        a = dict(
            games=out.state, obs=current,
            ep_reward=jnp.where(keep, reward, 0.0), ep_length=jnp.where(keep, length, 0),
            ep_loss=jnp.where(keep, a["ep_loss"], 0.0), ep_updates=jnp.where(keep, a["ep_updates"], 0),
            epsilon=epsilon,
            learning_rate=decayed_learning_rate(a["learning_rate"], trained, hyper.learning_rate_decay),
            episodes=a["episodes"] + finished, records=_append(a["records"], ended, reward, length, loss, epsilon),
            overflow=a["overflow"] | overflow | fresh_overflow)
        return a, transition

    def train_once(r: RunnerState, key, runs=True) -> tuple[RunnerState, None]:
        """One update; where ``runs`` is False the learner and replay keep what they hold (see
        :mod:`jaxdqn.core.member_loops`): selected here, inside the update's own elementwise passes, rather
        than by a pass of its own over every agent's weights and optimizer state after each iteration."""
        state = r.learner._replace(opt_state=learner.set_learning_rate(r.learner.opt_state, r.learning_rate))
        sampling, update_fn = learning(r.hyper)
        replay = buffer.update(r.replay, r.pending.indices, r.pending.abs_td, r.has_pending & runs)
        batch, indices, weights = sampling.sample(replay, key, batch_size)
        state, metrics = update_fn(state, batch, weights)
        return r._replace(learner=keep_where(runs, state, r.learner), replay=replay,
                          pending=PendingPriorities(indices, metrics.abs_td), has_pending=jnp.bool_(True),
                          ep_loss=r.ep_loss + metrics.loss, ep_updates=r.ep_updates + 1), None

    def train(r: RunnerState, sync, key, runs) -> RunnerState:
        copies = sync & runs

        def copy(x: LearnerState) -> LearnerState:  # where it copies: several agents or runs may differ in it
            return x._replace(target_params=jax.tree.map(lambda p, t: jnp.where(copies, p, t), x.params,
                                                         x.target_params))
        r = r._replace(learner=jax.lax.cond(any_member(copies), copy, lambda x: x, r.learner))
        return jax.lax.scan(lambda r, k: train_once(r, k, runs), r, jax.random.split(key, updates))[0]

    def iteration(r: RunnerState, train_now: bool, sync, runs) -> RunnerState:
        """One agent's iteration; its updates happen when ``train_now`` (a Python bool: warm-up iterations,
        before replay holds a batch, are a loop of their own, so no branch copies the state). Replay and the
        learner change only where ``runs``; the caller keeps the rest of the old state where it does not."""
        key, step_key, update_key = jax.random.split(r.key, 3)
        params = r.learner.params
        acting, transitions = jax.lax.scan(lambda a, k: game_step(params, r.hyper, a, k),
                                           {f: getattr(r, f) for f in acting_fields}, jax.random.split(step_key, steps))
        flat = jax.tree.map(lambda x: x.reshape((steps * n,) + x.shape[2:]), transitions)
        r = r._replace(key=key, replay=buffer.add(r.replay, flat, runs), **acting)
        return train(r, sync, update_key, runs) if train_now else r

    def tick(clock: Clock) -> tuple[Clock, jax.Array]:
        """The clock after an iteration's transitions, and whether its first update copies the target first
        (``target_update_freq`` game steps passed since the last update's period)."""
        phase = clock.phase + steps * s.num_envs
        added = jnp.minimum(clock.added + steps * s.num_envs, 1 << 30)
        period = clock.period + phase // clock.target_update_freq
        can_train = added >= s.batch_size
        sync = can_train & target_copy_due(period, clock.last_update_period)
        last = jnp.where(can_train, period, clock.last_update_period)
        return Clock(added, period, phase % clock.target_update_freq, last, clock.target_update_freq), sync

    def init_clock(target_update_freq=None) -> Clock:
        freq = jnp.asarray(s.target_update_freq if target_update_freq is None else target_update_freq, jnp.int32)
        zeros = jnp.zeros_like(freq)
        return Clock(jnp.int32(0), zeros, zeros, zeros - 1, freq)

    def run_chunk(agents: RunnerState, clock: Clock, target_episodes, max_iterations, one_at_a_time: bool = False):
        """Iterate every agent until each has finished ``target_episodes``, or ``max_iterations`` ran, or a
        board overflowed the row lists: ``(agents, clock, iterations run)``. Records start empty.

        ``agents`` is one agent as ``init`` makes it, or several stacked on a leading axis (``vmap`` of
        ``init``); a single agent is kept without that axis, so its scatters and gathers carry no batch
        dimension and its buffers are updated in place. Stacked agents iterate in lockstep, all of them as
        many iterations as the one with fewest episodes needs; ``one_at_a_time`` (a Python bool) runs those
        same iterations agent after agent (``jax.lax.map``) instead of all agents' together (``vmap``): on a
        CPU each agent's weights and optimizer state then stay in cache across its iterations, and each
        agent runs the kernels of a run of its own.

        Under ``jax.vmap`` (runs side by side: ``jax.vmap(make_train(...))``), each run stops on its own
        while the loop goes on for the others, without copying any buffer (:mod:`jaxdqn.core.member_loops`)."""
        agents = agents._replace(records=agents.records._replace(count=jnp.zeros_like(agents.records.count)))
        if mesh_axes:  # each process sizes its chunks by its own clock; every device must run the same count
            max_iterations = jax.lax.pmin(max_iterations, mesh_axes)

        def wants_more(carry):  # this run's own condition (every stacked agent's together)
            agents, _, done = carry
            fewest, overflow = jnp.min(agents.episodes), jnp.any(agents.overflow)
            if mesh_axes:
                fewest = jax.lax.pmin(fewest, mesh_axes)
                overflow = jax.lax.pmax(overflow.astype(jnp.int32), mesh_axes) > 0
            return (fewest < target_episodes) & (done < max_iterations) & ~overflow

        if one_at_a_time and agents.episodes.ndim > 0 and not mesh_axes:
            return _apart(agents, clock, wants_more)
        return _iterate(wants_more, (agents, clock, jnp.int32(0)))

    def _iterate(wants, carry):
        """Iterations while ``wants(carry)``: those that end before replay holds a batch (no updates), then
        the rest, each a loop of its own."""
        def warming(carry):  # ... and the next iteration ends before replay holds a batch
            return wants(carry) & (carry[1].added + steps * s.num_envs < s.batch_size)
        return _loop(wants, True, _loop(warming, False, carry))

    def _loop(wants, train_now: bool, carry):
        batched = carry[0].episodes.ndim > 0
        own_periods = jnp.ndim(carry[1].target_update_freq) > 0  # each agent copies its target when due
        step = (jax.vmap(iteration, in_axes=(0, None, 0 if own_periods else None, None)) if batched
                else iteration)

        def run(carry):
            agents, clock, done = carry
            runs = member_runs(wants(carry))
            ticked, sync = tick(clock)
            stepped = step(agents, train_now, sync, runs)
            # the learner and replay, the large parts, keep their contents inside the iteration
            large = dict(replay=None, learner=None)
            agents, clock, done = keep_where(runs, (stepped._replace(**large), ticked, done + 1),
                                             (agents._replace(**large), clock, done))
            return agents._replace(replay=stepped.replay, learner=stepped.learner), clock, done
        return jax.lax.while_loop(lambda carry: any_member(wants(carry)), run, carry)

    def _apart(agents: RunnerState, clock: Clock, wants_more):
        """Stacked agents' lockstep iterations, one agent after another: each runs until it alone would stop,
        then each catches up to the most any ran, which is where the lockstep loop stops (all agents
        run the same iterations, and their clocks tick alike)."""
        n = agents.episodes.shape[0]
        clocks = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)), clock)  # each agent's copy
        agents, clocks, ran = jax.lax.map(lambda a: _iterate(wants_more, (*a, jnp.int32(0))), (agents, clocks))
        most = jnp.max(ran)

        def behind(carry):  # (a board that overflowed ends the chunk: the caller runs it again, wider)
            return (carry[2] < most) & ~carry[0].overflow
        agents, clocks, _ = jax.lax.map(lambda a: _iterate(behind, a), (agents, clocks, ran))
        return agents, jax.tree.map(lambda x, old: x if jnp.ndim(old) else x[0], clocks, clock), most

    def only_updates(r: RunnerState, key, count):
        return jax.lax.fori_loop(0, count, lambda i, r: train_once(r, jax.random.fold_in(key, i))[0], r)

    return Runner(init, run_chunk, only_updates, s, records, init_clock)


def default_rows_width(game: JaxGame, network: Network) -> int:
    """``Settings.rows_width = None`` made concrete for ``game`` and ``network``: lists as long as the board for
    the built-in MLP over a sparse start board (:func:`~jaxdqn.core.rows.chosen_rows_width`), else 0 (boards;
    a network of your own reads boards)."""
    spec = network.spec
    if not network.builtin or not spec.has_board or spec.spatial:
        return 0
    _, obs = jax.jit(game.reset)(jax.random.PRNGKey(0))
    return chosen_rows_width(spec, int(np.count_nonzero(np.asarray(obs.board))))
