"""Games written in JAX (see :mod:`jaxdqn.jaxgames.protocol`); :mod:`jaxdqn.jaxgames.snake` ports retro's snake."""
from jaxdqn.jaxgames.protocol import JaxGame, Stepped, find_jax_game, step_and_reset

__all__ = ["JaxGame", "Stepped", "find_jax_game", "step_and_reset"]
