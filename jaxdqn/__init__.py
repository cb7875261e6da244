"""jaxdqn: deep Q-learning for retro-games terminal games, written in JAX.

The trainer, as in retro-gamer: ``from jaxdqn import DQNTrainer, GameMetadata``.

The pure core, for your own JAX code:

- :mod:`jaxdqn.types`     ``Observation``, ``RowsObservation``, ``Transition``, ``NetworkSpec``
- :mod:`jaxdqn.networks`  ``make_network``, ``one_hot_board`` (flax modules behind a pure adapter)
- :mod:`jaxdqn.losses`    ``td_loss``, ``q_learning_td``, ``double_q_learning_td``, ``huber``
- :mod:`jaxdqn.learner`   ``make_optimizer``, ``init_learner``, ``make_update``, ``make_train_step``
- :mod:`jaxdqn.replay`    ``make_uniform_buffer``, ``make_prioritized_buffer``
- :mod:`jaxdqn.acting`    ``epsilon_greedy``, ``make_actor``, ``make_greedy``
- :mod:`jaxdqn.compiled`  ``make_train``, ``TrainConfig``, ``Settings``, ``make_runner``: whole runs compiled
- :mod:`jaxdqn.jaxgames`  ``JaxGame``: a game written in JAX

Names are imported on first use, so ``import jaxdqn`` (and the ``jaxdqn`` command's help)
does not load JAX.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DQNTrainer": "jaxdqn.trainer",
    "GameMetadata": "jaxdqn.games.metadata",
    "TrainedPolicy": "jaxdqn.policy",
    "PolicyInput": "jaxdqn.policy",
    "Observation": "jaxdqn.types",
    "RowsObservation": "jaxdqn.types",
    "Transition": "jaxdqn.types",
    "NetworkSpec": "jaxdqn.types",
    "example_transition": "jaxdqn.types",
    "make_network": "jaxdqn.networks",
    "one_hot_board": "jaxdqn.networks",
    "td_loss": "jaxdqn.losses",
    "q_learning_td": "jaxdqn.losses",
    "double_q_learning_td": "jaxdqn.losses",
    "huber": "jaxdqn.losses",
    "LearnerState": "jaxdqn.learner",
    "PendingPriorities": "jaxdqn.learner",
    "UpdateMetrics": "jaxdqn.learner",
    "flush": "jaxdqn.learner",
    "get_learning_rate": "jaxdqn.learner",
    "set_learning_rate": "jaxdqn.learner",
    "init_learner": "jaxdqn.learner",
    "make_optimizer": "jaxdqn.learner",
    "make_train_step": "jaxdqn.learner",
    "make_update": "jaxdqn.learner",
    "make_prioritized_buffer": "jaxdqn.replay",
    "make_uniform_buffer": "jaxdqn.replay",
    "epsilon_greedy": "jaxdqn.acting",
    "make_actor": "jaxdqn.acting",
    "make_greedy": "jaxdqn.acting",
    "make_train": "jaxdqn.compiled",
    "TrainConfig": "jaxdqn.compiled",
    "Settings": "jaxdqn.compiled",
    "make_runner": "jaxdqn.compiled",
    "JaxGame": "jaxdqn.jaxgames",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxdqn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
