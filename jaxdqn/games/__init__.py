"""Retro games on the host: the game wrapper (:mod:`~jaxdqn.games.env`), observation encoders, game metadata,
what the agent observes, greedy episodes and their recordings."""
