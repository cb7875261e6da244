"""A run directory's ``config.toml``, read and validated into a :class:`RunConfig`.

The sections are the reference trainer's (``[game]``, ``[metadata]``, ``[preprocessing]``,
``[model]``, ``[training]``), so a run directory made for it works unchanged; jaxdqn adds
a few ``[training]`` keys (seed, double_dqn, device, ...) and ``[distributed]``. Validation
lists every problem at once. The keys and their checks are in :mod:`jaxdqn.config.schema`;
the one writer is :mod:`jaxdqn.config.writing`.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaxdqn.config.schema import (DISTRIBUTED_DEFAULTS, MODEL_DEFAULTS, TRAINING_DEFAULTS, sweep_configurations,
                                  validate_distributed, validate_model, validate_sweep, validate_training)
from jaxdqn.errors import ConfigError, JaxdqnError, Problem, closest, unknown_keys
from jaxdqn.games.metadata import GameMetadata, import_game_module, load_pyproject_metadata, validate_metadata
from jaxdqn.games.preprocessing import DEFAULTS as PREPROCESSING_DEFAULTS
from jaxdqn.games.preprocessing import validate_preprocessing

CONFIG_NAME = "config.toml"
SECTIONS = ("game", "metadata", "preprocessing", "model", "training", "distributed", "sweep")
GAME_KEYS = ("module", "path", "factory")


@dataclass
class RunConfig:
    """A validated config.toml."""

    path: Path
    game: dict
    metadata: GameMetadata | None  # None only when loaded without importing the game and without [metadata]
    preprocessing: dict
    model: dict
    training: dict  # every key, defaults filled in
    jax_game: Any = None  # a JaxGame when [game] module names one (trained by the compiled loop)
    distributed: dict = None  # every [distributed] key, defaults filled in
    sweep: dict = None  # [sweep]: key -> list of values ({} without one)

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def hyperparams(self) -> dict:
        return {**self.model, **self.training}

    @property
    def configurations(self) -> list[dict]:
        """The [sweep]'s combinations of values, in order (``[{}]``: no sweep, one configuration)."""
        return sweep_configurations(self.sweep or {})


def read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark some editors write is not TOML
    except FileNotFoundError:
        raise JaxdqnError(
            f"{path} does not exist. Create a run with: jaxdqn create GAME {path.parent} "
            f"(or copy runs/snake/config.toml there).") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError([Problem(path.name, f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} on line {line})",
                                   "TOML files are UTF-8",
                                   "save it as UTF-8 in your editor, or retype the characters on that line")],
                          str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem(path.name, f"is not valid TOML: {exc}",
                                   "the file cannot be read at all until the syntax is fixed",
                                   "check quotes, brackets and '=' on the line shown (strings need quotes, "
                                   'e.g. module = "retro.examples.snake")')], str(path)) from None


