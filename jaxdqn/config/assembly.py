"""From a run's settings to the parts a command needs: the one path shared by train, play, eval and create.

``build_game`` turns a game factory, its metadata and ``[preprocessing]`` into the host-side
game (encoder and environments), measuring what the settings leave out (character set,
board size, observed value sizes). ``assemble`` adds the network, optimizer and replay
buffer that the hyperparameters describe. Every command goes through these two functions,
so a network is always built from the same settings in the same way.
"""
from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass
from typing import Callable

from jaxdqn.config import RunConfig
from jaxdqn.config.fingerprint import snapshot
from jaxdqn.config.schema import MODEL_DEFAULTS, TRAINING_DEFAULTS
from jaxdqn.core.settings import Settings
from jaxdqn.core.types import NetworkSpec
from jaxdqn.games.encoding import ObservationEncoder
from jaxdqn.games.env import GameEnv
from jaxdqn.games.metadata import GameMetadata, game_factory, resolve
from jaxdqn.games.preprocessing import DEFAULTS as PREPROCESSING_DEFAULTS
from jaxdqn.games.preprocessing import build_encoder


@dataclass
class GameParts:
    """A retro game ready to be played by an agent: what it is, and how it is observed."""

    factory: Callable
    metadata: GameMetadata  # measured character set and board size filled in
    preprocessing: dict  # every key, measured observe_state sizes filled in
    encoder: ObservationEncoder
    discovered: dict  # values that had to be measured: "character_set", "board_size", "observe_state_sizes"

    def env(self) -> GameEnv:
        return GameEnv(self.factory, self.metadata.actions, self.metadata.reward, self.encoder)

    def config_updates(self) -> dict:
        """The measured values as config.toml "section.key" entries."""
        updates = {f"metadata.{k}": v for k, v in self.discovered.items() if k in ("character_set", "board_size")}
        if "observe_state_sizes" in self.discovered:
            updates["preprocessing.observe_state_sizes"] = self.discovered["observe_state_sizes"]
        return updates


def build_game(factory: Callable, metadata: GameMetadata, preprocessing: dict | None = None, *,
               exploration_turns: int = TRAINING_DEFAULTS["exploration_turns"],
               unknown_character_strategy: str = TRAINING_DEFAULTS["unknown_character_strategy"],
               rng: random.Random | None = None) -> GameParts:
    """The encoder for ``preprocessing``, with whatever it needs measured from the game first."""
    pre = {**PREPROCESSING_DEFAULTS, "spatial": metadata.spatial, **(preprocessing or {})}
    metadata = dataclasses.replace(metadata, spatial=pre["spatial"])
    encoder, discovered = build_encoder(factory, metadata, pre, exploration_turns=exploration_turns,
                                        unknown_character_strategy=unknown_character_strategy, rng=rng)
    if "character_set" in discovered:
        metadata.character_set = list(discovered["character_set"])
    if "board_size" in discovered:
        metadata.board_size = tuple(discovered["board_size"])
    if "observe_state_sizes" in discovered:
        pre["observe_state_sizes"] = dict(discovered["observe_state_sizes"])
    return GameParts(factory, metadata, pre, encoder, discovered)


def network_spec(encoder: ObservationEncoder, hidden_sizes, num_actions: int, spatial: bool,
                 dueling: bool = False) -> NetworkSpec:
    """The built-in network's shapes for what ``encoder`` produces."""
    board_h, board_w = encoder.board_shape
    return NetworkSpec(board_h, board_w, encoder.num_channels, encoder.num_extras, tuple(hidden_sizes),
                       num_actions, bool(spatial), bool(dueling))


NETWORK_FORMS = ("a flax module class (made with the NetworkSpec fields its own fields are named after, e.g. "
                 "num_actions, or a field named spec), a flax module, or a function of the NetworkSpec returning one")


