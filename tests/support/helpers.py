"""Small builders shared by the tests."""
import jax.numpy as jnp
import numpy as np

from jaxdqn.core.types import NetworkSpec, Observation, Transition

SMALL_SPEC = NetworkSpec(board_height=4, board_width=5, num_channels=3, num_extras=2,
                         hidden_sizes=(16, 8), num_actions=3)


def random_observations(rng, spec, n, density=0.3):
    board = rng.integers(1, spec.num_channels + 1, (n, spec.board_height, spec.board_width))
    board = board * (rng.random(board.shape) < density)
    return Observation(jnp.asarray(board, jnp.uint8),
                       jnp.asarray(rng.normal(size=(n, spec.num_extras)), jnp.float32))


def random_transitions(rng, spec, n):
    return Transition(
        obs=random_observations(rng, spec, n),
        action=jnp.asarray(rng.integers(0, spec.num_actions, n), jnp.int32),
        reward=jnp.asarray(rng.normal(size=n), jnp.float32),
        next_obs=random_observations(rng, spec, n),
        done=jnp.asarray(rng.random(n) < 0.2),
    )


def numpy_dense_input(spec, obs):
    """The reference's host-side encoding: one float per (cell, character), then extras."""
    board = np.asarray(obs.board)
    n = board.shape[0]
    onehot = np.zeros((n, spec.board_height, spec.board_width, spec.num_channels), np.float32)
    for c in range(1, spec.num_channels + 1):
        onehot[..., c - 1] = board == c
    return np.concatenate([onehot.reshape(n, -1), np.asarray(obs.extras)], axis=1)
