"""The acting loop: retro games stepped in lockstep, epsilon-greedy, every transition into the update pipeline.

Each step draws one explore-or-greedy choice per game from the host's random generator (so
a seed repeats a run exactly), makes one batched greedy call for the games that need it,
steps every game, and hands each transition to the pipeline in the reference's order: an
update point at every ``train_every``-th transition. A stop request ends every game's
episode after the current step, so no played step is lost.
"""
from __future__ import annotations

import random
from typing import Callable

import numpy as np

from jaxdqn.games.env import VectorEnv
from jaxdqn.trainers.schedules import Schedules
from jaxdqn.trainers.stats import EpisodeResult
from jaxdqn.trainers.host_updates import UpdatePipeline
from jaxdqn.core.types import Observation


class HostActors:
    def __init__(self, games: VectorEnv, pipeline: UpdatePipeline, schedules: Schedules,
                 explore: random.Random, hp: dict):
        self.games, self.pipeline, self.schedules, self.explore, self.hp = games, pipeline, schedules, explore, hp
        self.total_steps = 0

    def select_actions(self, stored) -> list[int]:
        """Epsilon-greedy per game (host random numbers), one device call for all greedy choices."""
        actions: list[int | None] = []
        num_actions = self.games.envs[0].num_actions
        for _ in range(stored.extras.shape[0]):
            explore = self.explore.random() < self.schedules.epsilon
            actions.append(self.explore.randrange(num_actions) if explore else None)
        if any(a is None for a in actions):
            greedy = self.pipeline.greedy(stored)
            actions = [int(greedy[i]) if a is None else a for i, a in enumerate(actions)]
        return actions

    def run(self, should_stop: Callable[[], bool], end_episode: Callable[[EpisodeResult, bool], bool]) -> None:
        """Play until ``end_episode(result, stopping)`` returns True."""
        hp, games, pipeline = self.hp, self.games, self.pipeline
        n = len(games)
        encoder = games.envs[0].encoder
        obs = Observation(np.zeros((n,) + encoder.board_shape, np.uint8), np.zeros((n, encoder.num_extras), np.float32))
        stored = None
        fresh = [True] * n
        rewards, turns = [0.0] * n, [0] * n
        pipeline.episode_loss()  # start counting this run's losses from zero
        while True:
            if any(fresh):
                for i in range(n):
                    if fresh[i]:
                        obs.board[i], obs.extras[i] = games.reset(i)
                        fresh[i], rewards[i], turns[i] = False, 0.0, 0
                stored = pipeline.store(obs)
            actions = self.select_actions(stored)
            next_obs, step_rewards, dones = games.step(actions)
            next_stored = pipeline.store(next_obs)
            finished = []
            for i in range(n):
                reward = float(step_rewards[i])
                pipeline.add(stored, next_stored, i, actions[i], reward, bool(dones[i]))
                if self.total_steps % hp["train_every"] == 0:
                    if pipeline.will_train():
                        pipeline.train(sync_target=self.schedules.update_at(self.total_steps))
                    else:
                        pipeline.flush_chunk()
                self.total_steps += 1
                rewards[i] += reward
                turns[i] += 1
                if dones[i] or turns[i] >= hp["max_turns_per_episode"]:
                    finished.append(i)
            obs, stored = next_obs, next_stored
            stopping_now = should_stop()
            if stopping_now:
                finished = [i for i in range(n) if turns[i] > 0]
            for k, i in enumerate(finished):
                avg_loss, updates = pipeline.episode_loss()
                stopping = stopping_now and k == len(finished) - 1
                ended = ("turn_limit" if turns[i] >= hp["max_turns_per_episode"] else "game" if dones[i]
                         else "stopped")
                if end_episode(EpisodeResult(rewards[i], turns[i], avg_loss, updates > 0, ended), stopping):
                    return
                fresh[i] = True
