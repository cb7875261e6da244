"""Q-networks as pure ``init``/``apply`` functions over compact observations.

An observation is stored compactly (one ``uint8`` per board cell, 0 = empty,
1..C = a character, plus float32 extras) and expanded to one-hot inside the
jitted function, so replay memory stays small while the network sees exactly
the dense input the reference feeds its PyTorch model.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Params = dict


class Observation(NamedTuple):
    """A (batch of) compact observation(s).

    board: uint8 ``[..., H, W]``; 0 is empty or unknown, ``k`` is the k-th
        board channel (a character of the character set, or off-board).
    extras: float32 ``[..., E]``; observed game-state values.
    """

    board: jax.Array
    extras: jax.Array


class NetworkSpec(NamedTuple):
    """Everything that fixes a network's shape. Hashable, so usable as a static arg."""

    board_height: int
    board_width: int
    num_channels: int  # C: one-hot width per cell (characters, plus off-board when egocentric)
    num_extras: int  # E: observed state values
    hidden_sizes: tuple[int, ...]
    num_actions: int  # the game's actions plus the no-op
    spatial: bool = False

    @property
    def has_board(self) -> bool:
        return self.board_height * self.board_width * self.num_channels > 0

    @property
    def flat_board_size(self) -> int:
        return self.board_height * self.board_width * self.num_channels if self.has_board else 0

    def empty_observation(self, batch_shape: tuple[int, ...] = ()) -> Observation:
        """Zeros with this spec's observation shapes (useful for shapes and buffers)."""
        return Observation(
            board=jnp.zeros(batch_shape + (self.board_height, self.board_width), jnp.uint8),
            extras=jnp.zeros(batch_shape + (self.num_extras,), jnp.float32),
        )


class Network(NamedTuple):
    """A pair of pure functions, in the style of Haiku's ``Transformed``."""

    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, Observation], jax.Array]
    spec: NetworkSpec


def one_hot_board(board: jax.Array, num_channels: int, dtype=jnp.float32) -> jax.Array:
    """``uint8 [..., H, W]`` cells to a float ``[..., H, W, C]`` one-hot; cell 0 maps to all zeros."""
    return jax.nn.one_hot(board.astype(jnp.int32) - 1, num_channels, dtype=dtype)


def dense_input(spec: NetworkSpec, obs: Observation) -> jax.Array:
    """The flat float input the reference builds on the host: row-major one-hot board, then extras."""
    parts = []
    if spec.has_board:
        onehot = one_hot_board(obs.board, spec.num_channels)
        parts.append(onehot.reshape(onehot.shape[:-3] + (-1,)))
    parts.append(obs.extras.astype(jnp.float32))
    return jnp.concatenate(parts, axis=-1)


def _uniform(key, shape, fan_in):
    # PyTorch's default Linear/Conv init, so learning behaves as in the reference.
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def _dense_init(key, n_in, n_out):
    kw, kb = jax.random.split(key)
    return {"w": _uniform(kw, (n_in, n_out), max(n_in, 1)), "b": _uniform(kb, (n_out,), max(n_in, 1))}


def _conv_init(key, c_in, c_out):
    kw, kb = jax.random.split(key)
    fan_in = c_in * 9
    return {"w": _uniform(kw, (3, 3, c_in, c_out), fan_in), "b": _uniform(kb, (c_out,), fan_in)}


CONV_CHANNELS = (32, 64)


def _mlp_input_size(spec: NetworkSpec) -> int:
    if spec.spatial:
        return CONV_CHANNELS[-1] * spec.board_height * spec.board_width + spec.num_extras
    return spec.flat_board_size + spec.num_extras


