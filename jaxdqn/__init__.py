"""jaxdqn: deep Q-learning for retro-games terminal games, written in JAX.

The pure core (import these into your own JAX code):

- :mod:`jaxdqn.networks`  ``NetworkSpec``, ``Observation``, ``make_network``
- :mod:`jaxdqn.losses`    ``td_loss``, ``q_learning_td``, ``double_q_learning_td``, ``huber``
- :mod:`jaxdqn.learner`   ``make_optimizer``, ``init_learner``, ``make_update``, ``make_train_step``
- :mod:`jaxdqn.replay`    ``make_uniform_buffer``, ``make_prioritized_buffer``, ``Transition``
- :mod:`jaxdqn.acting`    ``epsilon_greedy``, ``make_actor``
- :mod:`jaxdqn.device`    ``select_device``
"""
from jaxdqn.acting import epsilon_greedy, make_actor
from jaxdqn.learner import (
    LearnerState,
    PendingPriorities,
    flush,
    UpdateMetrics,
    get_learning_rate,
    init_learner,
    make_optimizer,
    make_train_step,
    make_update,
    set_learning_rate,
)
from jaxdqn.losses import double_q_learning_td, huber, q_learning_td, td_loss
from jaxdqn.networks import NetworkSpec, Observation, describe, make_network
from jaxdqn.replay import Transition, make_prioritized_buffer, make_uniform_buffer

__version__ = "0.1.0"

__all__ = [
    "LearnerState", "NetworkSpec", "PendingPriorities", "flush", "Observation", "Transition", "UpdateMetrics",
    "describe", "double_q_learning_td", "epsilon_greedy", "get_learning_rate", "huber",
    "init_learner", "make_actor", "make_network", "make_optimizer", "make_prioritized_buffer",
    "make_train_step", "make_uniform_buffer", "make_update", "q_learning_td", "set_learning_rate",
    "td_loss",
]
