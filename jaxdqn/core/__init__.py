"""The pure core: jittable functions over explicit pytrees, no I/O.

- :mod:`~jaxdqn.core.types`      observations, transitions, the shapes that fix a network
- :mod:`~jaxdqn.core.settings`   the algorithm's hyperparameters, typed, with their defaults
- :mod:`~jaxdqn.core.hyperparameters`  the shape-free ones as traced values (sweeps in one program)
- :mod:`~jaxdqn.core.networks`   Q-networks (flax modules behind a pure ``init``/``apply`` adapter)
- :mod:`~jaxdqn.core.losses`     TD errors and the DQN loss (rlax style, per transition)
- :mod:`~jaxdqn.core.learner`    optimizer, learner state, the update step
- :mod:`~jaxdqn.core.replay`     replay buffers (flashbax style), over :mod:`~jaxdqn.core.sum_tree`
- :mod:`~jaxdqn.core.n_step`     n-step returns, made when a batch is sampled
- :mod:`~jaxdqn.core.rows`       an MLP's board as row lists, on the host (numpy) and on the device (jnp)
- :mod:`~jaxdqn.core.acting`     epsilon-greedy and greedy action selection
- :mod:`~jaxdqn.core.schedules`  epsilon, learning-rate and target-copy schedules
- :mod:`~jaxdqn.core.runner`     acting, game steps, replay and updates as one compiled program
- :mod:`~jaxdqn.core.training`   a whole run as one pure function (``make_train``), a sweep of them (``make_sweep``)
- :mod:`~jaxdqn.core.sharding`   the compiled program over many devices
- :mod:`~jaxdqn.core.evaluation` greedy play of a game written in JAX

The compiled loop's names are importable from here (``from jaxdqn.core import make_train, Settings``);
they load on first use.
"""
from __future__ import annotations

from jaxdqn.lazy import lazy_attributes

_EXPORTS = {
    "Clock": "jaxdqn.core.runner", "EpisodeRecords": "jaxdqn.core.runner", "Runner": "jaxdqn.core.runner",
    "RunnerState": "jaxdqn.core.runner", "Settings": "jaxdqn.core.settings", "make_runner": "jaxdqn.core.runner",
    "Hyperparameters": "jaxdqn.core.hyperparameters", "grid": "jaxdqn.core.hyperparameters",
    "TrainConfig": "jaxdqn.core.training", "game_spec": "jaxdqn.core.training", "make_train": "jaxdqn.core.training",
    "make_sweep": "jaxdqn.core.training",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_attributes("jaxdqn.core", _EXPORTS, globals())
