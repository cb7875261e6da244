"""A trained agent for other programs: ``TrainedPolicy`` picks keys, ``PolicyInput`` presses them.

    from jaxdqn.policy import TrainedPolicy, PolicyInput
    ai = TrainedPolicy("runs/snake")             # newest checkpoint, loaded on the CPU
    game = create_game()
    game.play(input_source=PolicyInput(ai, game))

Loading needs no GPU and nothing beyond jaxdqn's own dependencies; arrays are restored into
templates built on the CPU, and nothing in the checkpoint is executed.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
from blessed.keyboard import Keystroke
from retro.input import InputSource

from jaxdqn import learner
from jaxdqn.checkpoints import Checkpoints, checkpoint_name
from jaxdqn.config import load_config, snapshot, snapshot_differences
from jaxdqn.errors import JaxdqnError
from jaxdqn.games.metadata import game_factory
from jaxdqn.games.preprocessing import build_encoder
from jaxdqn.networks import NetworkSpec, Observation, make_network


class TrainedPolicy:
    """The greedy policy of a run's checkpoint (the newest, or ``checkpoint`` such as ``"ep_0100"``)."""

    def __init__(self, run_dir: str | Path, checkpoint: str | None = None):
        self.run_dir = Path(run_dir)
        config = load_config(self.run_dir)
        self.config = config
        self.metadata = config.metadata
        checkpoints = Checkpoints(self.run_dir / "checkpoints")
        try:
            self.episode = checkpoints.resolve(checkpoint)  # a missing checkpoint is the first thing to report
            self._load(config, checkpoints)
        finally:
            checkpoints.close()
        self.checkpoint = checkpoint_name(self.episode)

    def _load(self, config, checkpoints: Checkpoints) -> None:
        self.factory = game_factory(config.game["module"], config.game.get("factory"), config.game.get("path"))
        self.encoder, discovered = build_encoder(
            self.factory, config.metadata, dict(config.preprocessing),
            exploration_turns=config.training["exploration_turns"],
            unknown_character_strategy=config.training["unknown_character_strategy"])
        if "character_set" in discovered:
            raise JaxdqnError(f"{self.run_dir / 'config.toml'} has no character_set; it is recorded when training "
                              f"starts. Train first: jaxdqn train {self.run_dir}")
        pre = dict(config.preprocessing)
        pre["observe_state_sizes"] = self.encoder.observe_state_sizes
        board_h, board_w = self.encoder.board_shape
        self.spec = NetworkSpec(board_h, board_w, self.encoder.num_channels, self.encoder.num_extras,
                                tuple(config.model["hidden_sizes"]), self.metadata.num_actions,
                                bool(pre["spatial"]))
        meta = checkpoints.read_meta(self.episode)
        changes = snapshot_differences(meta.get("config", {}),
                                       snapshot(self.metadata, pre, {"hidden_sizes": config.model["hidden_sizes"]}))
        if changes:
            fields = ", ".join(f for f, *_ in changes)
            raise JaxdqnError(f"{checkpoint_name(self.episode)} was trained with a different {fields}; "
                              "undo the change in config.toml or train again.")
        network = make_network(self.spec)
        with jax.default_device(jax.devices("cpu")[0]):
            opt = learner.make_optimizer(config.training["learning_rate"])
            template = {"learner": learner.init_learner(jax.random.PRNGKey(0), network, opt),
                        "key": jax.random.PRNGKey(0)}
            state, self.meta, _ = checkpoints.restore(self.episode, template)
        self.params = state["learner"].params
        apply = network.apply
        self._q = jax.jit(lambda params, board, extras: apply(params, Observation(board[None], extras[None]))[0])

    def q_values(self, game) -> jax.Array:
        obs = self.encoder.encode(game)
        return self._q(self.params, obs.board, obs.extras)

    def greedy(self, obs: Observation) -> int:
        """The greedy action index for an already encoded observation."""
        return int(jnp.argmax(self._q(self.params, obs.board, obs.extras)))

    def action_index(self, game) -> int:
        return self.greedy(self.encoder.encode(game))

    def get_action(self, game) -> str | None:
        """The key to press in ``game``'s current state, or None for the no-op."""
        return self.metadata.action_key(self.action_index(game))


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