def load_config(run_dir: str | Path, import_game: bool = True) -> RunConfig:
    """Read and validate ``RUN_DIR/config.toml``; raise ConfigError listing every problem.

    With ``import_game=False`` nothing of the game is imported or run (``info``, ``plot`` and
    ``clean`` look at someone's run without executing its code): the module and function
    names are checked for form only, and ``metadata`` is None when config.toml has no
    ``[metadata]`` (it then comes from the game's pyproject.toml, which needs the import).
    """
    path = Path(run_dir) / CONFIG_NAME
    if not Path(run_dir).is_dir():
        raise JaxdqnError(f"run directory {run_dir} does not exist. Create it with: jaxdqn create GAME {run_dir}")
    data = read_toml(path)
    problems: list[Problem] = []
    for section, value in data.items():
        if section not in SECTIONS:
            guess = closest(section, SECTIONS)
            problems.append(Problem(f"[{section}]", "is not a known section",
                                    f"known sections are {', '.join(f'[{s}]' for s in SECTIONS)}",
                                    f"rename it to [{guess}]" if guess else "remove it"))
        elif not isinstance(value, dict):
            problems.append(Problem(section, "is a value, not a table", "settings are grouped in tables",
                                    f"write it as [{section}] followed by its keys"))
    section = {s: data.get(s, {}) if isinstance(data.get(s, {}), dict) else {} for s in SECTIONS}
    game = section["game"]
    problems.extend(unknown_keys(game, GAME_KEYS, "game", "game setting"))
    module = game.get("module")
    game_path = game.get("path")
    if isinstance(game_path, str) and not Path(game_path).is_absolute():
        game_path = str((path.parent / game_path).resolve())
    module_ok = False
    if not isinstance(module, str) or not module:
        problems.append(Problem("game.module", "is missing" if module is None else f"{module!r} is not a module name",
                                "the trainer imports the game from this module",
                                'module = "retro.examples.snake"  (and path = "folder" if it is not installed)'))
    elif import_game:
        try:
            import_game_module(module, game_path)
            module_ok = True
        except JaxdqnError as exc:
            guess = getattr(exc, "guess", None)
            problems.append(Problem("game.module", f"{module!r} cannot be imported ({exc.__cause__ or exc})",
                                    "the trainer builds every episode's game from this module",
                                    (f"did you mean module = {guess!r}? Or, " if guess else "check the spelling; ")
                                    + "for a game that is not installed, set path to the folder that contains it, "
                                    'e.g. path = "../games"'))
    meta_data = section["metadata"]
    metadata = None
    jax_game = None
    if module_ok:
        from jaxdqn.jaxgames.protocol import find_jax_game
        jax_game = find_jax_game(module)
    if jax_game is not None:
        problems.extend(_check_jax_game(jax_game, meta_data, section["preprocessing"]))
        meta_data = {**jax_game.metadata, **meta_data}
    if not meta_data and module_ok:
        try:
            metadata, _ = load_pyproject_metadata(module, game_path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    elif meta_data or import_game:
        meta_problems = validate_metadata(meta_data, "metadata", import_modules=import_game)
        problems.extend(meta_problems)
        if not meta_problems:
            metadata = GameMetadata.from_dict(meta_data, import_modules=import_game)
    pre = section["preprocessing"]
    if metadata is not None and "spatial" in pre and isinstance(pre["spatial"], bool):
        metadata.spatial = pre["spatial"]
    problems.extend(validate_preprocessing(pre, metadata))
    problems.extend(validate_model(section["model"]))
    problems.extend(validate_training(section["training"]))
    problems.extend(validate_distributed(section["distributed"], section["training"]))
    problems.extend(validate_sweep(section["sweep"], section["training"]))
    asks_more = {**DISTRIBUTED_DEFAULTS, **section["distributed"]}
    if jax_game is None and module_ok and (asks_more["devices"] != 1 or asks_more["coordinator"] is not None):
        problems.append(Problem("distributed", "asks for more devices or machines for a retro game",
                                "a retro game runs in Python, one step at a time on one machine; devices and "
                                "machines share one compiled program, which needs the game written in JAX",
                                "remove [distributed], or train a JAX game (module = \"jaxdqn.jaxgames.snake\"); "
                                "for more throughput with a retro game raise num_envs"))
    if jax_game is None and module_ok and section["training"].get("num_seeds", 1) != 1:
        problems.append(Problem("training.num_seeds", f"is {section['training']['num_seeds']!r} for a retro game",
                                "agents trained together in one program need the game written in JAX; a retro game "
                                "runs in Python, one step at a time",
                                "remove num_seeds (or train a JAX game, e.g. module = \"jaxdqn.jaxgames.snake\"), "
                                "and run several copies of the run directory instead"))
    if section["sweep"] and module_ok and jax_game is None:
        problems.append(Problem("sweep", "is set for a retro game",
                                "a sweep trains every configuration together in one compiled program, which "
                                "needs the game written in JAX; a retro game runs in Python, one step at a time",
                                "remove [sweep] and run one directory per configuration (or train a JAX game, "
                                "e.g. module = \"jaxdqn.jaxgames.snake\")"))
    if section["sweep"] and (asks_more["devices"] != 1 or asks_more["coordinator"] is not None):
        problems.append(Problem("sweep", "is set with [distributed] devices or machines",
                                "a sweep's agents each hold their own hyperparameters, which the distributed "
                                "program does not carry yet: a sweep trains on one device",
                                "remove [distributed], or run one directory per configuration"))
    if problems:
        raise ConfigError(problems, str(path), footer=f"Fix these in {path} and run the same command again.")
    spatial = metadata.spatial if metadata is not None else pre.get("spatial", False)
    if jax_game is not None:
        pre = {**jax_game.preprocessing, **pre}
    return RunConfig(
        path=path,
        game={"module": module, "path": game_path,
              "factory": game.get("factory") or (metadata.factory if metadata is not None else None)},
        metadata=metadata,
        preprocessing={**PREPROCESSING_DEFAULTS, "spatial": spatial, **pre},
        model={**MODEL_DEFAULTS, **section["model"]},
        training={**TRAINING_DEFAULTS, **section["training"]},
        jax_game=jax_game,
        distributed={**DISTRIBUTED_DEFAULTS, **section["distributed"]},
        sweep=dict(section["sweep"]),
    )


def _check_jax_game(game, meta_data: dict, pre: dict) -> list[Problem]:
    """A JAX game's actions, reward, characters and observation are fixed by its code: config.toml may
    repeat them, not change them."""
    problems = []
    for key, value in meta_data.items():
        if key in game.metadata and value != game.metadata[key]:
            problems.append(Problem(f"metadata.{key}", f"is {value!r}, but the JAX game defines {game.metadata[key]!r}",
                                    "a JAX game's observation and actions are part of its code",
                                    f"remove {key} from [metadata] (or set it to {game.metadata[key]!r})"))
    for key, value in pre.items():
        fixed = {"board": True, "spatial": pre.get("spatial", False), "egocentric": False, **game.preprocessing}
        if key not in fixed or value != fixed[key]:
            problems.append(Problem(f"preprocessing.{key}", f"is {value!r}, but the JAX game's observation is fixed",
                                    "a JAX game produces its observation itself, exactly as the host encoder does "
                                    f"for its retro counterpart with {game.preprocessing}",
                                    f"remove {key} from [preprocessing]"))
    from jaxdqn.jaxgames.protocol import contract_problems
    for problem in contract_problems(game):
        problems.append(Problem("game.module", f"{game.name}: {problem}",
                                "the compiled loop sizes the network, replay and records from the game's metadata "
                                "and the JaxGame contract", "fix the game's reset or step (see the README, "
                                "\"Writing a game in JAX\")"))
    return problems
