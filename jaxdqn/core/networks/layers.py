"""Layers whose values equal the textbook ones, written so XLA runs them fast on CPUs.

``sum_rows`` is the product of a one-hot input with a weight matrix, computed from the list
of the input's nonzero rows (``sum_listed_rows``: from lists long enough for any board, reading
only as much of them as a batch needs); ``conv3x3`` is a same-padded 3x3 convolution, by oneDNN on CPUs
(``jaxdqn.native``) or in XLA's operations with a cheaper gradient than XLA's own.
``torch_uniform`` is PyTorch's default initialisation, so learning starts as in the reference
trainer.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jaxdqn import native
from jaxdqn.core.member_loops import any_member


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


UNROLLED_ROWS = 32  # lists up to this long are read by as many gathers, written out; longer ones in a loop


@jax.custom_vjp
def sum_rows(table: jax.Array, rows: jax.Array) -> jax.Array:
    """``sum_k table[rows[..., k]]``, where rows past the end of ``table`` add nothing.

    Written as K gathers of one row per list, added up in list order: XLA runs these faster on CPUs
    than one gather of all ``[..., K, H]`` rows and a sum, which writes that whole intermediate out.
    Lists longer than ``UNROLLED_ROWS`` are read in a loop (eight gathers an iteration), as fast and
    compiled in a fraction of the time. Either way the rows are added in list order, so lists that
    differ only in padding give the same float sums. The gradient is one scatter-add of the output
    gradient into every listed row.
    """
    rows = rows.astype(jnp.int32)

    def add_row(total, row):
        return total + jnp.take(table, row, axis=0, mode="fill", fill_value=0), None

    first = jnp.take(table, rows[..., 0], axis=0, mode="fill", fill_value=0)
    rest = jnp.moveaxis(rows[..., 1:], -1, 0)
    if rows.shape[-1] > UNROLLED_ROWS:
        return jax.lax.scan(add_row, first, rest, unroll=8)[0]
    for row in rest:
        first = add_row(first, row)[0]
    return first


def _sum_rows_fwd(table, rows):
    return sum_rows(table, rows), (rows, table.shape)


def _sum_rows_bwd(residuals, g):
    rows, shape = residuals
    per_row = jnp.broadcast_to(g[..., None, :], rows.shape + shape[1:]).reshape(-1, shape[1])
    d_table = jnp.zeros(shape, g.dtype).at[rows.reshape(-1).astype(jnp.int32)].add(per_row, mode="drop")
    return d_table, None


sum_rows.defvjp(_sum_rows_fwd, _sum_rows_bwd)


def sum_listed_rows(table: jax.Array, rows: jax.Array, widths: tuple[int, ...]) -> jax.Array:
    """:func:`sum_rows` of ``[B, K]`` lists that may be as long as the board (so no board overflows them),
    reading the first ``w`` entries for the smallest ``w`` in ``widths`` (ascending) that holds every list
    of the batch; past them, the whole lists if a width is at least K, else the product with the one-hot
    input the lists describe.

    Lists fill from the front, so a list with at most ``w`` rows is whole in its first ``w`` entries, and
    every reading adds the same rows in the same order: all give exactly what ``sum_rows(table, rows)``
    gives but the product, which sums in another order. One reading runs per call, chosen for the whole
    batch and, under ``vmap``, for every member together (:func:`any_member`).
    """
    pad, k = table.shape[0], rows.shape[-1]
    narrow = tuple(w for w in widths if w < k)
    longer = [any_member(jnp.any(rows[..., w] < pad)) for w in narrow]  # some list holds more than w rows
    reading = sum((x.astype(jnp.int32) for x in longer), jnp.int32(0))
    whole = sum_rows if len(narrow) < len(widths) else _listed_one_hot_product
    readings = [functools.partial(_first_rows, w) for w in narrow] + [whole]
    return jax.lax.switch(reading, readings, table, rows) if narrow else whole(table, rows)


def _first_rows(width, table, rows):
    return sum_rows(table, rows[..., :width])


def _listed_one_hot_product(table, rows):
    """``one_hot @ table`` for the one-hot inputs that ``[B, K]`` lists describe."""
    batch = rows.shape[0]
    x = jnp.zeros((batch, table.shape[0] + 1), table.dtype)  # the last column takes the padding
    x = x.at[jnp.arange(batch)[:, None], jnp.minimum(rows.astype(jnp.int32), table.shape[0])].set(1)
    return one_hot_dense(x[:, :-1], table)


@jax.custom_vjp
def one_hot_dense(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``x @ kernel`` for a batch of (one-hot) inputs ``x``, which take no gradient.

    The kernel's gradient is written ``x.T @ g`` with ``x`` first, so it comes out ``[inputs, outputs]``
    as the kernel is laid out: under ``vmap`` (seeds, sweeps) XLA's CPU backend otherwise computes
    ``g.T @ x`` and transposes it inside Adam's pass over the kernel, reading it across its rows.
    """
    return x @ kernel


def _one_hot_dense_fwd(x, kernel):
    return x @ kernel, x


def _one_hot_dense_bwd(x, g):
    return None, jnp.einsum("bi,bj->ij", x, g)


one_hot_dense.defvjp(_one_hot_dense_fwd, _one_hot_dense_bwd)