def init_params(key: jax.Array, spec: NetworkSpec) -> Params:
    """Fresh parameters for ``spec``: ``{'conv': [...], 'mlp': [...]}``."""
    sizes = [_mlp_input_size(spec), *spec.hidden_sizes, spec.num_actions]
    keys = jax.random.split(key, len(sizes) - 1 + len(CONV_CHANNELS))
    conv = []
    if spec.spatial:
        c_in = spec.num_channels
        for k, c_out in zip(keys[: len(CONV_CHANNELS)], CONV_CHANNELS):
            conv.append(_conv_init(k, c_in, c_out))
            c_in = c_out
    mlp_keys = keys[len(CONV_CHANNELS):]
    mlp = [_dense_init(k, n_in, n_out) for k, n_in, n_out in zip(mlp_keys, sizes[:-1], sizes[1:])]
    return {"conv": conv, "mlp": mlp}


def _conv_features(conv_params, board_onehot):
    x = board_onehot  # [B, H, W, C], NHWC
    for layer in conv_params:
        x = jax.lax.conv_general_dilated(
            x, layer["w"], window_strides=(1, 1), padding="SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        x = jax.nn.relu(x + layer["b"])
    return x.reshape(x.shape[0], -1)


def apply(params: Params, spec: NetworkSpec, obs: Observation) -> jax.Array:
    """Q-values ``[B, num_actions]`` for a batch of compact observations."""
    if spec.spatial:
        onehot = one_hot_board(obs.board, spec.num_channels)
        x = jnp.concatenate([_conv_features(params["conv"], onehot), obs.extras.astype(jnp.float32)], -1)
    else:
        x = dense_input(spec, obs)
    layers = params["mlp"]
    for layer in layers[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def make_network(spec: NetworkSpec) -> Network:
    """Bind ``spec`` into pure ``init(key)`` and ``apply(params, obs)`` functions."""
    return Network(
        init=lambda key: init_params(key, spec),
        apply=lambda params, obs: apply(params, spec, obs),
        spec=spec,
    )


def count_params(params) -> int:
    """Number of scalars in a parameter pytree (arrays or shape structs)."""
    return sum(math.prod(x.shape) for x in jax.tree.leaves(params))


def describe(spec: NetworkSpec, actions: list[str] | None = None) -> str:
    """A short, human-readable account of the architecture and why it was chosen."""
    lines = ["[INIT] === Network Architecture ==="]
    if spec.has_board:
        lines.append(
            f"[INIT] Board: {spec.board_width}x{spec.board_height} cells, "
            f"{spec.num_channels} channels (one-hot per cell)"
        )
    else:
        lines.append("[INIT] Board: not observed (state values only)")
    lines.append(f"[INIT] Observed state values: {spec.num_extras}  |  Actions (with no-op): {spec.num_actions}")
    mlp_in = _mlp_input_size(spec)
    if spec.spatial:
        conv_out = mlp_in - spec.num_extras
        lines.append("[INIT] spatial = true: convolutional network")
        lines.append("[INIT] Why: the board is a 2-D scene, and 3x3 convolutions see nearby walls and")
        lines.append("[INIT]   items with far fewer weights than a fully connected layer would need.")
        lines.append(
            f"[INIT] CNN: Conv3x3({spec.num_channels}->{CONV_CHANNELS[0]}) ReLU "
            f"Conv3x3({CONV_CHANNELS[0]}->{CONV_CHANNELS[1]}) ReLU, same padding -> {conv_out} features"
        )
    else:
        lines.append("[INIT] spatial = false: fully connected network (MLP)")
        lines.append("[INIT] Why: a flat MLP over the whole observation is enough when layout")
        lines.append("[INIT]   matters less than which cells hold what.")
    chain = " -> ".join(str(s) for s in [mlp_in, *spec.hidden_sizes, spec.num_actions])
    lines.append(f"[INIT] MLP: {chain} (ReLU between layers)")
    shapes = jax.eval_shape(lambda: init_params(jax.random.PRNGKey(0), spec))
    lines.append(f"[INIT] Parameters: {count_params(shapes):,}")
    if actions is not None:
        lines.append(f"[INIT] Actions: {list(actions)} + (no-op)")
    return "\n".join(lines)

