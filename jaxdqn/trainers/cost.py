"""What training a game will cost on this machine, measured in seconds before anyone waits hours.

A CNN's update is most of a spatial game's step, so ``jaxdqn create`` times a few of them
(compiled as the host loop compiles them), one greedy action and some random play of the game,
and turns that into steps/s, the time the configured episodes need and settings that finish in
minutes.
"""
from __future__ import annotations

import math
import random
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdqn.core.learner import init_learner, make_optimizer, make_train_step
from jaxdqn.core.networks import make_network
from jaxdqn.core.replay import make_prioritized_buffer
from jaxdqn.core.types import NetworkSpec, Observation, Transition, example_transition
from jaxdqn.games.env import GameEnv

FILL = 256  # transitions in the timing buffer: sampling's cost hardly depends on it
FINISH_SECONDS = 600  # "settings that finish": about ten minutes here


class Cost(NamedTuple):
    update_s: float  # one update of batch_size (sample + learn + priorities)
    action_s: float  # one greedy action (a forward pass of batch 1)
    game_step_s: float  # one game step with its encoding
    episode_steps: float  # mean length of random episodes (trained agents often last longer)

    def steps_per_s(self, train_every: int) -> float:
        """Game steps per second with one update every ``train_every`` steps (every action greedy: a floor)."""
        return 1.0 / (self.update_s / train_every + self.action_s + self.game_step_s)

    def seconds(self, episodes: int, train_every: int) -> float:
        return episodes * self.episode_steps / self.steps_per_s(train_every)


def measure(spec: NetworkSpec, env: GameEnv, *, batch_size: int, repeats: int = 5, episodes: int = 5,
            max_turns: int = 2_000, seed: int = 0) -> Cost:
    """Times ``repeats`` updates of a network that reads whole boards (a CNN; after one call to
    compile), ``repeats`` greedy actions and ``episodes`` random episodes of ``env`` (each cut at
    ``max_turns``)."""
    rng = np.random.default_rng(seed)
    net = make_network(spec)
    opt = make_optimizer(1e-4)
    buffer = make_prioritized_buffer(FILL)
    step = make_train_step(net, opt, buffer, batch_size=batch_size, target_update_period=None)
    learner = init_learner(jax.random.PRNGKey(seed), net, opt)
    example = example_transition(jax.tree.map(lambda x: x[0], _transitions(spec, rng, 1).obs))
    state = jax.jit(buffer.add)(buffer.init(example), _transitions(spec, rng, FILL))
    pending = None

    def update(i):
        nonlocal learner, state, pending
        learner, state, metrics, pending = step(learner, state, jax.random.PRNGKey(i), None, pending)
        metrics.loss.block_until_ready()

    act = jax.jit(lambda params, obs: jnp.argmax(net.apply(params, obs), -1))
    one = _transitions(spec, rng, 1).obs
    return Cost(update_s=_median_s(update, repeats),
                action_s=_median_s(lambda _: act(learner.params, one).block_until_ready(), repeats),
                **_random_play(env, episodes, max_turns, random.Random(seed)))


def _median_s(fn: Callable[[int], None], repeats: int) -> float:
    fn(0)  # compiles
    times = []
    for i in range(1, repeats + 1):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _transitions(spec: NetworkSpec, rng: np.random.Generator, n: int) -> Transition:
    def obs():
        shape = (n, *spec.board_shape)
        board = rng.integers(0, spec.num_channels + 1, shape) * (rng.random(shape) < 0.1)
        return Observation(jnp.asarray(board, jnp.uint8), jnp.asarray(rng.random((n, spec.num_extras)), jnp.float32))

    return Transition(obs=obs(), action=jnp.asarray(rng.integers(0, spec.num_actions, n), jnp.int32),
                      reward=jnp.asarray(rng.random(n), jnp.float32), next_obs=obs(),
                      done=jnp.zeros(n, jnp.bool_))


def _random_play(env: GameEnv, episodes: int, max_turns: int, rng: random.Random) -> dict:
    steps = 0
    start = time.perf_counter()
    for _ in range(episodes):
        env.reset()
        for _ in range(max_turns):
            steps += 1
            if env.step(rng.randrange(env.num_actions))[2]:
                break
    return {"game_step_s": (time.perf_counter() - start) / steps, "episode_steps": steps / episodes}


def finishing_settings(cost: Cost, train_every: int, limit_s: float = FINISH_SECONDS) -> tuple[int, int]:
    """``(train_every, training_episodes)`` that finish in about ``limit_s``: updates 4x sparser than
    ``train_every`` (at least 16), and the episodes that fit, in hundreds (at least 100)."""
    sparser = max(16, 4 * train_every)
    episodes = limit_s * cost.steps_per_s(sparser) / cost.episode_steps
    return sparser, max(100, int(math.floor(episodes / 100) * 100))


def describe_cost(cost: Cost, *, train_every: int, episodes: int) -> list[str]:
    """Lines for ``jaxdqn create``: the measurements, the configured run's time, settings that finish."""
    rate = cost.steps_per_s(train_every)
    sparser, short = finishing_settings(cost, train_every)
    return [f"one update takes {cost.update_s * 1e3:,.0f} ms here, a greedy action {cost.action_s * 1e3:,.1f} ms, "
            f"a game step {cost.game_step_s * 1e3:,.2f} ms:",
            f"about {rate:,.0f} steps/s with train_every = {train_every}; random episodes last "
            f"{cost.episode_steps:,.0f} steps, so {episodes:,} episodes take at least "
            f"{_duration(cost.seconds(episodes, train_every))}",
            f"settings that finish in minutes: --train-every {sparser} --training-episodes {short} "
            f"(about {cost.steps_per_s(sparser):,.0f} steps/s, {_duration(cost.seconds(short, sparser))})"]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"
