"""The Q-networks as they were before flax (jaxdqn 0.1.0, commit b31983f): a test oracle.

Kept verbatim (init and apply only) so tests can show the flax modules compute the same
Q-values and updates from the same parameters, and that old checkpoints migrate exactly.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation  # noqa: F401 - annotations

Params = dict


def one_hot_board(board: jax.Array, num_channels: int, dtype=jnp.float32) -> jax.Array:
    """``uint8 [..., H, W]`` cells to a float ``[..., H, W, C]`` one-hot; cell 0 maps to all zeros."""
    return jax.nn.one_hot(board.astype(jnp.int32) - 1, num_channels, dtype=dtype)


@jax.custom_vjp
def sum_rows(table: jax.Array, rows: jax.Array) -> jax.Array:
    """``sum_k table[rows[..., k]]``, where rows past the end of ``table`` add nothing.

    Written as K gathers of one row per list, added up: on CPUs XLA runs these faster than
    one gather of all ``[..., K, H]`` rows and a sum, which writes that whole intermediate out
    (about 0.1 ms of a 1 ms snake update). The gradient is one scatter-add of the output
    gradient into every listed row.
    """
    rows = rows.astype(jnp.int32)
    total = jnp.take(table, rows[..., 0], axis=0, mode="fill", fill_value=0)
    for k in range(1, rows.shape[-1]):
        total = total + jnp.take(table, rows[..., k], axis=0, mode="fill", fill_value=0)
    return total


def _sum_rows_fwd(table, rows):
    return sum_rows(table, rows), (rows, table.shape)


def _sum_rows_bwd(residuals, g):
    rows, shape = residuals
    per_row = jnp.broadcast_to(g[..., None, :], rows.shape + shape[1:]).reshape(-1, shape[1])
    d_table = jnp.zeros(shape, g.dtype).at[rows.reshape(-1).astype(jnp.int32)].add(per_row, mode="drop")
    return d_table, None


sum_rows.defvjp(_sum_rows_fwd, _sum_rows_bwd)


def _first_layer(spec: NetworkSpec, w_board: jax.Array, obs) -> jax.Array:
    """``one_hot(board) @ w_board`` for a batch: a row gather for row lists, else the one-hot product."""
    if isinstance(obs, RowsObservation):
        return sum_rows(w_board, obs.rows)
    onehot = one_hot_board(obs.board, spec.num_channels)
    return onehot.reshape(onehot.shape[0], -1) @ w_board


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
    """Fresh parameters for ``spec``: ``{'conv': [...], 'mlp': [...]}``.

    For an MLP over a board, the first layer keeps the rows for board inputs apart from the
    rows for extras (``w_board`` and ``w``; ``w`` only when there are extras), so the network
    never slices or concatenates the large board matrix.
    """
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
    if spec.has_board and not spec.spatial:
        first, n_board = mlp[0], spec.flat_board_size
        mlp[0] = {"w_board": first["w"][:n_board], "b": first["b"]}
        if spec.num_extras:
            mlp[0]["w"] = first["w"][n_board:]
    return {"conv": conv, "mlp": mlp}


def _conv(x, w):
    return jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


@jax.custom_vjp
def conv3x3(x: jax.Array, w: jax.Array) -> jax.Array:
    """A 3x3, stride-1, same-padded NHWC convolution whose gradient is cheap on CPUs.

    XLA's own backward convolutions are several times slower than its forward one on CPU;
    here the input gradient is a forward convolution with the flipped kernel and the weight
    gradient is nine shifted matrix products. The values are the same (tested).
    """
    return _conv(x, w)


def _conv3x3_fwd(x, w):
    return _conv(x, w), (x, w)


def _conv3x3_bwd(residuals, g):
    x, w = residuals
    _, height, width, c_in = x.shape
    dx = _conv(g, jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2))
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    g_flat = g.reshape(-1, g.shape[-1])
    dw = jnp.stack([jnp.stack([padded[:, dy:dy + height, dx_:dx_ + width, :].reshape(-1, c_in).T @ g_flat
                               for dx_ in range(3)]) for dy in range(3)])
    return dx, dw


conv3x3.defvjp(_conv3x3_fwd, _conv3x3_bwd)


def _conv_features(conv_params, board_onehot):
    x = board_onehot  # [B, H, W, C], NHWC
    for layer in conv_params:
        x = jax.nn.relu(conv3x3(x, layer["w"]) + layer["b"])
    return x.reshape(x.shape[0], -1)


def apply(params: Params, spec: NetworkSpec, obs: Observation | RowsObservation) -> jax.Array:
    """Q-values ``[B, num_actions]`` for a batch of compact observations (row lists: MLPs only)."""
    layers = params["mlp"]
    extras = obs.extras.astype(jnp.float32)
    if spec.spatial:
        onehot = one_hot_board(obs.board, spec.num_channels)
        x = jnp.concatenate([_conv_features(params["conv"], onehot), extras], -1)
    elif spec.has_board:
        # First layer = board rows (one-hot input, computed without building it) + extras rows.
        first = layers[0]
        h = _first_layer(spec, first["w_board"], obs) + first["b"]
        if "w" in first:
            h = h + extras @ first["w"]
        x = jax.nn.relu(h)
        layers = layers[1:]
    else:
        x = extras
    for layer in layers[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]
