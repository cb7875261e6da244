"""Research API: a whole training run as one pure function, PureJaxRL style.

    from jaxdqn.core import TrainConfig, grid, make_train
    from jaxdqn.jaxgames import snake
    train = jax.jit(make_train(TrainConfig(snake.JAX_GAME, episodes=500)))
    state, metrics = train(jax.random.PRNGKey(0))               # one agent
    states, metrics = jax.jit(jax.vmap(make_train(config)))(keys)  # many agents in one program
    hp = grid(config.settings, learning_rate=[1e-4, 3e-4, 1e-3])    # a sweep, in one program too
    states, metrics = jax.jit(jax.vmap(make_train(config)))(keys[:3], hp)

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
