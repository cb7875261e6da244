"""The hyperparameters that fix no array's shape, as values a compiled program takes as input.

:class:`~jaxdqn.core.settings.Settings` fixes a run's program (its batch, buffer, games and network
shapes). The numbers here only flow through that program's arithmetic, so they can be traced:
``jax.vmap(train)(keys, hyperparameters)`` trains a grid of them in one compiled program, the
way it trains seeds (rejax's vmappable configs, PureJaxRL's sweeps). :func:`grid` builds one.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdqn.core.settings import Settings


class Hyperparameters(NamedTuple):
    """One agent's shape-free hyperparameters (each a scalar; a sweep stacks them on leading axes).
    Their meaning is config.toml's ``[training]`` keys of the same names."""

    learning_rate: jax.Array  # float32: Adam's step size at the start (then decayed)
    learning_rate_decay: jax.Array  # float32
    gamma: jax.Array  # float32
    epsilon: jax.Array  # float32: at the start (then decayed)
    epsilon_decay: jax.Array  # float32
    epsilon_min: jax.Array  # float32
    target_update_freq: jax.Array  # int32: game steps between target copies
    huber_delta: jax.Array  # float32
    max_grad_norm: jax.Array  # float32

    @classmethod
    def from_settings(cls, settings: Settings) -> Hyperparameters:
        """``settings``' values of these hyperparameters, as arrays."""
        return cls(**{f: jnp.asarray(getattr(settings, f), TYPES.get(f, jnp.float32)) for f in cls._fields})


TYPES = {"target_update_freq": jnp.int32}  # the rest are float32
SWEEPABLE = Hyperparameters._fields


def grid(settings: Settings = Settings(), **values) -> Hyperparameters:
    """Every combination of ``values`` (each a list of one hyperparameter's values), the others from
    ``settings``: each leaf ``[N]``, N the product of the lists' lengths, in ``itertools.product`` order
    (the first keyword varies slowest). Pass it to ``jax.vmap(train)`` with N keys.

    Raises:
      ValueError: a keyword that is not a field of :class:`Hyperparameters`, or an empty list.
    """
    unknown = sorted(set(values) - set(SWEEPABLE))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a shape-free hyperparameter; a sweep may vary "
                         f"{', '.join(SWEEPABLE)}")
    empty = [k for k, v in values.items() if not len(v)]
    if empty:
        raise ValueError(f"{', '.join(empty)}: an empty list of values")
    each = [Hyperparameters.from_settings(settings._replace(**dict(zip(values, combination))))
            for combination in itertools.product(*values.values())]
    return jax.tree.map(lambda *x: jnp.stack(x), *each)