def xla_conv3x3(x, w):
    """XLA's own same-padded, stride-1 NHWC convolution."""
    return jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv3x3(x: jax.Array, w: jax.Array, bias: jax.Array | None = None, relu: bool = False) -> jax.Array:
    """A 3x3, stride-1, same-padded NHWC convolution plus ``bias``, then ``max(., 0)`` if ``relu``.

    ``x`` is ``[N, H, W, Cin]``, ``w`` is ``[3, 3, Cin, Cout]`` (HWIO), ``bias`` is ``[Cout]``.
    On CPUs oneDNN computes it (bias and ReLU in the same pass, gradients too) where its kernel
    builds (``jaxdqn.native.load()`` says), else XLA's operations do; both give the same values
    to float32 rounding (tested).
    """
    if x.dtype == w.dtype == jnp.float32 and (bias is None or bias.dtype == jnp.float32) \
            and traced_for_the_cpu() and native.load().onednn:
        return conv3x3_onednn(x, w, jnp.zeros(w.shape[-1:], w.dtype) if bias is None else bias, relu)
    return _bias_relu(conv3x3_xla(x, w), bias, relu)


def traced_for_the_cpu() -> bool:
    """Whether programs traced now run on the CPU: ``jax.default_device``'s platform where one is set
    (the trainers set it, e.g. ``device = "cpu"`` on a machine with a GPU), else the default backend's."""
    device = jax.config.jax_default_device
    if device is None:
        return jax.default_backend() == "cpu"
    return getattr(device, "platform", device) == "cpu"


def _bias_relu(y, bias, relu):
    y = y if bias is None else y + bias
    return jax.nn.relu(y) if relu else y


@jax.custom_vjp
def conv3x3_xla(x: jax.Array, w: jax.Array) -> jax.Array:
    """The convolution of :func:`conv3x3` (no bias) in XLA's operations, with a cheaper gradient.

    XLA's own backward convolutions are several times slower than its forward one on CPU;
    here the input gradient is a forward convolution with the flipped kernel and the weight
    gradient is nine shifted matrix products. The values are the same (tested).
    """
    return xla_conv3x3(x, w)


def _input_grad_xla(g, w):
    return xla_conv3x3(g, jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2))


def _weight_grad_xla(x, g):
    _, height, width, c_in = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    g_flat = g.reshape(-1, g.shape[-1])
    return jnp.stack([jnp.stack([padded[:, dy:dy + height, dx:dx + width, :].reshape(-1, c_in).T @ g_flat
                                 for dx in range(3)]) for dy in range(3)])


conv3x3_xla.defvjp(lambda x, w: (xla_conv3x3(x, w), (x, w)),
                   lambda residuals, g: (_input_grad_xla(g, residuals[1]), _weight_grad_xla(residuals[0], g)))


def _onednn_call(target: str, shapes, *args, **attributes):
    """One of the kernel's FFI targets (jaxdqn/native/conv3x3.cc); under vmap, one call per member.

    Inside ``shard_map`` the results vary across the mesh axes the arguments vary across (an FFI
    call's results are otherwise typed as the same on every device, which a custom gradient's
    types and a ``lax.cond``'s branches must not disagree with).
    """
    out = [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in shapes]
    results = jax.ffi.ffi_call(target, out, vmap_method="sequential")(*args, **attributes)
    varying = tuple(sorted(frozenset().union(*map(_varying_axes, args))))
    return [jax.lax.pcast(r, varying, to="varying") for r in results] if varying else results


def _varying_axes(x) -> frozenset:
    """The ``shard_map`` axes along which ``x`` differs from device to device (none outside one)."""
    aval = jax.typeof(x)
    manual = getattr(aval, "manual_axis_type", None)  # jax >= 0.10; before: aval.vma
    return frozenset(manual.varying) if manual is not None else frozenset(getattr(aval, "vma", ()))


def _onednn_forward(x, w, bias, *, relu):
    return _onednn_call("jaxdqn_conv3x3", [x.shape[:-1] + w.shape[-1:]], x, w, bias, relu=relu)[0]


def _onednn_input_grad(g, w):
    return _onednn_call("jaxdqn_conv3x3_input_grad", [g.shape[:-1] + w.shape[2:3]], g, w)[0]


def _onednn_weight_grads(x, g):
    return tuple(_onednn_call("jaxdqn_conv3x3_weight_grad", [(3, 3, x.shape[-1], g.shape[-1]), g.shape[-1:]], x, g))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def conv3x3_onednn(x: jax.Array, w: jax.Array, bias: jax.Array, relu: bool = False) -> jax.Array:
    """:func:`conv3x3` by oneDNN, forward and backward: float32, in programs for the CPU, once
    ``jaxdqn.native.load().onednn`` (which :func:`conv3x3` checks when it is traced)."""
    return _onednn_forward(x, w, bias, relu=relu)


def _conv3x3_onednn_fwd(x, w, bias, relu):
    y = conv3x3_onednn(x, w, bias, relu)
    return y, (x, w, bias, y if relu else None)


def _conv3x3_onednn_bwd(relu, residuals, g):
    x, w, bias, y = residuals
    if relu:
        g = jnp.where(y > 0, g, 0.0)
    dw, dbias = _onednn_weight_grads(x, g)
    return tuple(_summed_like(grad, primal) for grad, primal in zip((_onednn_input_grad(g, w), dw, dbias),
                                                                    (x, w, bias)))


def _summed_like(grad, primal):
    """``grad`` summed over the ``shard_map`` axes it varies along and ``primal`` does not: a value
    the same on every device was used by each, so its gradient is the sum of theirs."""
    extra = _varying_axes(grad) - _varying_axes(primal)
    return jax.lax.psum(grad, tuple(sorted(extra))) if extra else grad


conv3x3_onednn.defvjp(_conv3x3_onednn_fwd, _conv3x3_onednn_bwd)
