"""Checkpoints written before the networks were flax modules (jaxdqn 0.1.0) still load.

Their parameters were ``{"conv": [{"w", "b"}, ...], "mlp": [{"w_board", "w", "b"}, {"w", "b"}, ...]}``;
the same arrays now live in the flax tree of :class:`~jaxdqn.core.networks.modules.QNetwork`. A
checkpoint's metadata says which layout it holds (no ``param_layout`` means the old one).
The optimizer's moments have the parameters' layout, so they move the same way.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdqn.core.networks.modules import CONV_CHANNELS
from jaxdqn.core.types import NetworkSpec

PARAM_LAYOUT = "flax-1"  # written into each checkpoint's metadata


def legacy_params_shapes(spec: NetworkSpec) -> dict:
    """Zeros in the old layout for ``spec`` (a restore template)."""
    conv, c_in = [], spec.num_channels
    if spec.spatial:
        for c_out in CONV_CHANNELS:
            conv.append({"w": jnp.zeros((3, 3, c_in, c_out)), "b": jnp.zeros((c_out,))})
            c_in = c_out
        n_in = CONV_CHANNELS[-1] * spec.board_height * spec.board_width + spec.num_extras
    else:
        n_in = spec.flat_board_size + spec.num_extras
    sizes = [n_in, *spec.hidden_sizes, spec.num_actions]
    mlp = [{"w": jnp.zeros((a, b)), "b": jnp.zeros((b,))} for a, b in zip(sizes[:-1], sizes[1:])]
    if spec.has_board and not spec.spatial:
        first = {"w_board": jnp.zeros((spec.flat_board_size, sizes[1])), "b": mlp[0]["b"]}
        if spec.num_extras:
            first["w"] = jnp.zeros((spec.num_extras, sizes[1]))
        mlp[0] = first
    return {"conv": conv, "mlp": mlp}


def is_legacy_params(tree) -> bool:
    return isinstance(tree, dict) and set(tree) == {"conv", "mlp"}


def from_legacy(params: dict, spec: NetworkSpec) -> dict:
    """The old layout's arrays in the flax tree (the same arrays, renamed)."""
    out = {}
    for i, layer in enumerate(params["conv"]):
        out[f"conv_{i}"] = {"kernel": layer["w"], "bias": layer["b"]}
    first, *rest = params["mlp"]
    if "w_board" in first:
        out["input"] = {"board_kernel": first["w_board"], "bias": first["b"]}
        if "w" in first:
            out["input"]["extras_kernel"] = first["w"]
    else:
        out["input"] = {"kernel": first["w"], "bias": first["b"]}
    for i, layer in enumerate(rest[:-1], 1):
        out[f"hidden_{i}"] = {"kernel": layer["w"], "bias": layer["b"]}
    out["q_values"] = {"kernel": rest[-1]["w"], "bias": rest[-1]["b"]}
    return out


def migrate_tree(tree, spec: NetworkSpec):
    """Every old-layout parameter tree inside ``tree`` (parameters, target, Adam's moments) moved to flax."""
    return jax.tree.map(lambda node: from_legacy(node, spec) if is_legacy_params(node) else node, tree,
                        is_leaf=is_legacy_params)
