"""The game wrapper: fresh games from a factory, one key press per step, reward = change of a state value."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from jaxdqn.core.types import Observation
from jaxdqn.errors import JaxdqnError
from jaxdqn.games.encoding import ObservationEncoder, start_game


class GameEnv:
    """One retro game, stepped programmatically.

    ``step(action_index)`` presses ``actions[action_index]`` (the last index, ``len(actions)``,
    is the no-op), advances one turn and returns ``(observation, reward, done)``.
    """

    def __init__(self, factory: Callable, actions: list[str], reward_key: str, encoder: ObservationEncoder):
        self.factory = factory
        self.actions = list(actions) + [None]
        self.reward_key = reward_key
        self.encoder = encoder
        self.game = None
        self._last_reward = 0.0

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    def reset(self) -> Observation:
        self.game = start_game(self.factory, headless_view=self.encoder.observation_function is not None)
        self._last_reward = self._reward_value()
        return self.encoder.encode(self.game)

    def step(self, action: int) -> tuple[Observation, float, bool]:
        self.game.input_source.press(self.actions[action])
        self.game.step()
        value = self._reward_value()
        reward, self._last_reward = value - self._last_reward, value
        done = not self.game.playing
        return self.encoder.encode(self.game, last_frame=done), reward, done

    def _reward_value(self) -> float:
        state = self.game.state
        if self.reward_key not in state:
            raise JaxdqnError(
                f"reward = {self.reward_key!r}, but the game's state has no such key; it has {sorted(state)}. "
                "Set reward in [metadata] (or [tool.retro-gamer]) to the state value the agent should increase.")
        value = state[self.reward_key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise JaxdqnError(f"the game's reward value state[{self.reward_key!r}] is {value!r}, which is not a "
                              "number. The reward is the change of a number each turn: fix the game so it keeps "
                              "a number there.") from None
        if not math.isfinite(number):
            raise JaxdqnError(
                f"the game's reward value state[{self.reward_key!r}] became {value!r} on turn "
                f"{self.game.turn_number}: the game produced it, not the training. Fix the game so the value stays "
                "a finite number (check divisions and overflowing sums).")
        return number


def stack(observations: list[Observation]) -> Observation:
    if len(observations) == 1:  # a batch of one is a view, not a copy
        return Observation(observations[0].board[None], observations[0].extras[None])
    return Observation(np.stack([o.board for o in observations]), np.stack([o.extras for o in observations]))


class VectorEnv:
    """Several independent games stepped in lockstep; observations come back as one batch.

    A finished game is not restarted automatically: ``step`` returns its final observation
    (the transition's next state) and the caller decides when to ``reset(i)`` it.
    """

    def __init__(self, envs: list[GameEnv]):
        self.envs = envs

    def __len__(self) -> int:
        return len(self.envs)

    def reset(self, index: int) -> Observation:
        return self.envs[index].reset()

    def step(self, actions) -> tuple[Observation, np.ndarray, np.ndarray]:
        """Step game i with ``actions[i]``; returns (observations [N, ...], rewards [N], dones [N])."""
        results = [env.step(int(a)) for env, a in zip(self.envs, actions)]
        obs, rewards, dones = zip(*results)
        return stack(list(obs)), np.asarray(rewards, np.float64), np.asarray(dones, bool)
