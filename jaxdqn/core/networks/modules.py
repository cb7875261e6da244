"""The built-in Q-networks as flax modules: an MLP, or for spatial games a small CNN before it.

Both read compact observations (``uint8`` board codes and float extras) and compute what
the reference's PyTorch model computes from its dense one-hot input. The MLP's first layer
keeps its board rows (``board_kernel``) apart from its extras rows (``extras_kernel``) and
reads a board given as row lists (:class:`~jaxdqn.core.types.RowsObservation`) as a gather of
rows. Parameters are a standard flax tree::

    {"input": {"board_kernel", "extras_kernel", "bias"},   # MLP over a board
     "conv_0": {"kernel", "bias"}, "conv_1": ...,            # CNN only
     "hidden_1": {"kernel", "bias"}, ...,
     "q_values": {"kernel", "bias"}}                         # or, with a dueling head (spec.dueling),
                                                             # "value" and "advantage"

Kernels are ``[inputs, outputs]`` (``[3, 3, in, out]`` for convolutions): the transpose of
PyTorch's ``weight``.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdqn.core.networks.layers import conv3x3, one_hot_board, one_hot_dense, sum_listed_rows, sum_rows, torch_uniform
from jaxdqn.core.rows import reading_widths
from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation

CONV_CHANNELS = (32, 64)


class TorchDense(nn.Module):
    """``x @ kernel + bias`` with PyTorch's default initialisation (bias included)."""

    features: int

    @nn.compact
    def __call__(self, x):
        fan_in = x.shape[-1]
        kernel = self.param("kernel", torch_uniform(fan_in), (fan_in, self.features))
        bias = self.param("bias", torch_uniform(fan_in), (self.features,))
        return x @ kernel + bias


class BoardInput(nn.Module):
    """An MLP's first layer over a one-hot board and extras, computed without building the one-hot input."""

    features: int
    spec: NetworkSpec

    @nn.compact
    def __call__(self, obs):
        board_inputs, n_extras = self.spec.flat_board_size, self.spec.num_extras
        init = torch_uniform(board_inputs + n_extras)
        board_kernel = self.param("board_kernel", init, (board_inputs, self.features))
        bias = self.param("bias", init, (self.features,))
        if isinstance(obs, RowsObservation) and obs.rows.shape[-1] >= self.spec.board_height * self.spec.board_width:
            h = sum_listed_rows(board_kernel, obs.rows, reading_widths(self.spec))  # lists that hold any board
        elif isinstance(obs, RowsObservation):
            h = sum_rows(board_kernel, obs.rows)
        else:
            onehot = one_hot_board(obs.board, self.spec.num_channels)
            h = one_hot_dense(onehot.reshape(onehot.shape[0], -1), board_kernel)
        if n_extras:
            h = h + obs.extras.astype(jnp.float32) @ self.param("extras_kernel", init, (n_extras, self.features))
        return h + bias


class Conv3x3(nn.Module):
    """A same-padded 3x3 convolution (PyTorch's ``Conv2d(c, features, 3, padding=1)``), NHWC,
    followed by a ReLU if ``relu`` (computed in the same pass where oneDNN runs it)."""

    features: int
    relu: bool = False

    @nn.compact
    def __call__(self, x):
        c_in = x.shape[-1]
        init = torch_uniform(9 * c_in)
        kernel = self.param("kernel", init, (3, 3, c_in, self.features))
        bias = self.param("bias", init, (self.features,))
        return conv3x3(x, kernel, bias, self.relu)


class QNetwork(nn.Module):
    """Q-values ``[B, num_actions]`` for a batch of compact observations (row lists: the MLP only)."""

    spec: NetworkSpec

    @nn.compact
    def __call__(self, obs):
        spec = self.spec
        check_observations(obs, spec)
        extras = obs.extras.astype(jnp.float32)
        first, *rest = spec.hidden_sizes
        if spec.spatial:
            x = one_hot_board(obs.board, spec.num_channels)
            for i, channels in enumerate(CONV_CHANNELS):
                x = Conv3x3(channels, relu=True, name=f"conv_{i}")(x)
            x = jnp.concatenate([x.reshape(x.shape[0], -1), extras], -1)
            x = nn.relu(TorchDense(first, name="input")(x))
        elif spec.has_board:
            x = nn.relu(BoardInput(first, spec, name="input")(obs))
        else:
            x = nn.relu(TorchDense(first, name="input")(extras))
        for i, size in enumerate(rest, 1):
            x = nn.relu(TorchDense(size, name=f"hidden_{i}")(x))
        if spec.dueling:  # a state's value and each action's advantage, the advantages centred
            value = TorchDense(1, name="value")(x)
            advantage = TorchDense(spec.num_actions, name="advantage")(x)
            return value + advantage - advantage.mean(-1, keepdims=True)
        return TorchDense(spec.num_actions, name="q_values")(x)


def check_observations(obs, spec: NetworkSpec) -> None:
    """At trace time: ``obs`` is a batch of observations shaped as ``spec`` says, or a clear error."""
    if not isinstance(obs, Observation | RowsObservation):
        raise TypeError(f"a Q-network takes an Observation (or RowsObservation) batch, not a "
                        f"{type(obs).__name__}: build one with jaxdqn.Observation(board, extras), board uint8 "
                        f"[B, {spec.board_height}, {spec.board_width}] and extras float32 [B, {spec.num_extras}]")
    extras = jnp.shape(obs.extras)
    if len(extras) != 2 or extras[1] != spec.num_extras:
        raise ValueError(f"extras must be [batch, {spec.num_extras}], got shape {extras}"
                         + (": add a leading batch axis, e.g. obs.extras[None]" if len(extras) == 1 else ""))
    if isinstance(obs, RowsObservation):
        rows = jnp.shape(obs.rows)
        if spec.spatial or not spec.has_board or len(rows) != 2 or rows[0] != extras[0]:
            raise ValueError(f"row lists are for an MLP over a board and must be [batch, K]; got shape {rows} "
                             f"for {'a CNN' if spec.spatial else 'this network'}")
        return
    board = jnp.shape(obs.board)
    want = (extras[0], *spec.board_shape)
    if tuple(board) != want:
        hint = ": add a leading batch axis, e.g. obs.board[None]" if len(board) == 2 and spec.has_board else ""
        raise ValueError(f"board must be [batch, height, width] = {list(want)}, got shape {tuple(board)}{hint}")
    if spec.has_board and jax.dtypes.issubdtype(jnp.result_type(obs.board), jnp.floating):
        raise TypeError("board holds cell codes (uint8: 0 empty, k = the k-th character), not floats")
