"""A trained agent for other programs: ``TrainedPolicy`` picks keys, ``PolicyInput`` presses them.

    from jaxdqn.policy import TrainedPolicy, PolicyInput
    ai = TrainedPolicy("runs/snake")             # newest checkpoint, loaded on the CPU
    game = create_game()
    game.play(input_source=PolicyInput(ai, game))

Loading needs no GPU and nothing beyond jaxdqn's own dependencies; arrays are restored into
templates built on the CPU, nothing in the checkpoint is executed, and the run directory is
only read (a trainer may be writing it at the same time).
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from blessed.keyboard import Keystroke
from retro.input import InputSource

from jaxdqn.config import CONFIG_NAME, load_config
from jaxdqn.config.assembly import assemble_config
from jaxdqn.config.fingerprint import check_compatible
from jaxdqn.core import learner
from jaxdqn.core.acting import make_greedy
from jaxdqn.core.types import Observation
from jaxdqn.errors import JaxdqnError
from jaxdqn.run.checkpoints import CheckpointRemoved, Checkpoints, checkpoint_name
from jaxdqn.run.restore import restore_state


class TrainedPolicy:
    """The greedy policy of a run's checkpoint (the newest, or ``checkpoint`` such as ``"ep_0100"``); in a run of
    several agents (``num_seeds``, a ``[sweep]``), agent ``agent``'s."""

    def __init__(self, run_dir: str | Path, checkpoint: str | None = None, agent: int = 0):
        self.run_dir = Path(run_dir)
        self.agent = agent
        self.config = load_config(self.run_dir)
        checkpoints = Checkpoints(self.run_dir / "checkpoints")
        self.episode = checkpoints.resolve(checkpoint)  # a missing checkpoint is the first thing to report
        parts = assemble_config(self.config)
        if "character_set" in parts.game.discovered:
            raise JaxdqnError(f"{self.run_dir / CONFIG_NAME} has no character_set; it is recorded when training "
                              f"starts. Train first: jaxdqn train {self.run_dir}")
        self.parts = parts
        self.metadata = parts.metadata
        self.factory = parts.game.factory
        self.encoder = parts.game.encoder
        self.spec = parts.spec
        for attempt in range(3):
            try:
                self._load(checkpoints)
                break
            except CheckpointRemoved:  # a running trainer rotated it away: the newest is newer still
                if checkpoint is not None or attempt == 2:
                    raise
                self.episode = checkpoints.resolve(None)
        self._greedy = make_greedy(parts.network.apply)
        self._apply = jax.jit(parts.network.apply)

    def _load(self, checkpoints: Checkpoints) -> None:
        self.checkpoint = checkpoint_name(self.episode)
        meta = checkpoints.read_meta(self.episode)
        check_compatible(meta.get("config", {}), self.parts.snapshot(), self.checkpoint, self.run_dir, doing="load")
        agents = meta.get("num_seeds", 1) if meta.get("loop") == "compiled" else 1
        if not 0 <= self.agent < agents:
            sweep = meta.get("sweep")
            which = (f"; each configuration of its sweep has {agents // len(sweep)} (agents in order: "
                     f"{'; '.join(sweep)})" if sweep else "")
            raise JaxdqnError(f"--agent {self.agent}: {self.checkpoint} holds {agents} agent(s), numbered 0 to "
                              f"{agents - 1}{which}")
        optimizer = self.parts.settings.optimizer()
        with jax.default_device(jax.devices("cpu")[0]):
            template = {"learner": learner.init_learner(jax.random.PRNGKey(0), self.parts.network, optimizer),
                        "key": jax.random.PRNGKey(0)}
            state, self.meta, _ = restore_state(checkpoints, self.episode, meta, self.spec, optimizer, template,
                                            agent=self.agent)
        self.params = state["learner"].params

    def env(self):
        """A fresh game wrapper for this policy's game (the one eval and play step)."""
        return self.parts.game.env()

    def q_values(self, game) -> np.ndarray:
        obs = self.encoder.encode(game)
        return np.asarray(self._apply(self.params, _batch_of_one(obs)))[0]

    def greedy(self, obs: Observation) -> int:
        """The greedy action index for an already encoded observation."""
        return int(self._greedy(self.params, _batch_of_one(obs))[0])

    def action_index(self, game) -> int:
        return self.greedy(self.encoder.encode(game))

    def get_action(self, game) -> str | None:
        """The key to press in ``game``'s current state, or None for the no-op."""
        return self.metadata.action_key(self.action_index(game))


def _batch_of_one(obs: Observation) -> Observation:
    return Observation(obs.board[None], obs.extras[None])


def keystroke(key: str) -> Keystroke:
    """A blessed Keystroke for a key name ("KEY_LEFT") or a character ("a")."""
    if key.startswith("KEY_"):
        return Keystroke(ucs="", code=None, name=key)
    return Keystroke(ucs=key, code=None, name=None)


class PolicyInput(InputSource):
    """A retro-games input source that presses what ``policy`` chooses for ``game`` each turn."""

    def __init__(self, policy: TrainedPolicy, game):
        self.policy = policy
        self.game = game

    def collect(self) -> set:
        key = self.policy.get_action(self.game)
        return set() if key is None else {keystroke(key)}
