"""Q-networks: flax modules behind a thin pure ``init``/``apply`` adapter.

``make_network(spec)`` gives the built-in network for a :class:`~jaxdqn.core.types.NetworkSpec`;
``make_network(spec, module)`` wraps a flax module of your own that maps a batch of compact
:class:`~jaxdqn.core.types.Observation` s to Q-values ``[B, num_actions]``
(:func:`one_hot_board` gives the dense one-hot board to start from). Either way the rest of
jaxdqn sees ``Network(init, apply, spec, module)``: ``init(key) -> params`` (the module's
standard flax parameter tree) and ``apply(params, obs) -> q_values``.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax

from jaxdqn.core.networks.layers import conv3x3, one_hot_board, sum_rows, torch_uniform
from jaxdqn.core.networks.modules import CONV_CHANNELS, QNetwork, check_observations
from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation

Params = Any  # a flax parameter tree (nested dicts of arrays)


class Network(NamedTuple):
    """A pair of pure functions, in the style of Haiku's ``Transformed``, and what they were made from."""

    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, Observation | RowsObservation], jax.Array]
    spec: NetworkSpec
    module: Any  # the flax module

    @property
    def builtin(self) -> bool:
        """The built-in network, which also reads row lists (a module of your own gets boards)."""
        return isinstance(self.module, QNetwork)


def make_network(spec: NetworkSpec, module=None) -> Network:
    """The built-in Q-network for ``spec``, or ``module`` (a flax module) behind the same adapter."""
    module = QNetwork(spec) if module is None else module
    example = spec.empty_observation((1,))
    return Network(init=lambda key: module.init(key, example)["params"],
                   apply=lambda params, obs: module.apply({"params": params}, obs),
                   spec=spec, module=module)


def count_params(params) -> int:
    """Number of scalars in a parameter pytree (arrays or shape structs)."""
    return sum(math.prod(x.shape) for x in jax.tree.leaves(params))


__all__ = ["CONV_CHANNELS", "Network", "NetworkSpec", "Observation", "QNetwork", "RowsObservation",
           "check_observations", "conv3x3", "count_params", "make_network", "one_hot_board", "sum_rows",
           "torch_uniform"]
