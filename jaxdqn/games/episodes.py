"""One greedy episode of a retro game, the loop behind ``jaxdqn eval`` and ``jaxdqn play``."""
from __future__ import annotations

from typing import Callable, NamedTuple

from jaxdqn.core.types import Observation
from jaxdqn.games.env import GameEnv


class EpisodeOutcome(NamedTuple):
    reward: float  # the sum of the per-turn rewards (the change of the reward value)
    turns: int
    final_value: float  # the game's reward value at the end
    game_over: bool  # False when cut off by max_turns or stopped


def run_episode(env: GameEnv, choose: Callable[[Observation], int], max_turns: int | None = None,
                on_turn: Callable[[int, int, float], bool] | None = None,
                on_start: Callable[[object], None] | None = None) -> EpisodeOutcome:
    """Play one episode of ``env`` choosing actions with ``choose(observation)``.

    ``on_start(game)`` runs once the game exists; ``on_turn(turn, action, reward)`` after each
    turn, and returning True from it ends the episode there (a user quitting).
    """
    obs = env.reset()
    if on_start is not None:
        on_start(env.game)
    total, turns, done = 0.0, 0, False
    while not done and (max_turns is None or turns < max_turns):
        action = choose(obs)
        obs, reward, done = env.step(action)
        total += reward
        turns += 1
        if on_turn is not None and on_turn(turns, action, reward):
            break
    return EpisodeOutcome(total, turns, float(env.game.state[env.reward_key]), done)
