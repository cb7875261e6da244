"""The learner: optimizer, learner state and the jitted DQN update step."""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdqn.core.losses import td_loss
from jaxdqn.core.networks import Network

MAX_GRAD_NORM = 10.0  # the reference's clip (Settings.max_grad_norm's default)


class LearnerState(NamedTuple):
    params: optax.Params
    target_params: optax.Params
    opt_state: optax.OptState
    step: jax.Array  # number of updates applied so far (int32)


class UpdateMetrics(NamedTuple):
    loss: jax.Array
    abs_td: jax.Array  # [B], for priority updates
    grad_norm: jax.Array


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """Scale all gradients by ``min(1, max_norm / global_norm)`` (PyTorch's ``clip_grad_norm_``).

    The same as ``optax.clip_by_global_norm`` (whose state, ``EmptyState``, it shares), written
    as one scalar factor so XLA folds it into Adam's passes over the parameters instead of
    writing out a clipped copy of every gradient first (measured in docs/benchmarks.md).
    """
    def update(updates, state, params=None):
        del params
        factor = jnp.minimum(1.0, max_norm / optax.tree.norm(updates))
        return jax.tree.map(lambda g: g * factor.astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(learning_rate: float, max_grad_norm: float = MAX_GRAD_NORM) -> optax.GradientTransformation:
    """Clip by global norm (like ``clip_grad_norm_``), then Adam with an injectable learning rate.

    ``max_grad_norm`` may be a traced value: it is no part of the optimizer's state, so an optimizer made
    inside a traced function with each agent's own clip updates the state ``init`` made."""
    return optax.chain(
        clip_by_global_norm(max_grad_norm),
        optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate),
    )


def get_learning_rate(opt_state) -> float:
    return float(optax.tree_utils.tree_get(opt_state, "learning_rate"))


def set_learning_rate(opt_state, learning_rate) -> optax.OptState:
    """Return ``opt_state`` with a new learning rate; a float32 array keeps the update from retracing."""
    return optax.tree_utils.tree_set(opt_state, learning_rate=jnp.asarray(learning_rate, dtype=jnp.float32))


def init_learner(key: jax.Array, network: Network, optimizer: optax.GradientTransformation) -> LearnerState:
    """Fresh parameters, a copy as the target, optimizer state; one compiled call, not one per array."""
    def init(key):
        params = network.init(key)
        return LearnerState(params=params, target_params=jax.tree.map(jnp.copy, params),
                            opt_state=optimizer.init(params), step=jnp.zeros((), jnp.int32))
    return jax.jit(init)(key)


def update(
    state: LearnerState,
    batch,
    weights: jax.Array | None,
    *,
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    gamma: float,
    target_update_period: int | None,
    double_dqn: bool = False,
    axis_name: str | None = None,
    huber_delta: float = 1.0,
) -> tuple[LearnerState, UpdateMetrics]:
    """One gradient step on ``batch``; every ``target_update_period`` steps the target becomes a hard copy.

    With ``target_update_period=None`` the target is left alone: the caller syncs it (see
    :func:`sync_target`), e.g. on a count of environment steps as the trainer does. With
    ``axis_name`` (inside ``shard_map`` or ``pmap``), each device's batch is one share of the
    batch: gradients and loss are averaged over that axis before Adam, so the parameters stay
    identical on every device.
    """
    (loss, abs_td), grads = jax.value_and_grad(td_loss, has_aux=True)(
        state.params, state.target_params, apply_fn, batch, gamma, weights, double_dqn, huber_delta
    )
    if axis_name is not None:
        grads, loss = jax.lax.pmean((grads, loss), axis_name)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    step = state.step + 1
    target_params = state.target_params
    if target_update_period is not None:
        target_params = jax.lax.cond(step % target_update_period == 0, lambda: params, lambda: target_params)
    new_state = LearnerState(params, target_params, opt_state, step)
    return new_state, UpdateMetrics(loss, abs_td, optax.tree.norm(grads))