def resolve_network(spec: NetworkSpec, choice):
    """The :class:`~jaxdqn.core.networks.Network` that ``[model] network`` names: the built-in one (None), a
    flax module class (its fields named after :class:`~jaxdqn.core.types.NetworkSpec` fields, or ``spec``, are
    filled in), a flax module, a function of the spec returning one, or a "package.module:attribute" naming
    any of these. Its output is checked to be Q-values ``[B, num_actions]``."""
    import flax.linen as nn
    import jax

    from jaxdqn.core.networks import make_network
    from jaxdqn.errors import ConfigError, Problem, raise_if
    from jaxdqn.games.metadata import check_reference

    if choice is None:
        return make_network(spec)
    name = choice if isinstance(choice, str) else f"{type(choice).__module__}.{type(choice).__qualname__}"

    def bad(what: str) -> ConfigError:
        return ConfigError([Problem("model.network", f"{name!r} {what}",
                                    "the trainer needs a flax module mapping a batch of Observations to Q-values "
                                    f"[batch, {spec.num_actions}]; accepted: {NETWORK_FORMS}",
                                    "see the README's 'Bring your own network'")], "the network")
    if isinstance(choice, str):
        problems: list[Problem] = []
        check_reference(choice, "network", "model", problems, "a flax module mapping observations to Q-values")
        raise_if(problems, "the network")
    module = resolve(choice) if isinstance(choice, str) else choice
    if isinstance(module, type) and issubclass(module, nn.Module):
        fields = [f for f in dataclasses.fields(module) if f.init and f.name not in ("parent", "name")]
        given = {f.name: spec if f.name == "spec" else getattr(spec, f.name) for f in fields
                 if f.name == "spec" or f.name in NetworkSpec._fields}
        missing = [f.name for f in fields if f.name not in given and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise bad(f"is a flax module class whose field(s) {', '.join(missing)} have no default and are not "
                      f"NetworkSpec fields ({', '.join(NetworkSpec._fields)}): give them defaults")
        try:
            module = module(**given)
        except Exception as exc:  # noqa: BLE001 - the user's class: say which and why
            raise bad(f"is a flax module class that could not be made with {sorted(given)} "
                      f"({type(exc).__name__}: {exc})") from exc
    elif not isinstance(module, nn.Module):
        if not callable(module):
            raise bad(f"is an object of type {type(module).__name__}, none of the accepted forms")
        try:
            module = module(spec)
        except Exception as exc:  # noqa: BLE001 - the user's factory: say which and why
            raise bad(f"is a function that could not be called with the NetworkSpec ({type(exc).__name__}: "
                      f"{exc})") from exc
        if not isinstance(module, nn.Module):
            raise bad(f"is a function that returned a {type(module).__name__}, not a flax module")
    network = make_network(spec, module)
    try:
        params = jax.eval_shape(network.init, jax.random.PRNGKey(0))
        q = jax.eval_shape(network.apply, params, spec.empty_observation((2,)))
    except Exception as exc:  # noqa: BLE001 - the user's module: say which and why
        raise bad(f"fails on a batch of observations ({type(exc).__name__}: {exc})") from exc
    if getattr(q, "shape", None) != (2, spec.num_actions):
        raise bad(f"returns shape {getattr(q, 'shape', type(q).__name__)} for a batch of 2, not "
                  f"(2, {spec.num_actions})")
    return network


def network_identity(network) -> str | None:
    """None for the built-in network, else the module's class path (part of a checkpoint's fingerprint)."""
    if network.builtin:
        return None
    cls = type(network.module)
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass
class RunParts:
    """Everything a run is built from: the game, the hyperparameters, the network's shape and the network."""

    game: GameParts
    hp: dict  # every [model] and [training] key, defaults filled in
    spec: NetworkSpec

    @property
    def metadata(self) -> GameMetadata:
        return self.game.metadata

    @functools.cached_property
    def network(self):
        return resolve_network(self.spec, self.hp.get("network"))

    def rows_width(self, occupied: int) -> int:
        """The row-list width replay stores boards in (0: boards as they are; modules of your own get boards)."""
        from jaxdqn.core.rows import stored_rows_width
        return stored_rows_width(self.spec, occupied) if self.network.builtin else 0

    @property
    def settings(self) -> Settings:
        """The algorithm's hyperparameters, typed (the optimizer and replay buffer come from them)."""
        return Settings.from_hyperparameters(self.hp)

    @functools.cached_property
    def param_shapes(self) -> dict:
        """``{path: shape}`` of the network's parameters (nothing allocated)."""
        import jax
        shapes = jax.eval_shape(self.network.init, jax.random.PRNGKey(0))
        return {jax.tree_util.keystr(path): list(leaf.shape)
                for path, leaf in jax.tree_util.tree_leaves_with_path(shapes)}

    def snapshot(self) -> dict:
        """The settings a checkpoint of this run depends on (see :mod:`jaxdqn.config.fingerprint`)."""
        model = {"hidden_sizes": list(self.hp["hidden_sizes"]), "network": network_identity(self.network),
                 "dueling": bool(self.hp.get("dueling", False)),
                 "param_shapes": self.param_shapes}
        return snapshot(self.metadata, self.game.preprocessing, model)


def assemble(factory: Callable, metadata: GameMetadata, preprocessing: dict | None, hyperparams: dict, *,
             rng: random.Random | None = None) -> RunParts:
    """The parts of a run from a game factory, its metadata, ``[preprocessing]`` and hyperparameters."""
    hp = {**MODEL_DEFAULTS, **TRAINING_DEFAULTS, **hyperparams}
    game = build_game(factory, metadata, preprocessing, exploration_turns=hp["exploration_turns"],
                      unknown_character_strategy=hp["unknown_character_strategy"], rng=rng)
    spec = network_spec(game.encoder, hp["hidden_sizes"], game.metadata.num_actions, game.preprocessing["spatial"],
                        hp.get("dueling", False))
    return RunParts(game, hp, spec)


def config_factory(config: RunConfig) -> Callable:
    """The game factory a validated config names (this imports the game's module); for a game written in
    JAX, its retro counterpart's (what play and eval show, and what its observations equal)."""
    if config.jax_game is not None:
        return game_factory(config.jax_game.retro_module)
    return game_factory(config.game["module"], config.game.get("factory"), config.game.get("path"))


def assemble_config(config: RunConfig, *, rng: random.Random | None = None) -> RunParts:
    """:func:`assemble` for a validated config.toml."""
    return assemble(config_factory(config), config.metadata, dict(config.preprocessing), config.hyperparams, rng=rng)
