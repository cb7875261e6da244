"""Research API: a whole training run as one pure function, PureJaxRL style.

    from jaxdqn.core import TrainConfig, grid, make_sweep, make_train
    from jaxdqn.jaxgames import snake
    train = jax.jit(make_train(TrainConfig(snake.JAX_GAME, episodes=500)))
    state, metrics = train(jax.random.PRNGKey(0))               # one agent
    states, metrics = jax.jit(jax.vmap(make_train(config)))(keys)  # many agents in one program
    hp = grid(config.settings, learning_rate=[1e-4, 3e-4, 1e-3])    # a sweep, in one program too
    states, metrics = jax.jit(jax.vmap(make_train(config)))(keys[:3], hp)    # a key each
    states, metrics = jax.jit(make_sweep(make_train(config)))(keys[:4], hp)  # every rate x every key, [3, 4]

``metrics`` holds every episode's reward, length and average loss, in the order they
finished, and ``overflow``: True when a board outgrew ``settings.rows_width`` row lists
(only with a width you set; the default never overflows). With
``eval_every``, the agent also plays greedily every that many episodes, inside the same
program (rejax's ``eval_callback`` idea): ``eval_episodes``, ``eval_return``, ``eval_length``,
or what ``eval_callback`` returns.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.evaluation import make_evaluate
from jaxdqn.core.hyperparameters import Hyperparameters
from jaxdqn.core.networks import make_network
from jaxdqn.core.networks.layers import traced_for_the_cpu
from jaxdqn.core.runner import EpisodeRecords, RunnerState, make_runner
from jaxdqn.core.settings import Settings
from jaxdqn.core.types import NetworkSpec
from jaxdqn.jaxgames.protocol import JaxGame


class TrainConfig(NamedTuple):
    game: JaxGame
    settings: Settings = Settings()
    episodes: int = 1000  # train until this many episodes have finished
    hidden_sizes: tuple[int, ...] = (128, 64)
    network: Any = None  # a flax module of your own, else the built-in network
    dueling: bool = False  # the built-in network with a dueling head
    eval_every: int = 0  # episodes between greedy evaluations inside the program; 0: none
    eval_games: int = 32  # games each evaluation plays, greedily, to their end or max_turns_per_episode
    eval_callback: Callable | None = None  # (params, key) -> a pytree of arrays, in place of the greedy games


def game_spec(game: JaxGame, hidden_sizes, spatial: bool = False, dueling: bool = False) -> NetworkSpec:
    """The built-in network's shapes for a JAX game's observations."""
    width, height = game.metadata["board_size"]
    sizes = game.preprocessing.get("observe_state_sizes", {})
    extras = sum(sizes[k] for k in game.preprocessing.get("observe_state", []))
    return NetworkSpec(height, width, len(game.metadata["character_set"]), extras, tuple(hidden_sizes),
                       len(game.metadata["actions"]) + 1, spatial, dueling)


def make_train(config: TrainConfig):
    """``train(key, hyperparameters=None) -> (final RunnerState, metrics)``: pure and jittable, so
    ``jax.vmap(train)(keys)`` trains many independent agents in one program, and
    ``jax.vmap(train)(keys, hyperparameters)`` a sweep (:class:`Hyperparameters` with a leading axis, such as
    :func:`~jaxdqn.core.hyperparameters.grid` makes; without them, ``config.settings``' values).

    Returns:
      ``train``, whose ``metrics`` hold, for the ``config.episodes`` episodes in the order they finished:
      ``episode_reward`` (float32 ``[episodes]``: the sum of the game's rewards), ``episode_length``
      (int32 ``[episodes]``: game steps), ``episode_loss`` (float32 ``[episodes]``: the mean TD loss of
      the updates made during the episode, 0 when none); and ``episodes`` (int32: episodes finished, at
      least ``config.episodes``; games still running when the last one finished stop there) and
      ``overflow`` (bool: a board had more occupied cells than ``settings.rows_width`` row entries, so
      some were dropped; the default, None, and 0 never overflow). With ``config.eval_every = N``, one
      evaluation each time another N episodes have finished (``K = episodes // N`` of them):
      ``eval_episodes`` (int32 ``[K]``: episodes finished when it ran, at least N, 2N, ...), and
      ``eval_return`` and ``eval_length`` (float32 ``[K]``: the mean return and length of ``eval_games``
      greedy games), or, with ``eval_callback``, ``eval``: what it returned, stacked ``[K, ...]``.
      Evaluating draws no randomness from training, so the episodes are the same with it or without.
    """
    network = make_network(game_spec(config.game, config.hidden_sizes, dueling=config.dueling), config.network)
    runner = make_runner(config.game, network, config.settings,
                         config.episodes + config.settings.steps_per_iteration * config.settings.num_envs)
    s = runner.settings  # rows_width chosen
    evaluations = config.episodes // config.eval_every if config.eval_every > 0 else 0
    evaluate = (config.eval_callback or _greedy_means(make_evaluate(
        config.game, network, s.rows_width, config.eval_games, s.max_turns_per_episode))) if evaluations else None
    never = jnp.iinfo(jnp.int32).max

    def train(key, hyperparameters: Hyperparameters | None = None) -> tuple[RunnerState, dict]:
        hyper = Hyperparameters.from_settings(s) if hyperparameters is None else hyperparameters
        # one agent on a batch axis of its own: the same (batched) kernels as under jax.vmap(train), so
        # vmapped seeds give exactly what the seeds give one at a time
        agents = jax.tree.map(lambda x: x[None], runner.init(key, hyper=hyper))
        clock = runner.init_clock(hyper.target_update_freq)
        records = jax.tree.map(lambda x: x[0], agents.records)
        metrics = {}
        if evaluations:
            def period(carry, k):
                agents, clock, records = carry
                agents, clock, _ = runner.run_chunk(agents, clock, (k + 1) * config.eval_every, never)
                records = _extend(records, jax.tree.map(lambda x: x[0], agents.records))
                params = jax.tree.map(lambda x: x[0], agents.learner.params)
                result = evaluate(params, jax.random.fold_in(jax.random.fold_in(key, EVAL_STREAM), k))
                return (agents, clock, records), (agents.episodes[0], result)

            (agents, clock, records), (when, results) = jax.lax.scan(
                period, (agents, clock, records), jnp.arange(evaluations))
            metrics = {"eval_episodes": when, **(results if config.eval_callback is None else {"eval": results})}
        agents, _, _ = runner.run_chunk(agents, clock, config.episodes, never)  # the rest, if any
        state = jax.tree.map(lambda x: x[0], agents)
        records = _extend(records, state.records) if evaluations else state.records
        n = config.episodes
        metrics = {"episode_reward": records.reward[:n], "episode_length": records.length[:n],
                   "episode_loss": records.loss[:n], "episodes": state.episodes, "overflow": state.overflow,
                   **metrics}
        return state._replace(records=records), metrics

    return train


def make_sweep(train: Callable, at_once: int | str = "auto"):
    """``sweep(keys, hyperparameters) -> (states, metrics)``: ``train`` (as :func:`make_train` makes it) for every
    configuration of ``hyperparameters`` (:class:`Hyperparameters` with a leading axis of ``C``, as
    :func:`~jaxdqn.core.hyperparameters.grid` makes) with every key of ``keys`` (``[S]``), in one program.
    Pure and jittable; every leaf of the result is ``[C, S, ...]``.

    Args:
      train: ``train(key, hyperparameters) -> (state, metrics)`` for one agent.
      at_once: how many agents train side by side. ``"all"``: all ``C * S`` (``jax.vmap``), the most work
        per step, for a device with room for it (a GPU); agents that finish their episodes first wait for
        the last. ``K``: ``K`` at a time, group after group (``jax.lax.map`` over groups of ``K``, vmapped
        within a group, the last group what is left); an agent waits only for its group, and only ``K``
        agents' weights and optimizer states are worked on at once: on a CPU, where one agent's stay in
        cache and many agents' do not, 1 is the fastest. ``"auto"``: 1 where the program is traced for a
        CPU (``jax.default_device``, else the default backend), else ``"all"``.

    Returns:
      ``sweep``. Agent ``(c, s)`` plays the episodes ``train(keys[s], hyperparameters[c])`` plays alone, up
      to float rounding (batched programs may sum in another order; over long runs that can flip an action).
    """
    if at_once not in ("auto", "all") and (isinstance(at_once, bool) or not isinstance(at_once, int) or at_once < 1):
        raise ValueError(f"at_once: {at_once!r} is not a number of agents; give a positive int, 'all' or 'auto'")

    def sweep(keys, hyperparameters: Hyperparameters):
        configurations, seeds = jax.tree.leaves(hyperparameters)[0].shape[0], keys.shape[0]
        size = agents_at_once(at_once)
        if size == "all" or size >= configurations * seeds:
            return jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0))(keys, hyperparameters)
        flat_keys = jnp.tile(keys, (configurations,) + (1,) * (keys.ndim - 1))  # agent c * S + s: key s ...
        flat_hyper = jax.tree.map(lambda x: jnp.repeat(x, seeds, axis=0), hyperparameters)  # ... configuration c
        out = _in_groups(lambda agent: train(*agent), (flat_keys, flat_hyper), configurations * seeds, size)
        return jax.tree.map(lambda x: x.reshape(configurations, seeds, *x.shape[1:]), out)

    return sweep


def agents_at_once(at_once: int | str) -> int | str:
    """What :func:`make_sweep`'s ``at_once`` means for a program traced now: ``"auto"`` made concrete (1 for
    a CPU, else ``"all"``); a number or ``"all"`` as given."""
    return (1 if traced_for_the_cpu() else "all") if at_once == "auto" else at_once


def _in_groups(f, xs, n: int, size: int):
    """``jax.lax.map(f, xs, batch_size=size)`` for ``n`` items, written out: that reshapes with a -1, which
    fails on the zero-size arrays a run's state can hold (a game without extras)."""
    if size == 1:
        return jax.lax.map(f, xs)
    whole = n - n % size
    groups = jax.tree.map(lambda x: x[:whole].reshape(whole // size, size, *x.shape[1:]), xs)
    out = jax.tree.map(lambda x: x.reshape(whole, *x.shape[2:]), jax.lax.map(jax.vmap(f), groups))
    if whole == n:
        return out
    rest = jax.vmap(f)(jax.tree.map(lambda x: x[whole:], xs))
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, rest)


EVAL_STREAM = 0x5EED  # evaluation keys: fold_in(fold_in(key, EVAL_STREAM), k), apart from training's splits


def _greedy_means(evaluate):
    def means(params, key):
        rewards, lengths = evaluate(params, key)
        return {"eval_return": rewards.mean(), "eval_length": lengths.astype(jnp.float32).mean()}
    return means


def _extend(total: EpisodeRecords, chunk: EpisodeRecords) -> EpisodeRecords:
    """``total`` followed by the episodes one chunk recorded (each chunk's records start empty)."""
    capacity = total.reward.shape[0]
    slots = jnp.arange(chunk.reward.shape[0])
    where = jnp.where(slots < chunk.count, total.count + slots, capacity)  # past the end: dropped
    return EpisodeRecords(*(t.at[where].set(c, mode="drop") for t, c in zip(total[:-1], chunk[:-1])),
                          total.count + chunk.count)