def sync_target(state: LearnerState) -> LearnerState:
    """The state with its target parameters replaced by a copy (fresh buffers) of the online ones.

    A copy rather than the same arrays, so that donating the state to the next update never
    hands one buffer over twice.
    """
    return state._replace(target_params=_copy_tree(state.params))


_copy_tree = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))


@jax.jit
def all_finite(tree) -> jax.Array:
    """True when every number in ``tree`` is finite (one compiled call for the whole tree)."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def make_update(
    network: Network,
    optimizer: optax.GradientTransformation,
    gamma: float = 0.99,
    target_update_period: int | None = None,
    double_dqn: bool = False,
    jit: bool = True,
    donate: bool = True,
    axis_name: str | None = None,
    huber_delta: float = 1.0,
):
    """``update(state, batch, weights) -> (state, metrics)``: one gradient step on a batch.

    ``target_update_period`` counts *updates* (the config's ``target_update_freq`` counts game
    steps: 500 game steps at ``train_every = 4`` is 125 updates); None leaves the target to the
    caller (:func:`sync_target`). Jitted by default, with the state's buffers donated: the
    ``state`` you pass is deleted by the call, so keep only the returned one (``donate=False``
    keeps yours, at the cost of a copy per update). ``axis_name``: see :func:`update`.
    """
    fn = functools.partial(
        update, apply_fn=network.apply, optimizer=optimizer, gamma=gamma,
        target_update_period=target_update_period, double_dqn=double_dqn, axis_name=axis_name,
        huber_delta=huber_delta,
    )
    if not jit:
        return fn
    return jax.jit(fn, donate_argnums=0) if donate else jax.jit(fn)


class PendingPriorities(NamedTuple):
    """Priorities computed by one training step, written into the buffer by the next."""

    indices: jax.Array
    abs_td: jax.Array


def train_step(
    learner_state: LearnerState,
    buffer_state,
    key: jax.Array,
    new_transitions=None,
    pending: PendingPriorities | None = None,
    *,
    buffer,
    update_fn: Callable,
    batch_size: int,
):
    """Write last step's priorities, add ``new_transitions``, sample, update: one device call.

    Returns ``(learner_state, buffer_state, metrics, pending)``. The new priorities come back
    as ``pending`` and are written at the start of the next call (or by :func:`flush`): with
    every tree write ahead of every tree read, XLA updates the sum trees in place instead
    of copying them (docs/benchmarks.md has the saving). Sampling sees exactly the
    priorities it would with an immediate write, so the semantics are unchanged.
    """
    if pending is not None:
        buffer_state = buffer.update(buffer_state, pending.indices, pending.abs_td)
    if new_transitions is not None:
        buffer_state = buffer.add(buffer_state, new_transitions)
    batch, indices, weights = buffer.sample(buffer_state, key, batch_size)
    learner_state, metrics = update_fn(learner_state, batch, weights)
    return learner_state, buffer_state, metrics, PendingPriorities(indices, metrics.abs_td)


def flush(buffer, buffer_state, pending: PendingPriorities | None):
    """Write pending priorities now (before saving or inspecting the buffer)."""
    if pending is None:
        return buffer_state
    return buffer.update(buffer_state, pending.indices, pending.abs_td)


def make_train_step(network: Network, optimizer, buffer, *, batch_size: int, gamma: float = 0.99,
                    target_update_period: int | None = None, double_dqn: bool = False, jit: bool = True,
                    huber_delta: float = 1.0):
    """:func:`train_step` bound to a network, optimizer and buffer; jitted with learner and buffer
    states donated (updated in place), or plain with ``jit=False`` to compose into a larger jit."""
    update_fn = make_update(network, optimizer, gamma, target_update_period, double_dqn, jit=False,
                            huber_delta=huber_delta)
    fn = functools.partial(train_step, buffer=buffer, update_fn=update_fn, batch_size=batch_size)
    return jax.jit(fn, donate_argnums=(0, 1)) if jit else fn
