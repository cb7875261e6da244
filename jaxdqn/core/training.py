"""Research API: a whole training run as one pure function, PureJaxRL style.

    from jaxdqn.core import TrainConfig, make_train
    from jaxdqn.jaxgames import snake
    train = jax.jit(make_train(TrainConfig(snake.JAX_GAME, episodes=500)))
    state, metrics = train(jax.random.PRNGKey(0))               # one agent
    states, metrics = jax.jit(jax.vmap(make_train(config)))(keys)  # many agents in one program

``metrics`` holds every episode's reward, length and average loss, in the order they
finished, and ``overflow``: True when a board outgrew ``settings.rows_width`` row lists
(the run is then not the one the settings describe: raise ``rows_width``).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.networks import make_network
from jaxdqn.core.runner import RunnerState, make_runner
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


def game_spec(game: JaxGame, hidden_sizes, spatial: bool = False, dueling: bool = False) -> NetworkSpec:
    """The built-in network's shapes for a JAX game's observations."""
    width, height = game.metadata["board_size"]
    sizes = game.preprocessing.get("observe_state_sizes", {})
    extras = sum(sizes[k] for k in game.preprocessing.get("observe_state", []))
    return NetworkSpec(height, width, len(game.metadata["character_set"]), extras, tuple(hidden_sizes),
                       len(game.metadata["actions"]) + 1, spatial, dueling)


def make_train(config: TrainConfig):
    """``train(key) -> (final RunnerState, metrics)``: pure and jittable, so ``jax.vmap(train)(keys)``
    trains many independent agents in one program.

    Returns:
      ``train``, whose ``metrics`` hold, for the ``config.episodes`` episodes in the order they finished:
      ``episode_reward`` (float32 ``[episodes]``: the sum of the game's rewards), ``episode_length``
      (int32 ``[episodes]``: game steps), ``episode_loss`` (float32 ``[episodes]``: the mean TD loss of
      the updates made during the episode, 0 when none); and ``episodes`` (int32: episodes finished, at
      least ``config.episodes``; games still running when the last one finished stop there) and
      ``overflow`` (bool: a board had more occupied cells than ``settings.rows_width`` row entries, so
      some were dropped; 0 never overflows).
    """
    network = make_network(game_spec(config.game, config.hidden_sizes, dueling=config.dueling), config.network)
    s = config.settings
    runner = make_runner(config.game, network, s, config.episodes + s.steps_per_iteration * s.num_envs)

    def train(key) -> tuple[RunnerState, dict]:
        # one agent on a batch axis of its own: the same (batched) kernels as under jax.vmap(train), so
        # vmapped seeds give exactly what the seeds give one at a time
        agents = jax.tree.map(lambda x: x[None], runner.init(key))
        agents, _, _ = runner.run_chunk(agents, runner.init_clock(), config.episodes, jnp.iinfo(jnp.int32).max)
        state = jax.tree.map(lambda x: x[0], agents)
        n = config.episodes
        metrics = {"episode_reward": state.records.reward[:n], "episode_length": state.records.length[:n],
                   "episode_loss": state.records.loss[:n], "episodes": state.episodes, "overflow": state.overflow}
        return state, metrics

    return train
