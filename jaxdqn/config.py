"""A run directory's ``config.toml``: schema, defaults, validation, and careful write-back.

The schema is the reference trainer's (``[game]``, ``[metadata]``, ``[preprocessing]``,
``[model]``, ``[training]``), so a run directory made for it works unchanged; jaxdqn adds
a few ``[training]`` keys (seed, double_dqn, device, ...). Validation lists every problem at
once. Values measured from the game are added with tomlkit, which keeps the user's
comments and key order; nothing the user wrote is ever changed.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaxdqn.device import CHOICES as DEVICE_CHOICES
from jaxdqn.errors import ConfigError, JaxdqnError, Problem, closest, is_int, unknown_keys
from jaxdqn.games.encoding import UNKNOWN_STRATEGIES
from jaxdqn.games.metadata import GameMetadata, import_game_module, load_pyproject_metadata, validate_metadata
from jaxdqn.games.preprocessing import DEFAULTS as PREPROCESSING_DEFAULTS
from jaxdqn.games.preprocessing import validate_preprocessing

CONFIG_NAME = "config.toml"
# [model]: the built-in network's hidden layers, or a flax module of your own ("package.module:attribute").
MODEL_DEFAULTS = {"hidden_sizes": [128, 64], "network": None}

# Every [training] key, its default and one line on what it means. The first block
# mirrors the reference trainer exactly; the second is jaxdqn's.
TRAINING_KEYS: dict[str, tuple[Any, str]] = {
    "learning_rate": (1e-4, "Adam step size"),
    "learning_rate_decay": (0.9999, "learning rate multiplier after each episode that trained"),
    "gamma": (0.99, "discount: how much future rewards count against immediate ones"),
    "epsilon": (1.0, "initial probability of a random action"),
    "epsilon_decay": (0.9997, "epsilon multiplier after each episode"),
    "epsilon_min": (0.05, "epsilon never decays below this"),
    "batch_size": (64, "transitions per gradient step"),
    "memory_capacity": (50_000, "transitions the replay buffer holds; the oldest are dropped"),
    "target_update_freq": (500, "game steps between copies of the network into the target network"),
    "train_every": (4, "game steps per gradient step"),
    "training_episodes": (20_000, "train until this many episodes have been played"),
    "prioritize_experiences": (True, "prioritized replay (alpha 0.6, beta 0.4) instead of uniform"),
    "exploration_turns": (200, "random turns played to discover the character set when it is not given"),
    "unknown_character_strategy": ("ignore", "a board character missing from character_set: 'ignore' or 'error'"),
    "max_turns_per_episode": (2_000, "an episode is cut off after this many turns"),
    # jaxdqn additions
    "seed": (None, "same seed, same machine: same rewards; absent: drawn and written to training.log"),
    "double_dqn": (False, "Double DQN targets (the online network picks the next action)"),
    "device": ("auto", "auto (metal, then cuda, then cpu), cpu, cuda or metal; $JAXDQN_DEVICE overrides"),
    "save_replay_buffer": (False, "also checkpoint the replay buffer, so a resumed run continues exactly"),
    "keep_checkpoints": (5, "how many of the newest checkpoints to keep"),
    "checkpoint_every": (100, "episodes between checkpoints (and lines in training.log)"),
    "num_envs": (1, "games played in lockstep with one batched action choice per step; 1 = the reference"),
    "num_seeds": (1, "independent agents trained side by side in one program, one seed each (JAX games only)"),
}
TRAINING_DEFAULTS = {k: v for k, (v, _) in TRAINING_KEYS.items()}
SECTIONS = ("game", "metadata", "preprocessing", "model", "training", "distributed")

# [distributed]: more devices and machines for the compiled loop (JAX games only).
DISTRIBUTED_KEYS: dict[str, tuple[Any, str]] = {
    "devices": (1, 'devices to train on, across every process: a number, or "all"'),
    "data_parallel": (1, "devices each agent is split over (its games, replay and batch); 1: none"),
    "coordinator": (None, '"host:port" of process 0 for training on several machines, or "slurm"'),
    "num_processes": (None, "how many processes (one per machine) take part; with coordinator"),
}
DISTRIBUTED_DEFAULTS = {k: v for k, (v, _) in DISTRIBUTED_KEYS.items()}
GAME_KEYS = ("module", "path", "factory")

def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate_training(training: dict) -> list[Problem]:
    problems: list[Problem] = []

    def bad(key, what, why, fix):
        problems.append(Problem(f"training.{key}", what, why, fix))

    problems.extend(unknown_keys(training, TRAINING_KEYS, "training", "training setting"))
    hp = {**TRAINING_DEFAULTS, **training}
    if not (_num(hp["learning_rate"]) and hp["learning_rate"] > 0):
        bad("learning_rate", f"{hp['learning_rate']!r} is not a positive number",
            "it scales every weight update; typical values are 1e-5 to 1e-2", "learning_rate = 0.0001")
    for key in ("learning_rate_decay", "gamma", "epsilon_decay"):
        if not (_num(hp[key]) and 0 < hp[key] <= 1):
            bad(key, f"{hp[key]!r} is not in (0, 1]", TRAINING_KEYS[key][1], f"{key} = {TRAINING_DEFAULTS[key]}")
    for key in ("epsilon", "epsilon_min"):
        if not (_num(hp[key]) and 0 <= hp[key] <= 1):
            bad(key, f"{hp[key]!r} is not a probability in [0, 1]", TRAINING_KEYS[key][1],
                f"{key} = {TRAINING_DEFAULTS[key]}")
    if (_num(hp["epsilon"]) and _num(hp["epsilon_min"]) and 0 <= hp["epsilon"] <= 1
            and hp["epsilon_min"] > hp["epsilon"]):
        bad("epsilon_min", f"{hp['epsilon_min']} is above epsilon = {hp['epsilon']}",
            "epsilon decays towards epsilon_min, so the floor cannot be above the start",
            "epsilon = 1.0 and epsilon_min = 0.05")
    for key in ("batch_size", "memory_capacity", "target_update_freq", "train_every", "training_episodes",
                "max_turns_per_episode", "keep_checkpoints", "checkpoint_every", "num_envs", "num_seeds"):
        if not (is_int(hp[key]) and hp[key] > 0):
            bad(key, f"{hp[key]!r} is not a positive whole number", TRAINING_KEYS[key][1],
                f"{key} = {TRAINING_DEFAULTS[key]}")
    if not (is_int(hp["exploration_turns"]) and hp["exploration_turns"] >= 0):
        bad("exploration_turns", f"{hp['exploration_turns']!r} is not a whole number >= 0",
            TRAINING_KEYS["exploration_turns"][1], "exploration_turns = 200")
    for key in ("prioritize_experiences", "double_dqn", "save_replay_buffer"):
        if not isinstance(hp[key], bool):
            bad(key, f"{hp[key]!r} is not true or false", TRAINING_KEYS[key][1],
                f"{key} = {str(TRAINING_DEFAULTS[key]).lower()}")
    if hp["unknown_character_strategy"] not in UNKNOWN_STRATEGIES:
        bad("unknown_character_strategy", f"{hp['unknown_character_strategy']!r} is not 'ignore' or 'error'",
            TRAINING_KEYS["unknown_character_strategy"][1], 'unknown_character_strategy = "ignore"')
    if hp["seed"] is not None and not (is_int(hp["seed"]) and 0 <= hp["seed"] < 2**63):
        bad("seed", f"{hp['seed']!r} is not a whole number >= 0", "it seeds every random choice of the run",
            "seed = 1")
    if hp["device"] not in DEVICE_CHOICES:
        bad("device", f"{hp['device']!r} is not one of {', '.join(DEVICE_CHOICES)}",
            TRAINING_KEYS["device"][1], 'device = "auto"')
    if is_int(hp["batch_size"]) and is_int(hp["memory_capacity"]) and 0 < hp["memory_capacity"] < hp["batch_size"]:
        bad("batch_size", f"{hp['batch_size']} is larger than memory_capacity = {hp['memory_capacity']}",
            "each gradient step samples batch_size transitions from the replay buffer",
            f"memory_capacity = {max(100 * hp['batch_size'], TRAINING_DEFAULTS['memory_capacity'])}")
    return problems


def validate_model(model: dict) -> list[Problem]:
    problems = unknown_keys(model, MODEL_DEFAULTS, "model", "model setting")
    sizes = model.get("hidden_sizes", MODEL_DEFAULTS["hidden_sizes"])
    if not (isinstance(sizes, list | tuple) and sizes and all(is_int(s) and s > 0 for s in sizes)):
        problems.append(Problem("model.hidden_sizes", f"{sizes!r} is not a non-empty list of positive integers",
                                "one number per hidden layer: its count of units", "hidden_sizes = [128, 64]"))
    network = model.get("network")
    if isinstance(network, str):
        if network.count(":") != 1 or not all(network.split(":")):
            problems.append(Problem("model.network", f"{network!r} is not of the form \"package.module:attribute\"",
                                    "it names a flax module (or a function of the NetworkSpec that returns one)",
                                    'network = "my_networks:dueling"  (or remove it for the built-in network)'))
    elif network is not None and not callable(network):
        problems.append(Problem("model.network", f"{network!r} is not a flax module",
                                "it maps a batch of observations to Q-values", "pass a flax.linen.Module"))
    return problems


def validate_distributed(dist: dict, training: dict) -> list[Problem]:
    problems = unknown_keys(dist, DISTRIBUTED_KEYS, "distributed", "distributed setting")
    d = {**DISTRIBUTED_DEFAULTS, **dist}

    def bad(key, what, why, fix):
        problems.append(Problem(f"distributed.{key}", what, why, fix))

    devices, data = d["devices"], d["data_parallel"]
    if not (devices == "all" or (is_int(devices) and devices > 0)):
        bad("devices", f"{devices!r} is not a positive whole number or \"all\"", DISTRIBUTED_KEYS["devices"][1],
            'devices = "all"')
    if not (is_int(data) and data > 0):
        bad("data_parallel", f"{data!r} is not a positive whole number", DISTRIBUTED_KEYS["data_parallel"][1],
            "data_parallel = 1")
    elif is_int(devices) and devices % data:
        bad("data_parallel", f"{data} does not divide devices = {devices}",
            "the devices form groups of data_parallel, one group per share of the agents",
            f"devices = {data * max(1, devices // data)}")
    if is_int(data) and data > 1:
        hp = {**TRAINING_DEFAULTS, **training}
        for key in ("num_envs", "batch_size", "memory_capacity"):
            if is_int(hp[key]) and hp[key] % data:
                problems.append(Problem(f"training.{key}", f"{hp[key]} is not a multiple of data_parallel = {data}",
                                        "each of an agent's devices holds an equal share of it",
                                        f"{key} = {data * max(1, hp[key] // data)}"))
    coordinator, processes = d["coordinator"], d["num_processes"]
    if coordinator is not None and not (isinstance(coordinator, str) and (coordinator == "slurm"
                                                                          or coordinator.count(":") == 1)):
        bad("coordinator", f"{coordinator!r} is not \"host:port\" or \"slurm\"", DISTRIBUTED_KEYS["coordinator"][1],
            'coordinator = "10.0.0.1:1234"')
    if coordinator not in (None, "slurm") and not (is_int(processes) and processes > 0):
        bad("num_processes", f"is {processes!r}; a coordinator needs the number of processes",
            "every process waits at the coordinator until all of them have joined", "num_processes = 2")
    return problems


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

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def hyperparams(self) -> dict:
        return {**self.model, **self.training}


def read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JaxdqnError(
            f"{path} does not exist. Create a run with: jaxdqn create GAME {path.parent} "
            f"(or copy runs/snake/config.toml there).") from None
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
            problems.append(Problem("game.module", f"{module!r} cannot be imported ({exc.__cause__ or exc})",
                                    "the trainer builds every episode's game from this module",
                                    "check the spelling; for a game that is not installed set path to the "
                                    'folder that contains it, e.g. path = "../games"'))
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
    asks_more = {**DISTRIBUTED_DEFAULTS, **section["distributed"]}
    if jax_game is None and module_ok and (asks_more["devices"] != 1 or asks_more["coordinator"] is not None):
        problems.append(Problem("distributed", "asks for more devices or machines for a retro game",
                                "a retro game runs in Python, one step at a time on one machine; devices and "
                                "machines share one compiled program, which needs the game written in JAX",
                                "remove [distributed], or train a JAX game (module = \"jaxdqn.jaxgames.snake\"); "
                                "for more throughput with a retro game raise num_envs"))
    if jax_game is None and module_ok and section["training"].get("num_seeds", 1) != 1:
        problems.append(Problem("training.num_seeds", f"is {section['training']['num_seeds']!r} for a retro game",
                                "agents side by side in one program need the game written in JAX; a retro game "
                                "runs in Python, one step at a time",
                                "remove num_seeds (or train a JAX game, e.g. module = \"jaxdqn.jaxgames.snake\"), "
                                "and run several copies of the run directory instead"))
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
    return problems
