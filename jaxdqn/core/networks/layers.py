"""Layers whose values equal the textbook ones, written so XLA runs them fast on CPUs.

``sum_rows`` is the product of a one-hot input with a weight matrix, computed from the list
of the input's nonzero rows; ``conv3x3`` is a same-padded 3x3 convolution with a cheaper
gradient. ``torch_uniform`` is PyTorch's default initialisation, so learning starts as in
the reference trainer.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def torch_uniform(fan_in: int):
    """PyTorch's default init for Linear and Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(max(fan_in, 1))

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def one_hot_board(board: jax.Array, num_channels: int, dtype=jnp.float32) -> jax.Array:
    """``uint8 [..., H, W]`` cells to a float ``[..., H, W, C]`` one-hot; cell 0 maps to all zeros.

    The dense input the reference feeds its networks; a network of your own can start here.
    """
    return jax.nn.one_hot(board.astype(jnp.int32) - 1, num_channels, dtype=dtype)


@jax.custom_vjp
def sum_rows(table: jax.Array, rows: jax.Array) -> jax.Array:
    """``sum_k table[rows[..., k]]``, where rows past the end of ``table`` add nothing.

    Written as K gathers of one row per list, added up: on CPUs XLA runs these faster than
    one gather of all ``[..., K, H]`` rows and a sum, which writes that whole intermediate out.
    The gradient is one scatter-add of the output gradient into every listed row.
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


def xla_conv3x3(x, w):
    """XLA's own same-padded, stride-1 NHWC convolution."""
    return jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


@jax.custom_vjp
def conv3x3(x: jax.Array, w: jax.Array) -> jax.Array:
    """A 3x3, stride-1, same-padded NHWC convolution whose gradient is cheap on CPUs.

    XLA's own backward convolutions are several times slower than its forward one on CPU;
    here the input gradient is a forward convolution with the flipped kernel and the weight
    gradient is nine shifted matrix products. The values are the same (tested).
    """
    return xla_conv3x3(x, w)


def _conv3x3_fwd(x, w):
    return xla_conv3x3(x, w), (x, w)


def _conv3x3_bwd(residuals, g):
    x, w = residuals
    _, height, width, c_in = x.shape
    dx = xla_conv3x3(g, jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2))
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    g_flat = g.reshape(-1, g.shape[-1])
    dw = jnp.stack([jnp.stack([padded[:, dy:dy + height, dx_:dx_ + width, :].reshape(-1, c_in).T @ g_flat
                               for dx_ in range(3)]) for dy in range(3)])
    return dx, dw


conv3x3.defvjp(_conv3x3_fwd, _conv3x3_bwd)
