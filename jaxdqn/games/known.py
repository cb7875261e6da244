"""Metadata for retro-games' example games that ship without a ``[tool.retro-gamer]`` table.

``retro.examples.snake`` has no pyproject.toml of its own; what an agent needs to know about
it (its keys, its reward and what its board shows) is written here once, so
``jaxdqn create retro.examples.snake RUN_DIR`` works like it does for nav and beast.
"""
from __future__ import annotations

KNOWN_GAMES: dict[str, dict] = {
    "retro.examples.snake": {
        "metadata": {
            "actions": ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"],
            "reward": "reward",  # +1 closer to the apple, -1 away, +50 eating it, -10 dying
            "character_set": ["*", "<", ">", "@", "^", "v"],
            "board_size": [32, 16],
        },
        "preprocessing": {"observe_state": ["apple_dx", "apple_dy"]},  # where the apple is, from the head
    },
}


def known_game(module: str) -> dict | None:
    """``{"metadata": ..., "preprocessing": ...}`` for a known example game, else None."""
    return KNOWN_GAMES.get(module)
