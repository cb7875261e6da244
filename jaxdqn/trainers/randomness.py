"""The run's seed (both loops), and the host loop's random numbers, saved and restored exactly.

Retro games draw from Python's global ``random`` module, so it is seeded; exploration draws
from a generator of its own (seed + 1), so the games' draws never shift the agent's; numpy's
global generator is seeded too. A checkpoint holds all three states, so a resumed run
continues the same sequence as an uninterrupted one.
"""
from __future__ import annotations

import random
import secrets

import numpy as np


def draw_seed(seed: int | None) -> tuple[int, bool]:
    """The run's seed: ``seed``, or one drawn when none is set; and whether it was drawn."""
    return (secrets.randbelow(2**31), True) if seed is None else (int(seed), False)


def seed_line(seed: int, drawn: bool) -> str:
    """training.log's line for a fresh start: the seed, and how to repeat a run whose seed was drawn."""
    if drawn:
        return f"[INIT] seed = {seed} (drawn; add seed = {seed} to [training] to repeat this run)"
    return f"[INIT] seed = {seed}"


class HostRandomness:
    def __init__(self, seed: int | None):
        self.seed, self.drawn = draw_seed(seed)
        random.seed(self.seed)  # retro games draw from the global random module
        np.random.seed(self.seed % 2**32)
        self.explore = random.Random(self.seed + 1)

    def discovery(self) -> random.Random:
        """A generator for measuring the game (the random turns that discover its characters)."""
        return random.Random(self.seed + 2)

    def state(self) -> dict:
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        return {"python_random": random.getstate(), "explore_random": self.explore.getstate(),
                "numpy_random": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}

    def load(self, meta: dict) -> None:
        random.setstate(_to_tuple(meta["python_random"]))
        self.explore.setstate(_to_tuple(meta["explore_random"]))
        name, keys, *rest = meta["numpy_random"]
        np.random.set_state((name, np.asarray(keys, np.uint32), *rest))


def _to_tuple(value):
    """JSON gave lists where the generator's state has tuples."""
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value
