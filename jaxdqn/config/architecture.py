"""The ``[INIT]`` account of a network in training.log: what it sees, why this architecture, and its layers."""
from __future__ import annotations

import jax

from jaxdqn.core.networks import CONV_CHANNELS, Network, count_params, make_network
from jaxdqn.core.types import NetworkSpec


def layer_table(network: Network) -> str:
    """flax's table of the module's layers, shapes and parameters, as plain text."""
    import flax.linen as nn

    example = network.spec.empty_observation((1,))
    table = nn.tabulate(network.module, jax.random.PRNGKey(0), compute_flops=False,
                        console_kwargs={"width": 110, "color_system": None, "force_terminal": False})
    return "\n".join(line.rstrip() for line in table(example).splitlines() if line.strip())


def describe(spec: NetworkSpec, actions: list[str] | None = None, network: Network | None = None,
             source: str | None = None, table: bool = True) -> str:
    """A short, human-readable account of the architecture and why it was chosen (``[INIT]`` lines).

    ``source`` names a network of the user's own (``"package.module:attribute"``).
    """
    network = network or make_network(spec)
    lines = ["[INIT] === Network Architecture ==="]
    if spec.has_board:
        lines.append(f"[INIT] Board: {spec.board_width}x{spec.board_height} cells, "
                     f"{spec.num_channels} channels (one-hot per cell)")
    else:
        lines.append("[INIT] Board: not observed (state values only)")
    lines.append(f"[INIT] Observed state values: {spec.num_extras}  |  Actions (with no-op): {spec.num_actions}")
    if source is not None:
        lines.append(f"[INIT] network = {source!r}: your own module")
    elif spec.spatial:
        conv_out = CONV_CHANNELS[-1] * spec.board_height * spec.board_width
        lines.append("[INIT] spatial = true: convolutional network")
        lines.append("[INIT] Why: the board is a 2-D scene, and 3x3 convolutions see nearby walls and")
        lines.append("[INIT]   items with far fewer weights than a fully connected layer would need.")
        lines.append(f"[INIT] CNN: Conv3x3({spec.num_channels}->{CONV_CHANNELS[0]}) ReLU "
                     f"Conv3x3({CONV_CHANNELS[0]}->{CONV_CHANNELS[1]}) ReLU, same padding -> {conv_out} features")
    else:
        lines.append("[INIT] spatial = false: fully connected network (MLP)")
        lines.append("[INIT] Why: a flat MLP over the whole observation is enough when layout")
        lines.append("[INIT]   matters less than which cells hold what.")
    if source is None:
        n_in = (CONV_CHANNELS[-1] * spec.board_height * spec.board_width if spec.spatial
                else spec.flat_board_size) + spec.num_extras
        chain = " -> ".join(str(s) for s in [n_in, *spec.hidden_sizes, spec.num_actions])
        lines.append(f"[INIT] MLP: {chain} (ReLU between layers)")
        if spec.dueling:
            lines.append(f"[INIT] Dueling head: Q = V + A - mean(A), from a value (1) and advantages "
                         f"({spec.num_actions}) over the last hidden layer")
    shapes = jax.eval_shape(network.init, jax.random.PRNGKey(0))
    lines.append(f"[INIT] Parameters: {count_params(shapes):,}")
    if actions is not None:
        lines.append(f"[INIT] Actions: {list(actions)} + (no-op)")
    if table:
        lines += [f"[INIT] {line}" for line in layer_table(network).splitlines()]
    return "\n".join(lines)
