"""gymnax environments as :class:`~jaxdqn.jaxgames.protocol.JaxGame`\\ s, for the research API.

A gymnax environment with discrete actions and an array observation becomes a game whose
observation is all extras (no board): the network is an MLP over the flattened observation.
``reset`` and ``step`` are gymnax's ``reset_env`` and ``step_env``, which never reset by themselves,
as the protocol asks (``step_and_reset`` replaces a finished game). jaxdqn adds a no-op to a
game's actions; here the environment's last action plays that part, so the network has exactly
the environment's actions and action ``k`` is the environment's action ``k``.

gymnax's ``step_env`` reports termination only; an environment's time limit
(``params.max_steps_in_episode``) is a cut, not a game over: give it to the loop as
``Settings(max_turns_per_episode=...)``, which ends the episode there and bootstraps its last target.

Such a game has no retro twin, so it trains with :func:`jaxdqn.core.make_train` (and
``make_runner``) rather than from a run directory. gymnax itself is only needed to make the
environment: ``pip install -e ".[gymnax]"``.
"""
from __future__ import annotations

import math

import jax.numpy as jnp

from jaxdqn.core.types import Observation
from jaxdqn.jaxgames.protocol import JaxGame

OBSERVATION = "observation"  # the one observe_state entry: the environment's observation, flattened


def from_gymnax(env, params=None, name: str | None = None) -> JaxGame:
    """``env`` (a gymnax ``Environment``) with ``params`` (default: its own) as a :class:`JaxGame`.

    Args:
      env: a gymnax environment with a discrete action space.
      params: its parameters; ``env.default_params`` when None.
      name: the game's name; the environment's own by default.

    Returns:
      A ``JaxGame`` whose observations are ``Observation(board [0, 0], extras [obs size])``, with float32
      rewards and bool ``done`` as gymnax reports them.
    """
    params = env.default_params if params is None else params
    space = env.action_space(params)
    if not hasattr(space, "n"):
        raise ValueError(f"{name or env.name} has a {type(space).__name__} action space; a DQN needs discrete "
                         "actions (a gymnax Discrete space)")
    actions = int(space.n)
    size = math.prod(env.observation_space(params).shape)

    def observe(obs) -> Observation:
        return Observation(jnp.zeros((0, 0), jnp.uint8), jnp.asarray(obs, jnp.float32).reshape(size))

    def reset(key):
        obs, state = env.reset_env(key, params)
        return state, observe(obs)

    def step(state, action, key):
        obs, state, reward, done, _ = env.step_env(key, state, action, params)
        return state, observe(obs), jnp.asarray(reward, jnp.float32), jnp.asarray(done, jnp.bool_)

    metadata = {"actions": [f"action_{k}" for k in range(actions - 1)], "reward": "reward", "character_set": [],
                "board_size": [0, 0]}
    preprocessing = {"observe_state": [OBSERVATION], "observe_state_sizes": {OBSERVATION: size}}
    return JaxGame(name or env.name, reset, step, metadata, preprocessing, retro_module="")
