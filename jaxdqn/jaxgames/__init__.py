"""Games written in JAX (see :mod:`jaxdqn.jaxgames.protocol`); :mod:`jaxdqn.jaxgames.snake` ports retro's snake,
and :func:`from_gymnax` (:mod:`jaxdqn.jaxgames.gymnax_adapter`) makes a gymnax environment one."""
from jaxdqn.jaxgames.gymnax_adapter import from_gymnax
from jaxdqn.jaxgames.protocol import JaxGame, Stepped, find_jax_game, step_and_reset, step_and_reset_games

__all__ = ["JaxGame", "Stepped", "find_jax_game", "from_gymnax", "step_and_reset", "step_and_reset_games"]
