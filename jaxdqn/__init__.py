"""jaxdqn: deep Q-learning for retro-games terminal games, written in JAX.

The trainer, as in retro-gamer: ``from jaxdqn import DQNTrainer, GameMetadata``.

The package, core first (each layer imports only the ones above it):

- :mod:`jaxdqn.core`      pure and jittable: types, networks, losses, learner, replay, acting, the compiled
  runner and ``make_train`` (whole runs compiled, vmapped over seeds, sharded over devices)
- :mod:`jaxdqn.jaxgames`  games written in JAX (``JaxGame``), equal to their retro twins; gymnax environments
- :mod:`jaxdqn.games`     retro games on the host: the game wrapper, observation encoders, metadata
- :mod:`jaxdqn.config`    ``config.toml``: its schema, reading, writing, and the assembly of a run's parts
- :mod:`jaxdqn.run`       the run directory: lock, checkpoints, training.log, metrics, stop requests
- :mod:`jaxdqn.trainers`  the host loop and the compiled loop, each with its checkpoints
- :mod:`jaxdqn.cli`       the ``jaxdqn`` command (``python -m jaxdqn.train`` is its ``train``)

Every name below is importable from here; names are imported on first use, so ``import jaxdqn``
(and the ``jaxdqn`` command's help) does not load JAX. Module paths from before the regroup
(``jaxdqn.learner``, ``jaxdqn.compiled``, ``jaxdqn.trainer`` ...) still import, with a warning
naming the new path (:mod:`jaxdqn.moved`).
"""
from __future__ import annotations

import importlib

from jaxdqn import moved
from jaxdqn.lazy import lazy_attributes

moved.install()

__version__ = "0.1.0"

_EXPORTS = {
    "DQNTrainer": "jaxdqn.trainers",
    "GameMetadata": "jaxdqn.games.metadata",
    "TrainedPolicy": "jaxdqn.policy",
    "PolicyInput": "jaxdqn.policy",
    "Observation": "jaxdqn.core.types",
    "RowsObservation": "jaxdqn.core.types",
    "Transition": "jaxdqn.core.types",
    "NetworkSpec": "jaxdqn.core.types",
    "example_transition": "jaxdqn.core.types",
    "make_network": "jaxdqn.core.networks",
    "one_hot_board": "jaxdqn.core.networks",
    "td_loss": "jaxdqn.core.losses",
    "q_learning_td": "jaxdqn.core.losses",
    "double_q_learning_td": "jaxdqn.core.losses",
    "huber": "jaxdqn.core.losses",
    "LearnerState": "jaxdqn.core.learner",
    "PendingPriorities": "jaxdqn.core.learner",
    "UpdateMetrics": "jaxdqn.core.learner",
    "flush": "jaxdqn.core.learner",
    "get_learning_rate": "jaxdqn.core.learner",
    "set_learning_rate": "jaxdqn.core.learner",
    "init_learner": "jaxdqn.core.learner",
    "make_optimizer": "jaxdqn.core.learner",
    "make_train_step": "jaxdqn.core.learner",
    "make_update": "jaxdqn.core.learner",
    "make_prioritized_buffer": "jaxdqn.core.replay",
    "make_uniform_buffer": "jaxdqn.core.replay",
    "with_n_step": "jaxdqn.core.n_step",
    "epsilon_greedy": "jaxdqn.core.acting",
    "make_actor": "jaxdqn.core.acting",
    "make_greedy": "jaxdqn.core.acting",
    "greedy_actions": "jaxdqn.core.acting",
    "make_train": "jaxdqn.core",
    "make_sweep": "jaxdqn.core",
    "TrainConfig": "jaxdqn.core",
    "Settings": "jaxdqn.core",
    "Hyperparameters": "jaxdqn.core",
    "grid": "jaxdqn.core",
    "make_runner": "jaxdqn.core",
    "JaxGame": "jaxdqn.jaxgames",
    "from_gymnax": "jaxdqn.jaxgames",
}

__all__ = sorted(_EXPORTS)


def _moved_module(name: str):
    """``from jaxdqn import learner``, the way before the regroup: the module at its new path."""
    if f"jaxdqn.{name}" in moved.MOVED:
        return importlib.import_module(f"jaxdqn.{name}")
    raise AttributeError(f"module 'jaxdqn' has no attribute {name!r}")


__getattr__, __dir__ = lazy_attributes("jaxdqn", _EXPORTS, globals(), _moved_module)
