"""The DQN algorithm's hyperparameters, typed, with the reference's defaults: the one copy of them.

config.toml's ``[training]`` keys of these names take their defaults from here
(:mod:`jaxdqn.config.schema`), the host loop reads them from the run's :class:`Settings`
(``RunParts.settings``), and the compiled loop is built from one. The optimizer and the replay
buffer they describe are made here too, for both loops.
"""
from __future__ import annotations

import math
from typing import Mapping, NamedTuple


class Settings(NamedTuple):
    """The hyperparameters a run's learning is made of (config.toml's [training] keys of these names)."""

    num_envs: int = 1
    batch_size: int = 64
    memory_capacity: int = 50_000
    prioritize_experiences: bool = True
    gamma: float = 0.99
    double_dqn: bool = False
    train_every: int = 4
    target_update_freq: int = 500
    learning_rate: float = 1e-4
    learning_rate_decay: float = 0.9999
    epsilon: float = 1.0
    epsilon_decay: float = 0.9997
    epsilon_min: float = 0.05
    max_turns_per_episode: int = 2000
    huber_delta: float = 1.0  # where the loss turns from quadratic to linear in the TD error (the reference: 1)
    max_grad_norm: float = 10.0  # gradients are scaled down to this global norm (the reference: 10)
    n_step: int = 1  # steps each return sums before bootstrapping (1: the reference's one-step targets)
    # how the compiled loop stores an MLP's boards: None chooses (row lists as long as the board, which no
    # board outgrows, for a sparse board; else the boards), 0 stores boards, N > 0 lists of N entries
    # (a board with more occupied cells sets ``overflow``)
    rows_width: int | None = None

    @classmethod
    def from_hyperparameters(cls, hp: Mapping, **changes) -> Settings:
        """The settings among ``hp`` (a run's hyperparameters; other keys are left out), then ``changes``."""
        return cls(**{k: hp[k] for k in cls._fields if k in hp}, **changes)

    @property
    def steps_per_iteration(self) -> int:
        """Game steps per iteration of the compiled loop: the fewest after which the updates due are whole."""
        return self.train_every // math.gcd(self.num_envs, self.train_every)

    @property
    def updates_per_iteration(self) -> int:
        return self.num_envs // math.gcd(self.num_envs, self.train_every)

    def optimizer(self):
        """Adam at ``learning_rate`` with gradients clipped as the reference clips them."""
        from jaxdqn.core.learner import make_optimizer
        return make_optimizer(self.learning_rate, self.max_grad_norm)

    def buffer(self, capacity: int | None = None, stride: int = 1, gamma=None):
        """The replay buffer: prioritized or uniform, holding ``capacity`` (default ``memory_capacity``), its
        samples n-step when ``n_step`` > 1 (``stride``: the games whose transitions it interleaves; ``gamma``,
        default ``self.gamma``, may be a traced value)."""
        from jaxdqn.core.n_step import with_n_step
        from jaxdqn.core.replay import make_prioritized_buffer, make_uniform_buffer
        capacity = self.memory_capacity if capacity is None else capacity
        buffer = make_prioritized_buffer(capacity) if self.prioritize_experiences else make_uniform_buffer(capacity)
        return with_n_step(buffer, self.n_step, self.gamma if gamma is None else gamma, stride)


DEFAULTS = Settings()._asdict()
